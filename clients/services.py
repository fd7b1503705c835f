"""The demo services and who may use them: one table (``SERVICES``) of name, client id,
colour, port, what each role means, which page each role sees and what the service keeps.
Every service is the same generic app (``clients.rp.create_rp_app``) configured from it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from typing import Any

from clients.rp import Backend, Service, View

Transfer = Callable[[Backend, str, str, str], str | None]


def _roles(user: dict[str, Any]) -> set[str]:
    return set(user.get("roles") or [])


def _org(user: dict[str, Any]) -> dict[str, str]:
    return user.get("org") or {"code": "–", "name": "no organisation"}


def _refuse(reason: str) -> View:
    """A refusal that says why (the page links back to the provider's home page)."""
    return View("no_access.html", {"reason": reason}, 403)


def _seed(org_code: str, sub: str) -> int:
    return int(hashlib.sha256(f"{org_code}{sub}".encode()).hexdigest(), 16)


def _colleague_transfer(service: str) -> Transfer:
    """Moving what a person keeps to someone else who uses ``service`` at the same centre:
    the provider's API lists exactly those people (the centre's members holding a role for
    this client's services), so anyone else, or anyone at another centre, is refused."""

    def transfer(backend: Backend, org: str, sub: str, to: str) -> str | None:
        people = backend.api.people(org)
        if people is None:
            return "the list of the centre's people could not be fetched; try again"
        recipient = next(
            (p for p in people if p["sub"] == to and p["sub"] != sub and p["status"] == "active"),
            None,
        )
        if recipient is None:
            return f"the recipient does not use {service} at this centre"
        backend.records.move(org, sub, to, recipient["name"])
        return None

    return transfer


# -- Submit for Assessment --------------------------------------------------------------


def _submissions(org_code: str, sub: str, name: str) -> list[dict[str, str]]:
    """Made-up, stable submissions for the demo: two per teacher, made at their first visit."""
    seed = _seed(org_code, sub)
    return [
        {
            "owner": sub,
            "teacher": name,
            "syllabus": ("0500 English", "0580 Mathematics", "0610 Biology")[(seed + n) % 3],
            "component": f"Component {(seed >> n) % 4 + 1}",
            "status": ("Draft", "Submitted", "Received")[(seed >> (n + 3)) % 3],
        }
        for n in range(2)
    ]


SFA_ROLES = {"sfa.exams_officer", "sfa.teacher"}


def submit_for_assessment(user: dict[str, Any], backend: Backend) -> View:
    org = _org(user)
    roles = _roles(user)
    if not roles & SFA_ROLES:
        return _refuse(
            "Submit for Assessment needs the role Submit for Assessment: Exams Officer or "
            "Teacher at your centre. Ask your exams officer."
        )
    if "sfa.teacher" in roles:
        backend.records.keep_once(
            org["code"],
            user["sub"],
            lambda: _submissions(org["code"], user["sub"], user["name"] or ""),
        )
    if "sfa.exams_officer" in roles:
        # The centre's teachers come from the provider's API (client_credentials).
        teachers = backend.api.people(org["code"], role="sfa.teacher")
        return View(
            "sfa.html",
            {
                "org": org,
                "submissions": backend.records.of_org(org["code"]),
                "officer": True,
                "teachers": teachers,
            },
        )
    return View(
        "sfa.html",
        {"org": org, "submissions": backend.records.of(org["code"], user["sub"]), "officer": False},
    )


def sfa_holds(backend: Backend, org: str, sub: str) -> str:
    count = len(backend.records.of(org, sub))
    return f"{count} submission{'s' if count != 1 else ''}" if count else ""


# -- the Cambridge Primary support site -----------------------------------------------------

PRIMARY_TEACHER, PRIMARY_ADMIN = "primary.teacher", "primary.admin"


def _groups(org_code: str, sub: str, name: str) -> list[dict[str, Any]]:
    """Made-up, stable Progression Test groups: three per teacher."""
    seed = _seed(org_code, sub)
    groups = []
    for n in range(3):
        stage = f"Stage {(seed >> n) % 4 + 3}"
        subject = ("English", "Mathematics", "Science")[(seed + n) % 3]
        groups.append(
            {
                "owner": sub,
                "teacher": name,
                "group": f"{stage} {('Blue', 'Green', 'Red', 'Yellow')[(seed + n) % 4]}",
                "test": f"Progression Test: {subject} {stage}",
                "learners": 18 + (seed >> (n + 5)) % 12,
            }
        )
    return groups


def _teachers_groups(backend: Backend, org: str) -> list[dict[str, Any]] | None:
    """The centre's groups. Its teachers (from the provider's API) have groups from before
    they first visited; None when the API cannot be asked."""
    teachers = backend.api.people(org, role=PRIMARY_TEACHER)
    if teachers is None:
        return None
    for teacher in teachers:
        backend.records.keep_once(
            org, teacher["sub"], partial(_groups, org, teacher["sub"], teacher["name"])
        )
    return backend.records.of_org(org)


def primary_support(user: dict[str, Any], backend: Backend) -> View:
    org = _org(user)
    roles = _roles(user)
    if not roles & {PRIMARY_TEACHER, PRIMARY_ADMIN}:
        return _refuse(
            "The Cambridge Primary support site needs the role Primary support site: Teacher "
            "or Administrator at your centre. Ask your exams officer."
        )
    code, sub = org["code"], user["sub"]
    if PRIMARY_TEACHER in roles:
        backend.records.keep_once(code, sub, lambda: _groups(code, sub, user["name"] or ""))
    if PRIMARY_ADMIN in roles:
        groups = _teachers_groups(backend, code)
        return View(
            "primary.html",
            {
                "org": org,
                "admin": True,
                "reachable": groups is not None,
                "groups": backend.records.of_org(code) if groups is None else groups,
            },
        )
    return View(
        "primary.html",
        {"org": org, "admin": False, "reachable": True, "groups": backend.records.of(code, sub)},
    )


def primary_holds(backend: Backend, org: str, sub: str) -> str | None:
    """A teacher's groups, including those of a teacher who never visited (the provider's
    API says who teaches there); None when the API cannot be asked: unknown is not nothing."""
    if _teachers_groups(backend, org) is None:
        return None
    count = len(backend.records.of(org, sub))
    return f"{count} Progression Test group{'s' if count != 1 else ''}" if count else ""


# -- the other services ----------------------------------------------------------------


def access_arrangements(user: dict[str, Any], backend: Backend) -> View:
    if "aa.nominated_user" in _roles(user):
        return View("aa.html", {"org": _org(user)})
    return _refuse(
        "Apply for Access Arrangements is for nominated users. Ask your exams officer for the "
        "role Access Arrangements Nominated User."
    )


def global_listening(user: dict[str, Any], backend: Backend) -> View:
    if "gl.exams_officer" in _roles(user):
        return View("gl.html", {"org": _org(user)})
    return _refuse(
        "Global Listening holds confidential exam audio: your centre's exams officer holds "
        "this service, and no one else at the centre can be given it."
    )


def ocr_interchange(user: dict[str, Any], backend: Backend) -> View:
    org = _org(user)
    if "ocr.interchange" in _roles(user):
        return View("ocr.html", {"org": org})
    return _refuse(
        f"OCR Interchange is for OCR centres: it needs the role OCR Interchange at the centre "
        f"you act for, and {org['code']} – {org['name']} gave you none. Ask your OCR centre's "
        "exams officer, or change organisation in My Cambridge if you work at an OCR centre."
    )


SERVICES = {
    "submit-for-assessment": Service(
        "submit_for_assessment",
        "Submit for Assessment",
        "submit-for-assessment",
        "#00703c",
        submit_for_assessment,
        port=5101,
        roles={
            "sfa.exams_officer": "Exams Officer: every submission of the centre",
            "sfa.teacher": "Teacher: your own submissions",
        },
        holds=sfa_holds,
        transfer=_colleague_transfer("Submit for Assessment"),
    ),
    "access-arrangements": Service(
        "access_arrangements",
        "Apply for Access Arrangements",
        "access-arrangements",
        "#4c2c92",
        access_arrangements,
        port=5102,
        roles={"aa.nominated_user": "Nominated User: access arrangement applications"},
    ),
    "global-listening": Service(
        "global_listening",
        "Global Listening",
        "global-listening",
        "#6f4e16",
        global_listening,
        port=5103,
        roles={"gl.exams_officer": "Exams Officer: confidential listening audio"},
    ),
    "primary-support": Service(
        "primary_support",
        "Cambridge Primary support site",
        "primary-support",
        "#005ea5",
        primary_support,
        port=5104,
        roles={
            PRIMARY_TEACHER: "Teacher: your own Progression Test groups",
            PRIMARY_ADMIN: "Administrator: every Progression Test group of the centre",
        },
        holds=primary_holds,
        transfer=_colleague_transfer("the Cambridge Primary support site"),
    ),
    "ocr-interchange": Service(
        "ocr_interchange",
        "OCR Interchange",
        "ocr-interchange",
        "#7a1f5c",  # a colour of its own, unlike the Cambridge International services
        ocr_interchange,
        port=5105,
        roles={"ocr.interchange": "OCR Interchange: entries and results for the centre"},
    ),
}
PORTS = {name: service.port for name, service in SERVICES.items()}
