"""The three demo services and who may use them."""

from __future__ import annotations

import hashlib
from typing import Any

from clients.rp import Backend, Service, View


def _roles(user: dict[str, Any]) -> set[str]:
    return set(user.get("roles") or [])


def _org(user: dict[str, Any]) -> dict[str, str]:
    return user.get("org") or {"code": "–", "name": "no organisation"}


def _submissions(org_code: str, sub: str, name: str) -> list[dict[str, str]]:
    """Made-up, stable submissions for the demo: two per teacher, made at their first visit."""
    seed = int(hashlib.sha256(f"{org_code}{sub}".encode()).hexdigest(), 16)
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
        return View(
            "no_access.html",
            {
                "reason": "Submit for Assessment needs the role Submit for Assessment: Exams "
                "Officer or Teacher at your centre. Ask your exams officer."
            },
            403,
        )
    if "sfa.teacher" in roles and not backend.records.of(org["code"], user["sub"]):
        backend.records.keep(
            org["code"], user["sub"], _submissions(org["code"], user["sub"], user["name"] or "")
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


def sfa_transfer(backend: Backend, org: str, sub: str, to: str) -> str | None:
    """Submissions go only to someone who uses Submit for Assessment at the same centre."""
    people = backend.api.people(org)
    if people is None:
        return "the list of the centre's teachers could not be fetched; try again"
    recipient = next((p for p in people if p["sub"] == to and p["status"] == "active"), None)
    if recipient is None:
        return "the recipient does not use Submit for Assessment at this centre"
    backend.records.move(org, sub, to, recipient["name"])
    return None


def access_arrangements(user: dict[str, Any], backend: Backend) -> View:
    if "aa.nominated_user" in _roles(user):
        return View("aa.html", {"org": _org(user)})
    return View(
        "no_access.html",
        {
            "reason": "Apply for Access Arrangements is for nominated users. Ask your exams "
            "officer for the role Access Arrangements Nominated User."
        },
        403,
    )


def global_listening(user: dict[str, Any], backend: Backend) -> View:
    if "gl.exams_officer" in _roles(user):
        return View("gl.html", {"org": _org(user)})
    return View(
        "no_access.html",
        {
            "reason": "Global Listening holds confidential exam audio: your centre's exams officer "
            "holds this service, and no one else at the centre can be given it."
        },
        403,
    )


SERVICES = {
    "submit-for-assessment": Service(
        "submit_for_assessment",
        "Submit for Assessment",
        "submit-for-assessment",
        "#00703c",
        submit_for_assessment,
        holds=sfa_holds,
        transfer=sfa_transfer,
    ),
    "access-arrangements": Service(
        "access_arrangements",
        "Apply for Access Arrangements",
        "access-arrangements",
        "#4c2c92",
        access_arrangements,
    ),
    "global-listening": Service(
        "global_listening", "Global Listening", "global-listening", "#6f4e16", global_listening
    ),
}
PORTS = {"submit-for-assessment": 5101, "access-arrangements": 5102, "global-listening": 5103}
