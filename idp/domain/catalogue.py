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
        row = services.pop(service.key, None) or ServiceRow(key=service.key)
        row.name, row.brand, row.url = service.name, service.brand, service.url
        row.description, row.active = service.description, True
        db.session.add(row)
    for row in services.values():
        row.active = False
    db.session.flush()
    for position, role in enumerate(catalogue.roles):
        row = roles.pop(role.key, None) or RoleRow(key=role.key)
        row.service_key, row.name, row.description = role.service, role.name, role.description
        row.grantable_by_centre, row.position, row.active = role.grantable_by_centre, position, True
        db.session.add(row)
    for row in roles.values():
        row.active = False
    db.session.flush()
    return {"services": len(catalogue.services), "roles": len(catalogue.roles)}
