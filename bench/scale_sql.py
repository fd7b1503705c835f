"""EXPLAIN (ANALYZE, BUFFERS) of the statements the heaviest pages run, at the big size.

The pages are requested in-process (Flask's test client, the server's own configuration),
every statement they send is recorded with its parameters, and each is explained by
PostgreSQL with the same parameters; the slowest of each page are kept. The plans are those of
the SQL the pages really run, not of a copy of it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event

from bench.population import Population

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
NEXT_RE = re.compile(r'<a href="([^"]+)" rel="next"')
PER_PAGE = 2  # statements explained per page


def heavy_pages(pop: Population) -> dict[str, str]:
    centre = f"/organisation/{pop.large_centre}"
    return {
        "users list": f"{centre}/users",
        "users search 'smith'": f"{centre}/users?q=smith",
        "users last page": f"{centre}/users?page=1000",
        "users role sfa.teacher": f"{centre}/users?role=sfa.teacher",
        "audit log page 1": f"{centre}/audit",
        "audit log page 10": "",  # found by following "Older" from page 1
        "audit log last page": f"{centre}/audit?page=100000",
        "change organisation": "/change-organisation",
    }


def explain(env: dict[str, str], pop: Population) -> dict[str, list[str]]:
    """The plans, by page: each statement the page sends is explained (ANALYZE runs it), and
    the slowest ``PER_PAGE`` by execution time are kept."""
    import html

    from bench.scale import environment
    from idp import create_app
    from idp.extensions import db

    with environment(env):
        app = create_app()
    captured: list[tuple[str, Any]] = []
    plans: dict[str, list[str]] = {}
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "after_cursor_execute")
        def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            captured.append((statement, params))

    officer = _signed_in(app, pop.officer_email, pop.password)
    associate = _signed_in(app, pop.associate_officer_email, pop.password)
    pages = heavy_pages(pop)
    target = f"/organisation/{pop.large_centre}/audit"
    for _ in range(9):
        found = NEXT_RE.search(officer.get(target).get_data(as_text=True))
        if not found:
            break
        target = html.unescape(found.group(1))
    pages["audit log page 10"] = target
    for name, path in pages.items():
        client = associate if name == "change organisation" else officer
        client.get(path)  # warm the caches, as the measured pages are
        captured.clear()
        response = client.get(path)
        if response.status_code != 200:
            plans[name] = [f"GET {path}: {response.status_code}"]
            continue
        distinct: dict[str, Any] = {}
        for statement, params in captured:
            distinct.setdefault(statement, params)
        explained = []
        with app.app_context():
            for statement, params in distinct.items():
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue  # the session's bookkeeping (last seen): not the page's query
                with db.engine.connect() as conn:
                    rows = conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, params
                    ).all()
                    conn.rollback()
                plan = [str(r[0]) for r in rows]
                took = next(
                    (float(line.split()[2]) for line in plan if line.startswith("Execution Time")),
                    0.0,
                )
                explained.append((took, statement, plan))
        explained.sort(key=lambda e: e[0], reverse=True)
        lines = [f"GET {path}: {len(distinct)} statements; the slowest {PER_PAGE}:"]
        for took, statement, plan in explained[:PER_PAGE]:
            lines.append(f"-- {took:.2f} ms: {_one_line(statement)}")
            lines.extend(plan)
        plans[name] = lines
    with app.app_context():
        db.engine.dispose()
    return plans


def _one_line(statement: str, limit: int = 300) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= limit else text[:limit] + " …"


def _signed_in(app: Any, email: str, password: str) -> Any:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = CSRF_RE.search(page)
    assert token is not None, "no CSRF token on the sign-in page"
    response = client.post(
        "/login", data={"csrf_token": token.group(1), "email": email, "password": password}
    )
    assert response.status_code == 302, response.status_code
    return client
