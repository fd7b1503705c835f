"""A realistic exam-board population for the scale benchmark, loaded in bulk.

Centres of 50–300 members (one large centre of ``Shape.measured_size`` that the benchmark
measures), mostly Cambridge International and some OCR; 40 Cambridge Associates, one of which
manages 200 associate centres; every centre with a named exams officer holding User
Management; members with catalogue roles, mixed statuses, about 5 % of them in two centres
(memberships and their periods); a second email address for about 5 %; audit events over two
years (members' sign-ins, and what happened at each centre); tokens of one client issued over
100 days, the older 69 % expired. Everyone shares one password hash, hashed once.

The rows come from one deterministic generator (``rows``), written with PostgreSQL's COPY
(``load_postgresql``) or with ``executemany`` in large transactions on SQLite
(``load_sqlite``). The schema must already exist (the project's migrations) and the client
the tokens belong to must already be registered.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PASSWORD = "measured at scale 0123"
FIRST = (
    "Anna Ben Chloe David Ella Farid Grace Hugo Isla Jack Kemi Liam Maya Noah Olga Priya Quinn "
    "Rosa Sam Tara Umar Vera Wei Xena Yusuf Zara Amir Bella Carlos Dina Emil Fatima George "
    "Hana Ivan Julia Kofi Lena Mateo Nina"
).split()
LAST = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Robinson Wright Thompson "
    "Evans Walker White Roberts Green Hall Wood Jackson Clarke Khan Lewis Harris Martin Cooper "
    "King Lee Baker Hill Moore Ward Morris Turner Garcia Chen Singh Okafor Novak Rossi"
).split()
CI, OCR = "cambridge-international", "ocr"
# Roles a centre gives its members, and how often (User Management aside, see below).
MEMBER_ROLES = {
    CI: (
        ("sfa.teacher", 40),
        ("aa.nominated_user", 15),
        ("ssh.teacher", 15),
        ("primary.teacher", 10),
        ("lowersec.teacher", 10),
        ("sfa.exams_officer", 4),
        ("ssh.admin", 3),
        ("primary.admin", 2),
        ("lowersec.admin", 1),
    ),
    OCR: (("ocr.interchange", 1),),
}
MANAGEMENT = {CI: "user_management", OCR: "ocr.user_management"}
OFFICER_ROLES = {CI: ("sfa.exams_officer", "gl.exams_officer"), OCR: ("ocr.interchange",)}
CENTRE_ACTIONS = (
    "user.invited",
    "management.roles_changed",
    "management.roles_changed",
    "membership.roles_set",
    "management.user_suspended",
    "management.user_restored",
    "management.password_reset_sent",
    "management.users_downloaded",
)
OWN_ACTIONS = ("sign_in.succeeded",) * 90 + ("sign_in.failed",) * 9 + ("sign_in.throttled",)
SCOPE = "openid profile email roles"


@dataclass(frozen=True)
class Shape:
    """How big a population to make."""

    users: int
    centres: int
    events: int
    tokens: int
    measured_size: int = 300  # members of the centre the benchmark measures
    associates: int = 40  # Cambridge Associates
    big_associate_centres: int = 200  # associate centres of the first one
    seed: int = 22

    def __post_init__(self) -> None:
        needed = 2 + self.big_associate_centres
        if self.centres < needed:
            raise ValueError(f"at least {needed} centres are needed")
        if self.users < self.measured_size + self.centres:
            raise ValueError("too few users for the centres")


@dataclass
class Population:
    """What the benchmark needs to know about a loaded population."""

    password: str
    large_centre: str  # centre number of the measured centre
    officer_email: str  # its exams officer
    associate_officer_email: str  # the officer of the Associate with 200 associate centres
    operator_email: str
    member_emails: list[str]  # active members of the large centre, to sign in as
    member_subs: list[str]  # some of its members, for the "view user" page
    counts: dict[str, int] = field(default_factory=dict)


def subject(seed: int, user_id: int) -> str:
    """The subject identifier of user ``user_id``: the shape of ``idp.security.new_subject``
    ("u_" and 22 URL-safe characters), derived so that nothing needs to be kept in memory."""
    digest = hashlib.blake2b(user_id.to_bytes(8, "big"), digest_size=16, key=b"%d" % seed)
    return "u_" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def centre_sizes(shape: Shape, rng: random.Random) -> list[int]:
    """Primary members per centre: the measured centre first, the others 50–300 (a triangular
    spread whose mean makes the total ``shape.users``; proportional shares when the mean is far
    outside that range, as in a small population), at least one each."""
    rest, count = shape.users - shape.measured_size, shape.centres - 1
    mean = rest / count
    if 134 <= mean <= 216:
        raw = [rng.triangular(50, 300, 3 * mean - 350) for _ in range(count)]
    else:
        raw = [rng.uniform(50, 300) for _ in range(count)]
    scale = rest / sum(raw)
    sizes = [max(1, int(r * scale)) for r in raw]
    while (gap := rest - sum(sizes)) != 0:
        i = rng.randrange(count)
        if gap > 0:
            sizes[i] += 1
        elif sizes[i] > 1:
            sizes[i] -= 1
    return [shape.measured_size, *sizes]


@dataclass
class Plan:
    """The centres: their sizes, brands, Associates, first user ids and officers."""

    shape: Shape
    sizes: list[int]
    brands: list[str]
    parents: list[int | None]  # centre index of the managing Associate
    associates: set[int]  # centre indexes of the Cambridge Associates
    first_user: list[int]  # user id of each centre's first primary member (its officer)
    centre_of: Callable[[int], int]  # user id -> centre index of the primary membership

    @property
    def codes(self) -> list[str]:
        return [centre_code(i) for i in range(len(self.sizes))]


def centre_code(index: int) -> str:
    return f"SC{index:05d}"


def plan(shape: Shape) -> Plan:
    rng = random.Random(shape.seed)
    sizes = centre_sizes(shape, rng)
    count = len(sizes)
    parents: list[int | None] = [None] * count
    # Centre 1 is the Associate with many associate centres (2 .. 201); the other Associates
    # follow, each managing a few of the centres after them.
    associate_ids = [1]
    for i in range(2, 2 + shape.big_associate_centres):
        parents[i] = 1
    nxt = 2 + shape.big_associate_centres
    for _ in range(shape.associates - 1):
        if nxt >= count:
            break
        associate = nxt
        associate_ids.append(associate)
        nxt += 1
        for _ in range(rng.randint(1, 8)):
            if nxt >= count:
                break
            parents[nxt] = associate
            nxt += 1
    managed = set(associate_ids) | {i for i, p in enumerate(parents) if p is not None}
    brands = [CI if i == 0 or i in managed or rng.random() < 0.9 else OCR for i in range(count)]
    first_user, start = [], 1
    for size in sizes:
        first_user.append(start)
        start += size

    def centre_of(user_id: int) -> int:
        return bisect.bisect_right(first_user, user_id) - 1

    return Plan(shape, sizes, brands, parents, set(associate_ids), first_user, centre_of)


def email_of(user_id: int, given: str, family: str) -> str:
    return f"{given}.{family}.{user_id}@school.example".lower()


def names_of(user_id: int) -> tuple[str, str]:
    mixed = (user_id * 2654435761) % 2**32  # spread neighbours across the name lists
    return FIRST[mixed % len(FIRST)], LAST[(mixed // len(FIRST)) % len(LAST)]


Row = tuple[Any, ...]
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "organisations": ("id", "code", "name", "brand", "parent_id", "exams_officer_id", "created_at"),
    "users": (
        "id",
        "sub",
        "given_name",
        "family_name",
        "password_hash",
        "status",
        "origin",
        "must_change_password",
        "staff_role",
        "created_at",
        "updated_at",
        "last_sign_in_at",
        "locale",
    ),
    "email_addresses": ("id", "user_id", "address", "is_primary", "verified_at", "created_at"),
    "memberships": ("id", "user_id", "organisation_id", "created_at", "suspended_at"),
    "membership_roles": ("membership_id", "role_key"),
    "membership_periods": ("id", "user_id", "organisation_id", "started_at", "ended_at"),
    # No id: the events the migrations and the CLI recorded already hold the first ones.
    "audit_events": (
        "at",
        "actor_user_id",
        "actor",
        "action",
        "target_type",
        "target_id",
        "organisation_id",
        "ip",
        "details",
    ),
    "tokens": (
        "id",
        "family_id",
        "client_id",
        "user_id",
        "sid",
        "organisation_id",
        "scope",
        "access_token_hash",
        "refresh_token_hash",
        "issued_at",
        "access_expires_at",
        "refresh_expires_at",
        "auth_time",
        "amr",
    ),
}


class Generator:
    """Every row of a population, table by table (organisations need their officers' ids, and
    users come first, so the foreign keys hold as soon as the load ends)."""

    def __init__(self, shape: Shape, password_hash: str, client_id: str, now: datetime) -> None:
        self.shape = shape
        self.plan = plan(shape)
        self.password_hash = password_hash
        self.client_id = client_id
        self.now = now
        self.second_centre: dict[int, int] = {}  # user id -> centre index of a 2nd membership
        rng = random.Random(shape.seed + 1)
        # user id -> 0 active, 1 invited, 2 suspended (user ids start at 1)
        self.statuses = bytearray([0])
        for _ in range(shape.users):
            roll = rng.random()
            self.statuses.append(0 if roll < 0.86 else 1 if roll < 0.95 else 2)
        for first in self.plan.first_user:
            self.statuses[first] = 0  # officers are active
        self.operator_id = self.plan.first_user[0] + 1  # a member of the large centre
        self.statuses[self.operator_id] = 0
        count = len(self.plan.sizes)
        for user_id in rng.sample(range(1, shape.users + 1), shape.users // 20):
            other = rng.randrange(count)
            if other != self.plan.centre_of(user_id):
                self.second_centre[user_id] = other

    # -- helpers --------------------------------------------------------------------------

    def sub(self, user_id: int) -> str:
        return subject(self.shape.seed, user_id)

    def ago(self, rng: random.Random, low_days: float, high_days: float) -> datetime:
        return self.now - timedelta(days=rng.uniform(low_days, high_days))

    def joined_at(self, user_id: int, centre: int) -> datetime:
        """When the membership began: most people joined two to four years ago."""
        mixed = ((user_id * 2654435761) ^ (centre * 40503)) % 1_000_003 / 1_000_003
        days = 730 + mixed / 0.8 * 730 if mixed < 0.8 else 1 + (mixed - 0.8) / 0.2 * 729
        return self.now - timedelta(days=days)

    # -- tables ---------------------------------------------------------------------------

    def users(self) -> Iterator[Row]:
        rng = random.Random(self.shape.seed + 2)
        status_names = ("active", "invited", "suspended")
        for user_id in range(1, self.shape.users + 1):
            given, family = names_of(user_id)
            created = self.ago(rng, 30, 1500)
            status = status_names[self.statuses[user_id]]
            signed_in = self.ago(rng, 0, 60) if status == "active" else None
            yield (
                user_id,
                self.sub(user_id),
                given,
                family,
                self.password_hash,
                status,
                "invitation",
                False,
                "operator" if user_id == self.operator_id else None,
                created,
                created,
                signed_in,
                "en" if signed_in else None,
            )

    def organisations(self) -> Iterator[Row]:
        p = self.plan
        for i, (brand, parent) in enumerate(zip(p.brands, p.parents, strict=True)):
            kind = "Associate" if i in p.associates else "Centre"
            created = self.now - timedelta(days=1500 + i % 300)
            yield (
                i + 1,
                centre_code(i),
                f"{kind} {i} {LAST[i % len(LAST)]} School",
                brand,
                parent + 1 if parent is not None else None,
                p.first_user[i],
                created,
            )

    def email_addresses(self) -> Iterator[Row]:
        rng = random.Random(self.shape.seed + 3)
        next_id = 1
        for user_id in range(1, self.shape.users + 1):
            given, family = names_of(user_id)
            verified = self.ago(rng, 30, 1400) if self.statuses[user_id] != 1 else None
            created = verified or self.ago(rng, 1, 60)
            yield (next_id, user_id, email_of(user_id, given, family), True, verified, created)
            next_id += 1
            if user_id % 20 == 7:  # about 5 % have a second address
                address = f"{given}{user_id}@home.example".lower()
                yield (next_id, user_id, address, False, verified, created)
                next_id += 1

    def _memberships(self) -> Iterator[tuple[int, int, int]]:
        """(membership id, user id, centre index) of every membership."""
        membership_id = 1
        for user_id in range(1, self.shape.users + 1):
            yield membership_id, user_id, self.plan.centre_of(user_id)
            membership_id += 1
            if (other := self.second_centre.get(user_id)) is not None:
                yield membership_id, user_id, other
                membership_id += 1

    def memberships(self) -> Iterator[Row]:
        rng = random.Random(self.shape.seed + 4)
        officers = set(self.plan.first_user)
        for membership_id, user_id, centre in self._memberships():
            joined = self.joined_at(user_id, centre)
            suspended = None
            if user_id not in officers and rng.random() < 0.02:
                suspended = self.ago(rng, 1, 300)
            yield (membership_id, user_id, centre + 1, joined, suspended)

    def membership_roles(self) -> Iterator[Row]:
        rng = random.Random(self.shape.seed + 5)
        weighted = {
            brand: ([k for k, _ in roles], [w for _, w in roles])
            for brand, roles in MEMBER_ROLES.items()
        }
        officer_of = {first: i for i, first in enumerate(self.plan.first_user)}
        for membership_id, user_id, centre in self._memberships():
            brand = self.plan.brands[centre]
            if officer_of.get(user_id) == centre:
                keys = {MANAGEMENT[brand], *OFFICER_ROLES[brand]}
            else:
                keys_, weights = weighted[brand]
                keys = set(rng.choices(keys_, weights, k=2 if rng.random() < 0.3 else 1))
                if rng.random() < 0.03:
                    keys.add(MANAGEMENT[brand])
            for key in sorted(keys):
                yield (membership_id, key)

    def membership_periods(self) -> Iterator[Row]:
        rng = random.Random(self.shape.seed + 6)
        period_id = 1
        count = len(self.plan.sizes)
        for _, user_id, centre in self._memberships():
            yield (period_id, user_id, centre + 1, self.joined_at(user_id, centre), None)
            period_id += 1
            if user_id % 33 == 5:  # about 3 % were members elsewhere before
                began = self.ago(rng, 1100, 1500)
                yield (period_id, user_id, rng.randrange(count) + 1, began, began + timedelta(300))
                period_id += 1

    def audit_events(self) -> Iterator[Row]:
        """70 % members' own sign-in events, 30 % events at a centre (done by its officer),
        oldest first over the last two years, as an append-only log holds them."""
        rng = random.Random(self.shape.seed + 7)
        users, events = self.shape.users, self.shape.events
        p = self.plan
        start = self.now - timedelta(days=730)
        step = timedelta(days=730) / max(events, 1)
        for event_id in range(events):
            at = start + step * (event_id + rng.random())
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            if rng.random() < 0.7:
                user_id = rng.randrange(1, users + 1)
                if self.statuses[user_id] == 1:  # invited: never signed in
                    user_id = p.first_user[p.centre_of(user_id)]
                action = rng.choice(OWN_ACTIONS)
                details = '{"amr": ["pwd"]}' if action == "sign_in.succeeded" else "{}"
                sub = self.sub(user_id)
                yield (at, user_id, sub, action, "", "", None, ip, details)
            else:
                target = rng.randrange(1, users + 1)
                centre = p.centre_of(target)
                officer = p.first_user[centre]
                action = rng.choice(CENTRE_ACTIONS)
                yield (
                    at,
                    officer,
                    self.sub(officer),
                    action,
                    "user",
                    self.sub(target),
                    centre + 1,
                    ip,
                    "{}",
                )

    def tokens(self) -> Iterator[Row]:
        """Access and refresh tokens of the client, issued one after another over the last
        100 days (ids in issue order, as the table fills): a refresh token lives 30 days, so
        the oldest 69 % have expired more than a day ago (what the purge deletes, access and
        refresh both), the rest are still valid."""
        rng = random.Random(self.shape.seed + 8)
        salt = rng.randbytes(16)
        start = self.now - timedelta(days=100)
        step = timedelta(days=100) / max(self.shape.tokens, 1)
        for token_id in range(1, self.shape.tokens + 1):
            user_id = rng.randrange(1, self.shape.users + 1)
            issued = start + step * (token_id - 1 + rng.random())
            digest = hashlib.sha256(salt + token_id.to_bytes(8, "big")).hexdigest()
            refresh = hashlib.sha256(digest.encode()).hexdigest()
            yield (
                token_id,
                digest[:32],
                self.client_id,
                user_id,
                None,
                None,
                SCOPE,
                digest,
                refresh,
                issued,
                issued + timedelta(hours=1),
                issued + timedelta(days=30),
                int(issued.timestamp()),
                '["pwd"]',
            )

    def tables(self) -> list[tuple[str, Callable[[], Iterator[Row]]]]:
        return [
            ("users", self.users),
            ("organisations", self.organisations),
            ("email_addresses", self.email_addresses),
            ("memberships", self.memberships),
            ("membership_roles", self.membership_roles),
            ("membership_periods", self.membership_periods),
            ("audit_events", self.audit_events),
            ("tokens", self.tokens),
        ]

    def population(self, counts: dict[str, int]) -> Population:
        p = self.plan
        first, size = p.first_user[0], p.sizes[0]
        members = [
            u
            for u in range(first + 2, first + size)
            if self.statuses[u] == 0 and u not in self.second_centre
        ]

        def email(user_id: int) -> str:
            return email_of(user_id, *names_of(user_id))

        return Population(
            password=PASSWORD,
            large_centre=centre_code(0),
            officer_email=email(first),
            associate_officer_email=email(p.first_user[1]),
            operator_email=email(self.operator_id),
            member_emails=[email(u) for u in members],
            member_subs=[self.sub(u) for u in range(first + 2, first + size)],
            counts=counts,
        )


# -- loading --------------------------------------------------------------------------


def load_postgresql(
    url: str, generator: Generator, progress: Callable[[str], None] = lambda _: None
) -> Population:
    """COPY every table (foreign-key triggers off while loading, the plain indexes built
    afterwards), then set the sequences past the loaded ids and ANALYZE."""
    import psycopg

    counts: dict[str, int] = {}
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK triggers per row
        conn.execute("SET maintenance_work_mem = '256MB'")
        tables = [name for name, _ in generator.tables()]
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (tables,),
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for table, rows in generator.tables():
            columns = TABLE_COLUMNS[table]
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            n = 0
            with conn.cursor().copy(sql) as copy:
                for row in rows():
                    copy.write_row(row)
                    n += 1
            counts[table] = n
            progress(f"{table}: {n:,} rows")
        for _, definition in indexes:
            conn.execute(definition)
        progress(f"{len(indexes)} indexes built")
        for table in tables:
            if "id" in TABLE_COLUMNS[table]:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        conn.execute("SET session_replication_role = DEFAULT")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return generator.population(counts)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLAlchemy's storage format for a naive UTC datetime
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, bool):
        return int(value)
    return value


def load_sqlite(
    path: str,
    generator: Generator,
    progress: Callable[[str], None] = lambda _: None,
    batch: int = 50_000,
) -> Population:
    """``executemany`` in transactions of ``batch`` rows (the plain indexes dropped while
    loading and built afterwards, the unique ones kept), then ANALYZE."""
    counts: dict[str, int] = {}
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        tables = [name for name, _ in generator.tables()]
        marks = ", ".join("?" * len(tables))
        indexes = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND sql NOT LIKE 'CREATE UNIQUE%' AND tbl_name IN ({marks})",
            tables,
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for table, rows in generator.tables():
            columns = TABLE_COLUMNS[table]
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})"
            )
            n, chunk = 0, []
            for row in rows():
                chunk.append(tuple(_sqlite_value(v) for v in row))
                if len(chunk) == batch:
                    conn.executemany(sql, chunk)
                    conn.commit()
                    n, chunk = n + len(chunk), []
            conn.executemany(sql, chunk)
            conn.commit()
            counts[table] = n + len(chunk)
            progress(f"{table}: {counts[table]:,} rows")
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
        progress(f"{len(indexes)} indexes built")
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()
    return generator.population(counts)
