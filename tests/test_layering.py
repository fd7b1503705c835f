"""Imports flow one way: web/oidc/cli -> domain -> models -> extensions; the domain reaches
no framework, template, page or language, not even through another module."""

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


# What the domain must not reach, directly or through any module it imports: the web
# framework and its extensions, templates, the pages, the protocol, the CLI, the choice of a
# page's language and the writing of emails. The domain says what happened and what to send
# (``idp.domain.mailing``); the edge translates (``idp.languages.say``), renders and sends.
EDGE = (
    "flask",
    "flask_babel",
    "flask_login",
    "flask_wtf",
    "jinja2",
    "idp.web",
    "idp.oidc",
    "idp.cli",
    "idp.languages",
    "idp.mail.messages",
)
# Modules the walk does not enter. ``idp.extensions`` is the one allowed way to Flask: the
# domain uses Flask-SQLAlchemy's ``db`` (the design fixes Flask-SQLAlchemy), built there beside
# the app's other extensions. ``idp/__init__.py`` (the app factory) is not followed either:
# Python runs a package's ``__init__`` before any of its modules, which is the factory's
# import of the world, not the domain's.
NOT_ENTERED = {"idp.extensions", "idp"}


def module_file(name: str) -> Path | None:
    """The file of module ``name`` in this repository (``idp.x.y`` -> ``idp/x/y.py`` or
    ``idp/x/y/__init__.py``), or None: not ours, or not a module (a name imported from one)."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def imports_reached(start: str) -> list[tuple[list[str], str]]:
    """Every import made by ``start`` or by any module of ours it reaches: (the chain of
    modules from ``start`` to the importer, the imported name). The packages on a module's
    path count as reached: Python runs them."""
    found: list[tuple[list[str], str]] = []
    todo = [[start]]
    seen = {start}
    while todo:
        chain = todo.pop(0)  # breadth first: the shortest chain to each module
        path = module_file(chain[-1])
        if path is None or chain[-1] in NOT_ENTERED:
            continue
        for name in sorted(imports_of(path)):
            found.append((chain, name))
            parts = name.split(".")
            for step in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                if step not in seen and module_file(step) is not None:
                    seen.add(step)
                    todo.append([*chain, step])
    return found


def _edge(name: str) -> str | None:
    return next((e for e in EDGE if name == e or name.startswith(e + ".")), None)


def domain_modules() -> list[str]:
    return [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in modules("idp/domain")
    ]


def test_the_domain_reaches_no_framework_template_page_or_language_even_indirectly():
    """Follows imports transitively: a domain module that imports a helper that imports Flask
    reaches Flask. Flask-SQLAlchemy's ``db`` through ``idp.extensions`` is the one allowed way
    (the design card fixes Flask-SQLAlchemy)."""
    found: dict[tuple[str, str], list[str]] = {}  # (importer, edge): the shortest way there
    for module in domain_modules():
        for chain, name in imports_reached(module):
            edge = _edge(name)
            if edge is not None and len(chain) < len(found.get((chain[-1], edge), [*chain, ""])):
                found[chain[-1], edge] = chain
    assert [" -> ".join([*chain, edge]) for (_, edge), chain in sorted(found.items())] == []


def test_the_walk_sees_what_a_module_reaches_through_another():
    """``idp.mail.outgoing`` does not import Flask-Babel itself; it reaches it through
    ``idp.mail.messages``, and the walk says so."""
    outgoing = module_file("idp.mail.outgoing")
    assert outgoing is not None
    assert not any(_edge(name) == "flask_babel" for name in imports_of(outgoing))
    assert any(
        _edge(name) == "flask_babel" and chain == ["idp.mail.outgoing", "idp.mail.messages"]
        for chain, name in imports_reached("idp.mail.outgoing")
    )


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
