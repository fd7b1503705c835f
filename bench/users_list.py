"""My Organisation's users list at scale: one organisation of 10,000 people.

    .venv/bin/python bench/users_list.py [--users 10000] [--database-url postgresql://...]

Seeds a fresh database (a temporary SQLite file, or the empty database given) through the
real migrations, signs an exams officer in, and times whole page requests in-process (session
load, the count and page queries, the roles of the page, the template) for the first page,
a deep page, a search, a sort by email, a status filter and a role filter. Prints the median
and worst of several runs of each, in milliseconds. Target: under 100 ms a page.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idp import create_app  # noqa: E402
from idp.cli import upgrade_schema  # noqa: E402
from idp.domain import catalogue as catalogue_sync  # noqa: E402
from idp.domain import organisations, users  # noqa: E402
from idp.extensions import db  # noqa: E402
from idp.models import EmailAddress, Membership, RoleRow, User, membership_roles  # noqa: E402
from idp.security import new_subject, passwords  # noqa: E402

PASSWORD = "measured users list"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FIRST = ["Anna", "Ben", "Chloe", "David", "Ella", "Farid", "Grace", "Hugo", "Isla", "Jack"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel"]


def seed(count: int, catalogue: Any) -> None:
    org = organisations.create(
        code="BX100", name="Bench Centre", brand="cambridge-international", catalogue=catalogue
    )
    officer = users.create(
        email="officer@bench.example", given_name="Olga", family_name="Officer", password=PASSWORD
    )
    organisations.set_exams_officer(org, officer, catalogue)
    db.session.flush()
    hashed = passwords().hash(PASSWORD)
    roles = {r.key for r in db.session.scalars(select(RoleRow))}
    teacher, nominated = "sfa.teacher", "aa.nominated_user"
    assert {teacher, nominated} <= roles
    batch = 2000
    for start in range(0, count, batch):
        rows = range(start, min(start + batch, count))
        user_ids = (
            db.session.execute(
                insert(User).returning(User.id),
                [
                    {
                        "sub": new_subject(),
                        "given_name": FIRST[i % len(FIRST)],
                        "family_name": f"{LAST[i % len(LAST)]}{i}",
                        "password_hash": hashed,
                        "status": ("active", "active", "invited", "suspended")[i % 4],
                        "origin": "invitation",
                    }
                    for i in rows
                ],
            )
            .scalars()
            .all()
        )
        db.session.execute(
            insert(EmailAddress),
            [
                {"user_id": uid, "address": f"person{i}@bench.example", "is_primary": True}
                for uid, i in zip(user_ids, rows, strict=True)
            ],
        )
        member_ids = (
            db.session.execute(
                insert(Membership).returning(Membership.id),
                [{"user_id": uid, "organisation_id": org.id} for uid in user_ids],
            )
            .scalars()
            .all()
        )
        db.session.execute(
            insert(membership_roles),
            [
                {"membership_id": mid, "role_key": teacher if n % 3 else nominated}
                for n, mid in enumerate(member_ids)
            ],
        )
    db.session.commit()


PAGES = {
    "first page": "/organisation/BX100/users",
    "page 300 of 667": "/organisation/BX100/users?page=300",
    "search 'smith12'": "/organisation/BX100/users?q=smith12",
    "sort by email, desc": "/organisation/BX100/users?sort=email&dir=desc",
    "status suspended": "/organisation/BX100/users?status=suspended",
    "role filter, 100 rows": "/organisation/BX100/users?role=aa.nominated_user&per_page=100",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/users-list.sqlite3"
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench-secret-key-of-a-reasonable-length-123456",
                "DATABASE_URL": url,
                "INSTANCE_DIR": tmp,
                "OIDC": {"KEYS_DIR": f"{tmp}/keys"},
                "AUTH": {"NEW_DEVICE_VERIFICATION": "never"},
                "MAIL": {"OUTBOX_DIR": f"{tmp}/outbox"},
            }
        )
        with app.app_context():
            upgrade_schema()
            catalogue = app.extensions["idp.settings"].catalogue
            catalogue_sync.sync(catalogue)
            db.session.commit()
            started = time.perf_counter()
            seed(args.users, catalogue)
            if db.engine.dialect.name == "postgresql":
                # What autovacuum does within a minute of such a load: planner statistics.
                with db.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                        text("ANALYZE")
                    )
            print(
                f"seeded {args.users:,} users in {time.perf_counter() - started:.1f} s "
                f"({db.engine.dialect.name})",
                file=sys.stderr,
            )
            db.session.remove()
        client = app.test_client()
        page = client.get("/login")
        token = CSRF_RE.search(page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
        response = client.post(
            "/login",
            data={"csrf_token": token, "email": "officer@bench.example", "password": PASSWORD},
        )
        assert response.status_code == 302, response.status_code
        print(f"{'page':<24} {'median ms':>10} {'worst ms':>10}  rows shown")
        worst_median = 0.0
        for label, path in PAGES.items():
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            html = response.get_data(as_text=True)
            shown = re.search(r"(\d[\d,]*–\d[\d,]* of \d[\d,]*)", html)
            median = statistics.median(times)
            worst_median = max(worst_median, median)
            rows = shown.group(1) if shown else "?"
            print(f"{label:<24} {median:>10.1f} {max(times):>10.1f}  {rows}")
        print(f"slowest median: {worst_median:.1f} ms (target < 100 ms)")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
