"""The brands' looks on the pages: one stylesheet of every brand's colours, built from the
catalogue, and the look a page wears, that of the brand of the organisation the signed-in
person acts for (``idp.domain.acting``), the default look otherwise. Nothing in the request
picks it: the header, colours and mark follow the organisation, never a query string."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from markupsafe import escape

from idp.catalogue import Brand, Catalogue
from idp.models import Organisation
from idp.web.assets import LONG, SHORT

bp = Blueprint("branding", __name__)


def _catalogue() -> Catalogue:
    return current_app.extensions["idp.settings"].catalogue


def stylesheet(catalogue: Catalogue) -> str:
    """A class per brand, ``look-<key>``, setting the colours ``site.css`` draws with."""
    return "".join(
        f".look-{b.key}{{--brand:{b.colour};--brand-dark:{b.colour_dark};"
        f"--accent:{b.accent};--accent-dark:{b.accent_dark}}}\n"
        for b in catalogue.brands
    )


def _digest(css: str) -> str:
    return hashlib.sha256(css.encode()).hexdigest()[:16]


@bp.get("/brands.css")
def brands_css() -> Response:
    """Cached for a year at the address the pages link (its digest), briefly at any other."""
    css = stylesheet(_catalogue())
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = LONG if request.args.get("v") == _digest(css) else SHORT
    return response


def icon(brand: Brand) -> str:
    """The brand's mark as a favicon: its letters, white, on its colour, in its shape."""
    shape = (
        f'<circle cx="16" cy="16" r="16" fill="{brand.colour}"/>'
        if brand.mark_shape == "circle"
        else f'<rect width="32" height="32" fill="{brand.colour}"/>'
    )
    size = {1: 18, 2: 14}.get(len(brand.mark_text), 11)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
        f'{shape}<text x="16" y="{16 + size * 0.36:.0f}" font-family="Arial,sans-serif"'
        f' font-size="{size}" font-weight="700" fill="#fff" text-anchor="middle">'
        f"{escape(brand.mark_text)}</text></svg>"
    )


@bp.get("/brands/<key>/icon.svg")
def brand_icon(key: str) -> Response:
    """A brand's favicon: the tab of a page in OCR's look shows OCR's mark."""
    brand = next((b for b in _catalogue().brands if b.key == key), None)
    if brand is None:
        abort(404)
    svg = icon(brand)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = LONG if request.args.get("v") == _digest(svg) else SHORT
    return response


def install(app: Flask) -> None:
    @app.context_processor
    def looks() -> dict[str, Any]:
        def look_of(org: Organisation | None) -> Brand:
            """The look of the pages of a person acting for ``org``."""
            return _catalogue().look(org.brand if org is not None else None)

        def brands_css_version() -> str:
            return _digest(stylesheet(_catalogue()))

        def brand_icon_version(brand: Brand) -> str:
            return _digest(icon(brand))

        return {
            "look_of": look_of,
            "brands_css_version": brands_css_version,
            "brand_icon_version": brand_icon_version,
        }
