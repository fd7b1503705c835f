"""The three demo services and who may use them."""

from __future__ import annotations

import hashlib
from typing import Any

from clients.rp import Service, View


def _roles(user: dict[str, Any]) -> set[str]:
    return set(user.get("roles") or [])


def _org(user: dict[str, Any]) -> dict[str, str]:
    return user.get("org") or {"code": "–", "name": "no organisation"}


def _submissions(org_code: str, teachers: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Made-up, stable submissions for the demo: a few per teacher."""
    rows = []
    for sub, name in teachers:
        seed = int(hashlib.sha256(f"{org_code}{sub}".encode()).hexdigest(), 16)
        for n in range(2):
            rows.append(
                {
                    "owner": sub,
                    "teacher": name,
                    "syllabus": ("0500 English", "0580 Mathematics", "0610 Biology")[
                        (seed + n) % 3
                    ],
                    "component": f"Component {(seed >> n) % 4 + 1}",
                    "status": ("Draft", "Submitted", "Received")[(seed >> (n + 3)) % 3],
                }
            )
    return rows


def submit_for_assessment(user: dict[str, Any]) -> View:
    org = _org(user)
    colleagues = [(user["sub"], user.get("name") or "You"), ("u_demo_other", "A colleague")]
    every = _submissions(org["code"], colleagues)
    if "sfa.exams_officer" in _roles(user):
        return View("sfa.html", {"org": org, "submissions": every, "officer": True})
    if "sfa.teacher" in _roles(user):
        mine = [s for s in every if s["owner"] == user["sub"]]
        return View("sfa.html", {"org": org, "submissions": mine, "officer": False})
    return View(
        "no_access.html",
        {
            "reason": "Submit for Assessment needs the role Submit for Assessment: Exams Officer "
            "or Teacher at your centre. Ask your exams officer."
        },
        403,
    )


def access_arrangements(user: dict[str, Any]) -> View:
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


def global_listening(user: dict[str, Any]) -> View:
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
