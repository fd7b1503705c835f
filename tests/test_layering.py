"""Imports flow one way: web/oidc/cli -> domain -> models -> extensions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_domain_and_models_know_nothing_of_requests_or_authlib():
    for path in modules("idp/domain") + modules("idp/models"):
        for name in imports_of(path):
            assert not name.startswith("authlib"), f"{path} imports {name}"
            assert name not in ("flask.request", "flask.session", "flask.render_template"), (
                f"{path} imports {name}"
            )
            assert not name.startswith(("idp.web", "idp.oidc", "idp.cli")), f"{path} imports {name}"


def test_models_do_not_import_the_domain():
    for path in modules("idp/models"):
        assert not any(n.startswith("idp.domain") for n in imports_of(path)), path


def test_only_the_oidc_package_imports_authlib_server_classes():
    for path in modules("idp"):
        if "oidc" in path.parts:
            continue
        assert not any(n.startswith("authlib") for n in imports_of(path)), path


def test_demo_clients_never_import_the_provider():
    for path in modules("clients"):
        assert not any(n == "idp" or n.startswith("idp.") for n in imports_of(path)), path


def test_the_sign_in_pages_and_the_protocol_meet_only_by_redirect():
    """The pages hand an authorization request back to ``/authorize/resume``; they never call
    the protocol's views, and the protocol never reaches into the pages."""
    for path in modules("idp/web"):
        for name in imports_of(path):
            assert not name.startswith("idp.oidc.routes"), f"{path} imports {name}"
    for path in modules("idp/oidc"):
        for name in imports_of(path):
            assert not name.startswith("idp.web"), f"{path} imports {name}"


def test_my_organisation_is_one_package_used_by_its_public_names():
    """Its pages attach themselves to its one blueprint, inside the package; outside it, the app
    factory registers the blueprint and other modules use its public helpers, never a private
    one."""
    package = ROOT / "idp/web/organisation"
    for path in modules("idp"):
        if package in path.parents:
            continue
        for name in imports_of(path):
            if not name.startswith("idp.web.organisation"):
                continue
            assert not name.rsplit(".", 1)[-1].startswith("_"), f"{path} imports {name}"
            if path != ROOT / "idp/__init__.py":
                assert name not in ("idp.web.organisation.bp", "idp.web.organisation.blueprint"), (
                    f"{path} imports {name}"
                )


def test_prepared_statements_stay_in_the_protocol_store():
    """``Prepared`` runs a statement without SQLAlchemy's per-statement work; bench/statements.py
    shows it pays only for the token and userinfo endpoints' six statements, which live in
    idp/oidc/store.py: every other statement goes through the session."""
    allowed = {ROOT / "idp/statements.py", ROOT / "idp/oidc/store.py"}
    for path in modules("idp"):
        if path in allowed:
            continue
        assert not any(n.startswith("idp.statements") for n in imports_of(path)), path
