"""The catalogue of brands, services and their roles.

Roles are data, not code: the catalogue comes from configuration (``[[catalogue.brands]]``,
``[[catalogue.services]]``, ``[[catalogue.roles]]``) and is copied into the ``services`` and
``roles`` tables by ``idp db upgrade``. The defaults below are the Cambridge International
Education and Cambridge OCR roles of the service's user guides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

USER_MANAGEMENT = "user_management"


def N_(message: str) -> str:
    """Marks a word of the default catalogue for translation (``pybabel extract -k N_``). The
    catalogue stays plain configuration data; pages and emails show its role names and
    descriptions through gettext (``idp.languages.words``), so a catalogue an operator writes
    shows as written, and the default one in the page's language."""
    return message


HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
BRAND_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MARK = re.compile(r"^[A-Za-z0-9]{1,3}$")
MARK_SHAPES = ("circle", "square")
MINIMUM_CONTRAST = 4.5  # WCAG 2 AA for text: white on the brand's colours, them on white


class CatalogueError(ValueError):
    pass


@dataclass(frozen=True)
class Brand:
    """An awarding body and its look: the pages of a person acting for one of its
    organisations, and the emails about such an organisation, wear its name, colours and mark.

    ``colour`` fills the header and colours links and headings; ``accent`` the stripe under
    the header and the buttons. White text sits on both and both sit on white, so each must
    contrast with white at least 4.5 to 1. ``mark`` is one to three letters drawn in a
    ``mark_shape`` (our own simple mark, never another body's logo); without it, the
    initials of the name."""

    key: str
    name: str
    colour: str = "#1d3f6e"
    accent: str = "#00703c"
    mark: str = ""
    mark_shape: str = "circle"

    @property
    def mark_text(self) -> str:
        initials = "".join(w[0] for w in self.name.split() if w[:1].isalnum())
        return self.mark or initials[:3].upper()

    @property
    def colour_dark(self) -> str:
        return _darker(self.colour)

    @property
    def accent_dark(self) -> str:
        return _darker(self.accent)

    def problems(self) -> list[str]:
        """What is wrong with the brand's look, in words for whoever edits the config."""
        found = []
        if not BRAND_KEY.match(self.key):
            found.append(f"brand key {self.key!r}: use lower-case letters, digits and hyphens")
        for name in ("colour", "accent"):
            value = getattr(self, name)
            if not isinstance(value, str) or not HEX_COLOUR.match(value):
                found.append(f'brand {self.key!r}: {name} must be a colour like "#1d3f6e"')
            elif contrast(value, "#ffffff") < MINIMUM_CONTRAST:
                found.append(
                    f"brand {self.key!r}: {name} {value} is too light to read against white"
                )
        if self.mark and not (isinstance(self.mark, str) and MARK.match(self.mark)):
            found.append(f"brand {self.key!r}: mark must be one to three letters or digits")
        if self.mark_shape not in MARK_SHAPES:
            found.append(f"brand {self.key!r}: mark_shape must be one of {', '.join(MARK_SHAPES)}")
        return found


def _channels(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _darker(colour: str) -> str:
    """The colour a quarter darker: hover and pressed states."""
    return "#" + "".join(f"{round(c * 0.75):02x}" for c in _channels(colour))


def contrast(first: str, second: str) -> float:
    """The WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""

    def luminance(colour: str) -> float:
        linear = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in (v / 255 for v in _channels(colour))
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@dataclass(frozen=True)
class Service:
    key: str
    name: str
    brand: str
    url: str = ""
    description: str = ""


@dataclass(frozen=True)
class Role:
    key: str
    service: str
    name: str
    description: str = ""
    grantable_by_centre: bool = True


@dataclass(frozen=True)
class Catalogue:
    brands: tuple[Brand, ...]
    services: tuple[Service, ...]
    roles: tuple[Role, ...]

    @classmethod
    def from_config(cls, data: Any) -> Catalogue:
        if not isinstance(data, dict):
            raise CatalogueError("must be a table with brands, services and roles")
        data = {str(k).lower(): v for k, v in data.items()}
        brands = tuple(_records(Brand, data.get("brands"), "brands"))
        services = tuple(_records(Service, data.get("services"), "services"))
        roles = tuple(_records(Role, data.get("roles"), "roles"))
        catalogue = cls(brands, services, roles)
        catalogue._check()
        return catalogue

    def _check(self) -> None:
        brand_keys = {b.key for b in self.brands}
        looks = [problem for brand in self.brands for problem in brand.problems()]
        if looks:
            raise CatalogueError("; ".join(looks))
        service_keys = {s.key for s in self.services}
        for kind, keys in (
            ("brand", [b.key for b in self.brands]),
            ("service", [s.key for s in self.services]),
            ("role", [r.key for r in self.roles]),
        ):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise CatalogueError(f"duplicate {kind} key {dupes[0]!r}")
        for service in self.services:
            if service.brand not in brand_keys:
                raise CatalogueError(
                    f"service {service.key!r} names unknown brand {service.brand!r}"
                )
        for role in self.roles:
            if role.service not in service_keys:
                raise CatalogueError(f"role {role.key!r} names unknown service {role.service!r}")

    def look(self, brand: str | None) -> Brand:
        """The brand whose look a page or an email wears: ``brand``'s own, or the first
        brand's (the default look) for none or an unknown one."""
        return next((b for b in self.brands if b.key == brand), self.brands[0])

    @cached_property
    def roles_by_key(self) -> dict[str, Role]:
        return {r.key: r for r in self.roles}

    @cached_property
    def services_by_key(self) -> dict[str, Service]:
        return {s.key: s for s in self.services}

    def brand_roles(self, brand: str) -> list[Role]:
        services = {s.key for s in self.services if s.brand == brand}
        return [r for r in self.roles if r.service in services]

    def officer_only_roles(self, brand: str) -> set[str]:
        """Roles of the brand that no centre may grant: they go with the exams officer."""
        return {r.key for r in self.brand_roles(brand) if not r.grantable_by_centre}

    def management_role(self, brand: str) -> str:
        """The User Management role of a brand."""
        for role in self.brand_roles(brand):
            if role.key.rsplit(".", 1)[-1] == USER_MANAGEMENT:
                return role.key
        raise CatalogueError(f"no User Management role for brand {brand!r}")

    def management_roles(self) -> list[str]:
        """The User Management role of every brand."""
        return sorted(r.key for r in self.roles if r.key.rsplit(".", 1)[-1] == USER_MANAGEMENT)

    def roles_for_services(self, service_keys: frozenset[str] | set[str]) -> frozenset[str]:
        """Keys of the roles that belong to any of the given services."""
        return frozenset(r.key for r in self.roles if r.service in service_keys)


def _records(cls: type, items: Any, name: str) -> list[Any]:
    if not isinstance(items, list) or not items:
        raise CatalogueError(f"{name}: must be a non-empty list of tables")
    out = []
    allowed = {f.name for f in fields(cls)}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise CatalogueError(f"{name}[{index}]: must be a table")
        item = {str(k).lower(): v for k, v in item.items()}
        unknown = set(item) - allowed
        if unknown:
            raise CatalogueError(f"{name}[{index}]: unknown field {sorted(unknown)[0]!r}")
        try:
            out.append(cls(**item))
        except TypeError as exc:
            raise CatalogueError(f"{name}[{index}]: {exc}") from None
    return out


CIE = "cambridge-international"
OCR = "ocr"

DEFAULT_CATALOGUE: dict[str, Any] = {
    "brands": [
        {
            "key": CIE,
            "name": "Cambridge International Education",
            "colour": "#1d3f6e",
            "accent": "#00703c",
            "mark": "MC",
            "mark_shape": "circle",
        },
        {
            "key": OCR,
            "name": "Cambridge OCR",
            "colour": "#4a2371",
            "accent": "#b5005b",
            "mark": "OCR",
            "mark_shape": "square",
        },
    ],
    "services": [
        {
            "key": "my_cambridge",
            "name": "My Cambridge",
            "brand": CIE,
            "description": N_("Manage the accounts of your centre and their access to services."),
        },
        {
            "key": "submit_for_assessment",
            "name": "Submit for Assessment",
            "brand": CIE,
            "url": "http://127.0.0.1:5101/",
            "description": N_("Upload and submit candidate marks and work."),
        },
        {
            "key": "access_arrangements",
            "name": "Apply for Access Arrangements",
            "brand": CIE,
            "url": "http://127.0.0.1:5102/",
            "description": N_("Request access arrangements for candidates and view the outcome."),
        },
        {
            "key": "global_listening",
            "name": "Global Listening",
            "brand": CIE,
            "url": "http://127.0.0.1:5103/",
            "description": N_("Securely download confidential audio files for listening exams."),
        },
        {
            "key": "school_support_hub",
            "name": "School Support Hub",
            "brand": CIE,
            "description": N_("Teaching and assessment materials and online forums."),
        },
        {
            "key": "primary_support",
            "name": "Cambridge Primary support site",
            "brand": CIE,
            "url": "http://127.0.0.1:5104/",
            "description": N_("Support for Cambridge Primary teachers."),
        },
        {
            "key": "lower_secondary_support",
            "name": "Cambridge Lower Secondary support site",
            "brand": CIE,
            "description": N_("Support for Cambridge Lower Secondary teachers."),
        },
        {
            "key": "ocr_my_cambridge",
            "name": "My Cambridge (OCR)",
            "brand": OCR,
            "description": N_(
                "Manage the accounts of your centre and their access to OCR services."
            ),
        },
        {
            "key": "ocr_interchange",
            "name": "OCR Interchange",
            "brand": OCR,
            "url": "http://127.0.0.1:5105/",
            "description": N_("Make entries and view results for OCR qualifications."),
        },
    ],
    "roles": [
        {
            "key": USER_MANAGEMENT,
            "service": "my_cambridge",
            "name": N_("User Management"),
            "description": N_(
                "Create, edit and delete accounts at the centre and manage their "
                "access to services."
            ),
        },
        {
            "key": "sfa.exams_officer",
            "service": "submit_for_assessment",
            "name": N_("Submit for Assessment: Exams Officer"),
            "description": N_(
                "Upload and submit candidate work and samples for the centre; "
                "receives all notification emails."
            ),
        },
        {
            "key": "sfa.teacher",
            "service": "submit_for_assessment",
            "name": N_("Submit for Assessment: Teacher"),
            "description": N_(
                "Upload and submit candidate work and samples; notified only about "
                "work they submitted."
            ),
        },
        {
            "key": "aa.nominated_user",
            "service": "access_arrangements",
            "name": N_("Access Arrangements Nominated User"),
            "description": N_("Submit and manage candidate access arrangement applications."),
        },
        {
            "key": "gl.exams_officer",
            "service": "global_listening",
            "name": N_("Global Listening"),
            "description": N_("Confidential exam audio. Only the centre's exams officer holds it."),
            "grantable_by_centre": False,
        },
        {
            "key": "ssh.teacher",
            "service": "school_support_hub",
            "name": N_("School Support Hub: Teacher"),
            "description": N_("Use the School Support Hub."),
        },
        {
            "key": "ssh.admin",
            "service": "school_support_hub",
            "name": N_("School Support Hub: Administrator"),
            "description": N_("Administer the School Support Hub for the centre."),
        },
        {
            "key": "primary.teacher",
            "service": "primary_support",
            "name": N_("Primary support site: Teacher"),
            "description": N_("Use the Cambridge Primary support site."),
        },
        {
            "key": "primary.admin",
            "service": "primary_support",
            "name": N_("Primary support site: Administrator"),
            "description": N_("Administer the Cambridge Primary support site for the centre."),
        },
        {
            "key": "lowersec.teacher",
            "service": "lower_secondary_support",
            "name": N_("Lower Secondary support site: Teacher"),
            "description": N_("Use the Cambridge Lower Secondary support site."),
        },
        {
            "key": "lowersec.admin",
            "service": "lower_secondary_support",
            "name": N_("Lower Secondary support site: Administrator"),
            "description": N_(
                "Administer the Cambridge Lower Secondary support site for the centre."
            ),
        },
        {
            "key": "ocr.user_management",
            "service": "ocr_my_cambridge",
            "name": N_("User Management"),
            "description": N_("Create, edit and delete accounts at the OCR centre."),
        },
        {
            "key": "ocr.interchange",
            "service": "ocr_interchange",
            "name": N_("OCR Interchange"),
            "description": N_("Use OCR Interchange for the centre."),
        },
    ],
}
