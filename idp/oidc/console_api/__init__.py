"""The console's searches as a read-only JSON API, for the exam board's own tools.

``/api/console/...``, for a client calling as itself (client_credentials) with the scope
``console.read``, which only an operator grants (``idp clients set-api``, or the client's page).
Unlike ``/api/organisations`` it is not limited to a service's brands: it reads what the
support desk reads. Every answer is ``Cache-Control: no-store``; errors are RFC 6750 JSON.

One blueprint (``base.bp``); the routes, one module per family of searches:

- ``audit``: the service-wide audit log, ``/api/console/audit``;
- ``centres``: the centre search and a centre's summary;
- ``people``: a person by address, and a person's profile;
"""

from idp.oidc.console_api import audit, centres, people  # noqa: F401  (their routes)
from idp.oidc.console_api.base import bp

__all__ = ["bp"]
