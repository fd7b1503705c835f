"""Copy the configured catalogue of services and roles into the database."""

from __future__ import annotations

from sqlalchemy import select

from idp.catalogue import Catalogue
from idp.extensions import db
from idp.models import RoleRow, ServiceRow


def sync(catalogue: Catalogue) -> dict[str, int]:
    """Insert or update every service and role; mark those no longer configured inactive.

    Roles are never deleted, so memberships that hold a retired role keep their history.
    """
    services = {row.key: row for row in db.session.scalars(select(ServiceRow))}
    roles = {row.key: row for row in db.session.scalars(select(RoleRow))}
    for service in catalogue.services:
        row = services.pop(service.key) if service.key in services else ServiceRow(key=service.key)
        row.name, row.brand, row.url = service.name, service.brand, service.url
        row.description, row.active = service.description, True
        db.session.add(row)
    for row in services.values():
        row.active = False
    db.session.flush()
    for position, role in enumerate(catalogue.roles):
        role_row = roles.pop(role.key) if role.key in roles else RoleRow(key=role.key)
        role_row.service_key, role_row.name = role.service, role.name
        role_row.description, role_row.grantable_by_centre = (
            role.description,
            role.grantable_by_centre,
        )
        role_row.position, role_row.active = position, True
        db.session.add(role_row)
    for role_row in roles.values():
        role_row.active = False
    db.session.flush()
    return {"services": len(catalogue.services), "roles": len(catalogue.roles)}
