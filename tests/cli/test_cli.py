"""The operator's CLI: every command, its --json output and its one-line errors."""

from __future__ import annotations

import json

import pytest

from idp.domain import organisations
from idp.extensions import db
from tests.oidc_helpers import RelyingParty


def test_help_lists_every_command(run):
    result = run("--help")
    assert result.exit_code == 0
    for group in ("db", "orgs", "users", "clients", "keys", "serve", "demo"):
        assert group in result.output


def test_db_upgrade_is_idempotent_and_reports_the_catalogue(run):
    result = run("db", "upgrade", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["revision"] and data["services"] >= 5 and data["roles"] >= 5


def test_orgs_create_with_associate_and_exams_officer(run):
    assert run("orgs", "create", "--code", "CA100", "--name", "Associate", "--json").exit_code == 0
    result = run(
        "orgs",
        "create",
        "--code",
        "ca101",
        "--name",
        "Associate Centre",
        "--associate-of",
        "CA100",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["associate_of"] == "CA100"
    assert json.loads(result.output)["code"] == "CA101"
    run(
        "users",
        "create",
        "--email",
        "Officer@Example.org",
        "--first-name",
        "Ola",
        "--last-name",
        "Officer",
        "--password",
        "a long enough password",
    )
    result = run("orgs", "set-exams-officer", "CA101", "officer@example.org", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["exams_officer"] == "officer@example.org"
    assert data["roles"] == ["gl.exams_officer", "user_management"]
    listed = json.loads(run("orgs", "list", "--json").output)
    assert [o["code"] for o in listed] == ["CA100", "CA101"]


def test_global_listening_moves_with_the_office(run):
    run("orgs", "create", "--code", "AA101", "--name", "Centre")
    for name in ("first", "second"):
        run(
            "users",
            "create",
            "--email",
            f"{name}@example.org",
            "--first-name",
            name,
            "--last-name",
            "X",
            "--password",
            "a long enough password",
            "--org",
            "AA101",
            "--role",
            "sfa.teacher",
        )
    run("orgs", "set-exams-officer", "AA101", "first@example.org")
    data = json.loads(
        run("orgs", "set-exams-officer", "AA101", "second@example.org", "--json").output
    )
    assert "gl.exams_officer" in data["roles"]
    from idp.domain import organisations, users

    first = users.find_by_email("first@example.org")
    assert organisations.membership(first, organisations.get_by_code("AA101")).role_keys == {
        "sfa.teacher",
        "user_management",
    }


def test_users_create_with_roles(run):
    run("orgs", "create", "--code", "AA101", "--name", "Centre")
    result = run(
        "users",
        "create",
        "--email",
        "t@example.org",
        "--first-name",
        "Tess",
        "--last-name",
        "Teacher",
        "--password",
        "-",
        "--org",
        "AA101",
        "--role",
        "sfa.teacher",
        "--json",
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "active" and data["roles"] == ["sfa.teacher"]
    assert data["sub"].startswith("u_")


def test_users_create_without_password_awaits_invitation(run):
    data = json.loads(
        run(
            "users",
            "create",
            "--email",
            "new@example.org",
            "--first-name",
            "N",
            "--last-name",
            "U",
            "--json",
        ).output
    )
    assert data["status"] == "invited"


NEW_USER = ("users", "create", "--email", "a@example.org", "--first-name", "A", "--last-name", "B")
NEW_CLIENT = ("clients", "create", "--name", "X", "--redirect-uri")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("users", "create", "--email", "not-an-email", "--first-name", "A", "--last-name", "B"),
            "Enter an email address in the correct format",
        ),
        ((*NEW_USER, "--password", "short"), "at least 15 characters"),
        ((*NEW_USER, "--role", "sfa.teacher"), "--role needs --org"),
        (("orgs", "create", "--code", "A!", "--name", "X"), "centre number must be"),
        (
            ("orgs", "set-exams-officer", "ZZ999", "a@example.org"),
            "No organisation with centre number",
        ),
        ((*NEW_CLIENT, "http://rp.example.org/cb"), "must use https"),
        ((*NEW_CLIENT, "https://rp.example.org/cb#frag"), "fragment"),
        ((*NEW_CLIENT, "https://rp.example.org/cb", "--service", "nope"), "Unknown service"),
        (("clients", "show", "missing"), "No client with id"),
    ],
)
def test_bad_input_fails_with_one_line(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert result.output.strip().count("\n") == 0


def test_duplicate_email_is_refused_case_insensitively(run):
    run("users", "create", "--email", "dup@example.org", "--first-name", "A", "--last-name", "B")
    result = run(
        "users", "create", "--email", "DUP@example.org", "--first-name", "C", "--last-name", "D"
    )
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_clients_lifecycle(run, client, make):
    result = run(
        "clients",
        "create",
        "--name",
        "Submit for Assessment",
        "--redirect-uri",
        "https://sfa.example.org/cb",
        "--post-logout-redirect-uri",
        "https://sfa.example.org/",
        "--service",
        "submit_for_assessment",
        "--json",
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    secret = created["client_secret"]
    assert secret and created["services"] == ["submit_for_assessment"]
    from idp.domain import clients
    from idp.security import token_hash

    stored = clients.get(created["client_id"])
    assert (
        stored.client_secret_hash == token_hash(secret) and secret not in stored.client_secret_hash
    )

    listed = json.loads(run("clients", "list", "--json").output)
    assert [c["client_id"] for c in listed] == [created["client_id"]]
    shown = json.loads(run("clients", "show", created["client_id"], "--json").output)
    assert "client_secret" not in shown

    rotated = json.loads(run("clients", "rotate-secret", created["client_id"], "--json").output)
    assert rotated["client_secret"] != secret
    # The old secret stops working, the new one works.
    make.org("AA101")
    make.user("t@example.org")
    from tests.factories import RegisteredClient

    def rp_with(secret_value):
        return RelyingParty(
            client,
            RegisteredClient(
                stored,
                created["client_id"],
                secret_value,
                "https://sfa.example.org/cb",
                "https://sfa.example.org/",
            ),
        )

    old = rp_with(secret)
    assert old.exchange(old.sign_in("t@example.org").code).status_code == 401
    new = rp_with(rotated["client_secret"])
    assert new.exchange(new.sign_in("t@example.org").code).status_code == 200

    assert run("clients", "delete", created["client_id"], "--json").exit_code == 0
    assert json.loads(run("clients", "list", "--json").output) == []


def test_public_client_has_no_secret(run):
    data = json.loads(
        run(
            "clients",
            "create",
            "--name",
            "SPA",
            "--redirect-uri",
            "http://127.0.0.1:8080/cb",
            "--public",
            "--json",
        ).output
    )
    assert data["client_secret"] is None and data["token_endpoint_auth_method"] == "none"


def test_keys_rotate_list_prune(run):
    before = json.loads(run("keys", "list", "--json").output)
    rotated = json.loads(run("keys", "rotate", "--json").output)
    assert rotated["status"] == "current"
    after = json.loads(run("keys", "list", "--json").output)
    assert len(after) == len(before) + 1
    assert [k["status"] for k in after if k["kid"] != rotated["kid"] and k["alg"] == "RS256"].count(
        "current"
    ) == 0
    pruned = json.loads(run("keys", "prune", "--json").output)
    assert pruned == {"pruned": []}  # retired keys are kept until their tokens expire
    es = json.loads(run("keys", "rotate", "--alg", "ES256", "--json").output)
    assert es["alg"] == "ES256"
    audited = [
        json.loads(line) for line in run("audit", "export", "--action", "key.").output.split()
    ]
    assert [(e["action"], e["target_id"]) for e in audited] == [
        ("key.rotated", rotated["kid"]),
        ("key.rotated", es["kid"]),
    ]


def test_serve_check_validates_configuration_and_keys(run):
    result = run("serve", "--check")
    assert result.exit_code == 0, result.output
    assert "in order" in result.output
    data = json.loads(run("serve", "--check", "--json").output)
    assert data["issuer"] == "http://localhost" and data["signing_key"]


def test_audit_export_writes_json_lines(run, app, make):
    make.org("AA101")
    make.user("jane@example.org")
    result = run("audit", "export", "--action", "user.")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [e["action"] for e in events] == ["user.created"]
    assert run("audit", "export", "--since", "yesterday").exit_code != 0


def test_move_a_user_and_relink_an_associate(run, make):

    make.org("AA101")
    make.org("AA102")
    make.org("OC301", brand="ocr")
    make.org("CA200")
    user = make.user(
        "jane@example.org",
        org=organisations.get_by_code("AA101"),
        roles=("sfa.teacher", "user_management"),
    )
    moved = run("users", "move", "jane@example.org", "--from", "AA101", "--to", "AA102", "--json")
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.output)["roles"] == ["sfa.teacher", "user_management"]
    # To another brand: only the roles that brand offers come along (none here).
    across = run("users", "move", "jane@example.org", "--from", "AA102", "--to", "OC301", "--json")
    assert json.loads(across.output)["roles"] == []
    again = run("users", "move", "jane@example.org", "--from", "AA102", "--to", "AA101")
    assert again.exit_code != 0 and "is not a member of AA102" in again.output
    db.session.expire_all()
    assert [m.organisation.code for m in db.session.get(type(user), user.id).memberships] == [
        "OC301"
    ]

    linked = run("orgs", "set-associate", "AA101", "--of", "CA200", "--json")
    assert json.loads(linked.output)["associate_of"] == "CA200"
    assert run("orgs", "set-associate", "CA200", "--of", "AA101").exit_code != 0
    unlinked = run("orgs", "set-associate", "AA101", "--none", "--json")
    assert json.loads(unlinked.output)["associate_of"] is None
    assert run("orgs", "set-associate", "AA101").exit_code != 0


def test_set_operator(run, make):
    user = make.user("ops@example.org")
    result = run("users", "set-operator", "ops@example.org", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["operator"] is True
    db.session.expire_all()
    assert db.session.get(type(user), user.id).is_operator
    assert (
        json.loads(run("users", "set-operator", "ops@example.org", "--off", "--json").output)[
            "operator"
        ]
        is False
    )
    assert run("users", "set-operator", "nobody@example.org").exit_code != 0


def test_clients_token_issues_an_initial_access_token(run):
    result = run("clients", "token", "--service", "submit_for_assessment", "--uses", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["uses"] == 3 and data["services"] == ["submit_for_assessment"]
    assert len(data["initial_access_token"]) >= 40
    assert run("clients", "token", "--service", "nope").exit_code != 0


def test_generated_client_ids_are_letters_and_digits(app, make):
    ids = [make.client().client_id for _ in range(40)]
    assert all(i.isalnum() and i.islower() and len(i) == 24 for i in ids), ids


def test_clients_api_access_and_data_holder(run, make):
    registered = make.client()
    result = run("clients", "api-access", registered.client_id, "--scope", "users.read", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["api_scopes"] == ["users.read"]
    shown = json.loads(run("clients", "show", registered.client_id, "--json").output)
    assert "client_credentials" in shown["grant_types"]
    result = run("clients", "api-access", registered.client_id, "--scope", "users.write")
    assert result.exit_code != 0
    assert "Unknown API scope" in result.output
    result = run("clients", "api-access", registered.client_id, "--json")
    assert json.loads(result.output)["api_scopes"] == []
    result = run(
        "clients", "data-holder", registered.client_id, "--uri", "http://rp.example.org/data"
    )
    assert result.exit_code != 0 and "https" in result.output
    result = run(
        "clients", "data-holder", registered.client_id, "--uri", "https://rp.example.org/data"
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(run("clients", "show", registered.client_id, "--json").output)
    assert shown["user_data_uri"] == "https://rp.example.org/data"


def test_maintenance_purge_deletes_only_what_can_no_longer_matter(run, app, client, make):
    from idp import clock
    from idp.models import AuthorizationCode, AuthSession, Token

    make.user("jane@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    rp = RelyingParty(client, make.client())
    old = rp.tokens("jane@example.org")
    rotated = rp.refresh(old["refresh_token"]).get_json()
    # Two days on: the access tokens and the session are long gone, the grant is not.
    clock.advance(2 * 86400)
    first = json.loads(run("maintenance", "purge", "--json").output)
    assert first["sessions"] == 1 and first["authorization_codes"] == 0
    assert first["tokens"] == 0  # the rotated refresh token is kept: its replay is still caught
    assert rp.refresh(old["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.refresh(rotated["refresh_token"]).get_json()["error"] == "invalid_grant"

    # Past the grant's lifetime everything of it goes; what is live now stays.
    clock.advance(31 * 86400)
    live = RelyingParty(app.test_client(), rp.registered).tokens("jane@example.org")
    second = json.loads(run("maintenance", "purge", "--json").output)
    assert second["tokens"] == 2 and second["authorization_codes"] == 1
    count = lambda model: db.session.scalar(db.select(db.func.count()).select_from(model))  # noqa: E731
    assert count(Token) == 1 and count(AuthorizationCode) == 1 and count(AuthSession) == 1
    assert rp.userinfo(live["access_token"]).status_code == 200
    # Safe to run again, from any number of instances: nothing more to do.
    again = json.loads(run("maintenance", "purge", "--json").output)
    assert set(again.values()) == {0}


def test_purge_deletes_in_short_transactions_of_its_batch_size(app):
    """Seven expired throttle counts and two live ones: in batches of three they go in three
    transactions (two more commits than when one batch takes them all), and the live ones
    stay. A sign-in waits for one batch's write lock at most, never for the whole purge."""
    from sqlalchemy import event

    from idp import clock
    from idp.domain import maintenance
    from idp.models import ThrottleCount

    settings = app.extensions["idp.settings"]
    old = clock.now().timestamp() - 3 * 86400

    def expire_seven() -> None:
        db.session.add_all(ThrottleCount(key=f"old-{n}", count=1, expires_at=old) for n in range(7))
        db.session.commit()

    def commits_of(batch: int) -> tuple[int, int]:
        commits: list[None] = []
        listener = lambda conn: commits.append(None)  # noqa: E731
        event.listen(db.engine, "commit", listener)
        try:
            deleted = maintenance.purge(settings, batch=batch)["throttle_counts"]
        finally:
            event.remove(db.engine, "commit", listener)
        return deleted, len(commits)

    live = clock.now().timestamp() + 3600
    db.session.add_all(ThrottleCount(key=f"live-{n}", count=1, expires_at=live) for n in range(2))
    expire_seven()
    in_threes = commits_of(3)
    expire_seven()
    at_once = commits_of(100)
    assert in_threes[0] == at_once[0] == 7
    assert in_threes[1] - at_once[1] == 2  # 3 + 3 + 1 rows: three transactions, not one
    keys = set(db.session.scalars(db.select(ThrottleCount.key)))
    assert keys == {"live-0", "live-1"}


def test_purge_on_sqlite_leaves_no_checkpoint_to_a_sign_in(app, database_url):
    """SQLite's write-ahead log is copied into the database file by whichever commit takes it
    past 1,000 pages: 60-90 ms that, during a long purge, fell on sign-ins. The purge copies
    each batch itself, so when it is done every frame of the log is in the file (the log's
    index, as SQLite's file format documents it: frames written at byte 16 of the shared
    memory file, frames copied at byte 96)."""
    import struct
    from pathlib import Path

    from idp import clock
    from idp.domain import maintenance
    from idp.models import ThrottleCount

    if not database_url.startswith("sqlite"):
        pytest.skip("the write-ahead log is SQLite's")
    old = clock.now().timestamp() - 3 * 86400
    db.session.add_all(ThrottleCount(key=f"old-{n}", count=1, expires_at=old) for n in range(30))
    db.session.commit()
    maintenance.purge(app.extensions["idp.settings"], batch=10)
    shm = Path(database_url.removeprefix("sqlite:///") + "-shm").read_bytes()
    written, copied = struct.unpack_from("=I", shm, 16)[0], struct.unpack_from("=I", shm, 96)[0]
    assert written > 0
    assert copied == written


def test_db_backup_and_restore(run, make, tmp_path, database_url):
    import os
    import stat

    from idp.models import User

    make.user("before@example.org")
    target = tmp_path / "backup.sqlite3"
    result = run("db", "backup", str(target), "--json")
    if database_url.startswith("postgresql"):
        # PostgreSQL has its own, better tools; the command says which, in one line.
        assert result.exit_code != 0 and "pg_dump" in result.output
        return
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["integrity"] == "ok"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert run("db", "backup", str(target)).exit_code != 0  # never overwrites a backup

    make.user("after@example.org")
    result = run("db", "restore", str(target), "--json")
    assert result.exit_code == 0, result.output
    db.session.remove()
    db.engine.dispose()
    emails = {u.email for u in db.session.scalars(db.select(User))}
    assert "before@example.org" in emails and "after@example.org" not in emails

    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"not a database at all" * 100)
    refused = run("db", "restore", str(damaged))
    assert refused.exit_code != 0 and "is not a usable backup" in refused.output
    assert "Traceback" not in refused.output


def test_clients_id_token_alg_needs_a_key_and_sets_how_id_tokens_are_signed(run, app, make):
    from sqlalchemy import delete

    from idp.models import SigningKey

    db.session.execute(delete(SigningKey).where(SigningKey.alg == "ES256"))
    db.session.commit()
    app.extensions["idp.keyring"].invalidate()
    registered = make.client()
    result = run("clients", "id-token-alg", registered.client_id, "--alg", "ES256")
    assert result.exit_code != 0
    assert "There is no ES256 signing key yet" in result.output
    args = ["--name", "Results", "--redirect-uri", "https://results.example.org/cb"]
    assert run("clients", "create", *args, "--id-token-alg", "ES256").exit_code != 0

    assert run("keys", "rotate", "--alg", "ES256").exit_code == 0
    result = run("clients", "id-token-alg", registered.client_id, "--alg", "ES256", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["id_token_signed_response_alg"] == "ES256"
    shown = json.loads(run("clients", "show", registered.client_id, "--json").output)
    assert shown["id_token_signed_response_alg"] == "ES256"
    created = json.loads(
        run("clients", "create", *args, "--id-token-alg", "ES256", "--json").output
    )
    assert created["id_token_signed_response_alg"] == "ES256"
    result = run("clients", "id-token-alg", registered.client_id, "--json")
    assert json.loads(result.output)["id_token_signed_response_alg"] is None


def test_orgs_list_reads_a_fixed_number_of_statements_however_many_centres(run, make, app):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def listing(count_from: int, count: int) -> tuple[list, int]:
        for n in range(count_from, count_from + count):
            org = make.org(f"LS{n:03d}")
            make.exams_officer(org, f"officer{n}@example.org")
        db.session.commit()
        statements: list[str] = []

        def note(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(Engine, "before_cursor_execute", note)  # the command's engine too
        try:
            result = run("orgs", "list", "--json")
        finally:
            event.remove(Engine, "before_cursor_execute", note)
        return json.loads(result.output), len(statements)

    few, with_few = listing(100, 3)
    many, with_many = listing(200, 30)
    assert len(many) == len(few) + 30
    assert {"code": "LS200", "exams_officer": "officer200@example.org"}.items() <= next(
        o for o in many if o["code"] == "LS200"
    ).items()
    assert with_many == with_few  # 33 centres cost what 3 do
