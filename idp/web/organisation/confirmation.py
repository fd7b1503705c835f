"""A question before an action with consequences ("Yes, suspend Tom Teacher" / "Cancel"), as
the guide has it ("click Yes"): without JavaScript, and nothing changes until it is answered.

A view that acts on POST first asks ``confirmed()``; until the form comes from the question's
own page (which sends ``confirm=yes`` with its CSRF token), it answers with ``ask(...)``, the
question, and changes nothing. The first click may be a GET of the same address, or a POST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request

FIELD = "confirm"


@dataclass(frozen=True)
class Question:
    """What the page asks: a title ("Suspend Tom Teacher?"), what will happen, one sentence
    each, and the words of the button that does it ("Yes, suspend Tom Teacher")."""

    title: str
    consequences: list[str]
    yes: str
    warning: bool = True  # the button looks like a warning (suspend, delete)
    hidden: dict[str, str] = field(default_factory=dict)  # more fields the action needs


def confirmed() -> bool:
    """Whether this request answers the question with Yes."""
    return request.method == "POST" and request.form.get(FIELD) == "yes"


def ask(question: Question, *, action: str, cancel: str, **context: Any) -> str:
    """The question's page (``templates/organisation/confirm.html``): Yes POSTs to ``action``,
    Cancel goes back to ``cancel``; ``context`` fills the page's header (``org``)."""
    return render_template(
        "organisation/confirm.html", question=question, action=action, cancel=cancel, **context
    )
