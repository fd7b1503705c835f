"""Work that waits for the response: inside a request, a callable handed to ``after_response``
runs once the response has been sent (``call_on_close``), so the person waits for neither a
mail server nor a relying party; outside a request (the CLI) it runs at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, g, has_request_context

log = logging.getLogger(__name__)
Task = Callable[[], object]


def after_response(task: Task) -> None:
    if has_request_context():
        g.setdefault("idp_deferred", []).append(task)
    else:
        _run([task])


def _run(tasks: list[Task]) -> None:
    for task in tasks:
        try:
            task()
        except Exception:  # noqa: BLE001 - one failed task must not stop the others
            log.exception("deferred task failed")


def install(app: Flask) -> None:
    @app.after_request
    def run_after_response(response: Any) -> Any:
        tasks = g.pop("idp_deferred", None)
        if tasks:
            response.call_on_close(lambda: _run(tasks))
        return response

    @app.teardown_request
    def run_leftovers(_exc: BaseException | None) -> None:
        # Work added after the response was built (or when none was): run it now.
        tasks = g.pop("idp_deferred", None)
        if tasks:
            _run(tasks)
