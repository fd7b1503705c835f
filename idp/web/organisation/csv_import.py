"""CSV for My Organisation: the import (upload, a preview of every row's outcome, then the
rows the preview said would work) and the download of the users list, in the same columns."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature

from idp import clock, deferred, languages
from idp.catalogue import Catalogue
from idp.domain import audit, imports, management, member_list
from idp.domain.management import NewUser, Outcome
from idp.errors import DomainError
from idp.extensions import db
from idp.languages import say
from idp.models import Organisation, User
from idp.security import serializer
from idp.web.organisation.blueprint import bp
from idp.web.organisation.common import (
    app_catalogue,
    list_query,
    managed_org,
    management_settings,
)
from idp.web.transaction import transaction

COLUMNS = ("first_name", "last_name", "email", "roles")
DOWNLOAD_COLUMNS = (*COLUMNS, "status", "last_sign_in_utc")
# A cell a spreadsheet would run as a formula (OWASP, CSV injection): the download starts it
# with ' (shown as text) and quotes every cell (so no separator inside one, ';' where a
# spreadsheet splits on it, starts another); the import takes the ' off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 500
BATCH_MAX_AGE = 3600


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _uncell(value: str) -> str:
    """A cell as the download wrote it, back to its value."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def _roles(cell: str, org: Organisation, catalogue: Catalogue) -> tuple[str, ...]:
    """Role keys from a cell like ``Submit for Assessment: Teacher; aa.nominated_user``;
    names (as configured, or in the page's language) and keys all work, any case. An unknown
    name is kept, so the row is refused."""
    roles = catalogue.brand_roles(org.brand)
    by_name = {languages.words(r.name).casefold(): r.key for r in roles}
    by_name.update({r.name.casefold(): r.key for r in roles})
    by_key = {r.key.casefold(): r.key for r in catalogue.brand_roles(org.brand)}
    found = []
    for part in re.split(r"[;|]", cell):
        name = part.strip().casefold()
        if name:
            found.append(by_key.get(name) or by_name.get(name) or part.strip())
    return tuple(found)


def _people(reader: Iterator[list[str]], org: Organisation, catalogue: Catalogue) -> list[NewUser]:
    """The rows after the header line, blank lines skipped."""
    header = [h.strip().lower().replace(" ", "_") for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DomainError(
            _(
                "The first line must name the columns first_name, last_name, email and roles"
                " (missing: %(missing)s).",
                missing=", ".join(missing),
            )
        )
    at = {c: header.index(c) for c in COLUMNS}
    people = []
    for line in reader:
        if not any(cell.strip() for cell in line):
            continue
        cells = [*line, *[""] * len(header)]
        people.append(
            NewUser(
                _uncell(cells[at["first_name"]].strip()),
                _uncell(cells[at["last_name"]].strip()),
                _uncell(cells[at["email"]].strip()),
                _roles(cells[at["roles"]], org, catalogue),
            )
        )
        if len(people) > MAX_ROWS:
            raise DomainError(
                _(
                    "A file can hold at most %(num)d people. Split it and upload each part.",
                    num=MAX_ROWS,
                )
            )
    return people


def parse(data: bytes, org: Organisation, catalogue: Catalogue) -> list[NewUser]:
    """The people in an uploaded file, or DomainError saying what is wrong with the file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(
            _("Save the file as CSV with UTF-8 encoding and upload it again.")
        ) from None
    reader = csv.reader(io.StringIO(text))
    try:
        people = _people(reader, org, catalogue)
    except csv.Error:  # a cell over the csv module's limit (128 KiB), say
        raise DomainError(
            _(
                "Line %(line)d of the file cannot be read as CSV. Correct it and upload the file"
                " again.",
                line=reader.line_num,
            )
        ) from None
    if not people:
        raise DomainError(_("The file has no people in it."))
    return people


def preview(
    actor: User, org: Organisation, people: list[NewUser], catalogue: Catalogue
) -> list[Outcome]:
    """Each row's outcome for ``actor``, with repeated addresses refused after their first
    row."""
    seen: set[str] = set()
    outcomes = []
    for person in people:
        outcome = management.check_new(actor, org, person, catalogue)
        if outcome.kind != "error" and outcome.email in seen:
            outcome = Outcome(
                outcome.email, outcome.name, "error", _("Appears earlier in the file.")
            )
        seen.add(outcome.email)
        outcomes.append(outcome)
    return outcomes


def _pack(people: list[NewUser]) -> str:
    raw = json.dumps([[p.given_name, p.family_name, p.email, list(p.roles)] for p in people])
    return serializer("csv-import").dumps(zlib.compress(raw.encode()).hex())


def _unpack(token: str) -> list[NewUser]:
    try:
        packed = serializer("csv-import").loads(token, max_age=BATCH_MAX_AGE)
        rows = json.loads(zlib.decompress(bytes.fromhex(packed)))
    except (BadSignature, ValueError, zlib.error):
        abort(400)
    return [NewUser(g, f, e, tuple(r)) for g, f, e, r in rows]


@bp.route("/<code>/users/import", methods=["GET", "POST"])
def import_users(code: str) -> Any:
    org = managed_org(code)
    catalogue = app_catalogue()
    error = None
    if request.method == "POST" and "batch" in request.form:
        people = _unpack(request.form["batch"])
        good = [
            p
            for p, o in zip(people, preview(current_user, org, people, catalogue), strict=True)
            if o.kind == "invited"
        ]
        if not good:
            flash(_("Nothing in that file can be imported any more."), "warning")
            return redirect(url_for("organisation.import_users", code=org.code))
        with transaction():  # committed before the job, run after the response, reads it
            job = imports.start(current_user, org, good)
        deferred.after_response(
            functools.partial(
                _run_job,
                current_app._get_current_object(),  # type: ignore[attr-defined]
                job.id,
                good,
                request.remote_addr,
                str(get_locale() or "en"),
            )
        )
        return redirect(url_for("organisation.import_progress", code=org.code, job_id=job.id), 303)
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            error = _("Choose a CSV file to upload.")
        else:
            try:
                people = parse(upload.read(), org, catalogue)
            except DomainError as exc:
                error = say(exc)
            else:
                outcomes = preview(current_user, org, people, catalogue)
                return render_template(
                    "organisation/import_preview.html",
                    org=org,
                    outcomes=outcomes,
                    people=people,
                    batch=_pack(people),
                    counts={
                        k: sum(o.kind == k for o in outcomes)
                        for k in ("invited", "already_member", "error")
                    },
                    role_names={r.key: r.name for r in catalogue.roles},
                )
    return render_template(
        "organisation/import.html",
        org=org,
        error=error,
        max_rows=MAX_ROWS,
        roles=management.grantable_roles(org, catalogue),
    )


def _run_job(app: Flask, job_id: str, people: list[NewUser], ip: str | None, language: str) -> None:
    """The import itself, once the officer's browser has been answered; its emails and
    reasons in the language of the page that started it."""
    with app.app_context(), force_locale(language):
        token = audit.source_ip.set(ip)
        try:
            imports.run(job_id, people, management_settings())
        finally:
            audit.source_ip.reset(token)
            db.session.remove()


@bp.get("/<code>/users/import/<job_id>")
def import_progress(code: str, job_id: str) -> Any:
    org = managed_org(code)
    job = imports.get(org, job_id)
    return render_template(
        "organisation/import_progress.html",
        org=org,
        job=job,
        state=imports.state(job),
        problems=[r for r in job.results if r["kind"] == "failed"],
        added=[r for r in job.results if r["kind"] != "failed"],
    )


@bp.get("/<code>/users/import/<job_id>/progress")
def import_progress_json(code: str, job_id: str) -> Response:
    org = managed_org(code)
    response = jsonify(imports.progress(imports.get(org, job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<code>/users/download")
def download_users(code: str) -> Any:
    """The users list as CSV: every member the search and filters match, in the list's order,
    in the import's columns (roles by name, so the file can be edited and imported
    elsewhere) plus status and last sign-in. Personal data: never cached, and audited."""
    org = managed_org(code)
    names = {r.key: r.name for r in app_catalogue().roles}
    out = io.StringIO()
    out.write("\ufeff")  # UTF-8 with a byte-order mark: spreadsheets then read accents right
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(DOWNLOAD_COLUMNS)
    count = 0
    for row in member_list.every_member(org, list_query(request.args)):
        last = row.last_sign_in_at
        writer.writerow(
            [
                _cell(row.given_name),
                _cell(row.family_name),
                _cell(row.email),
                _cell("; ".join(names.get(key, key) for key in row.roles)),
                row.status,
                last.strftime("%Y-%m-%d %H:%M") if isinstance(last, datetime) else "",
            ]
        )
        count += 1
    with transaction():
        audit.record(
            "management.users_downloaded",
            actor=current_user,
            target_type="organisation",
            target_id=org.code,
            organisation_id=org.id,
            people=count,
        )
    filename = re.sub(r"[^A-Za-z0-9_-]", "", org.code) or "organisation"
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{filename}-users-{clock.now():%Y-%m-%d}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
