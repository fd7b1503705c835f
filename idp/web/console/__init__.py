"""The console: the exam board's own pages for its support desk and operators.

One blueprint (``blueprint.bp``, ``/console``). Only staff (``idp staff grant``) reach it, and
only from a sign-in made with a passkey (``blueprint.gate``); for everyone else it does not
exist (404). Every action is recorded with who did it and why (``idp.domain.staff.record``).

Its views, one module per family of pages:

- ``blueprint``: the gate, the console's front page, and confirming with a passkey;
- ``centres``, ``centre_actions``: find a centre, its page, and the actions on it;
- ``people``: find a person, their account, and the support desk's actions on it;
- ``audit``: the service-wide audit log and its CSV file;
- ``keys``: the signing keys, and rotating one (operators only);
"""

from idp.web.console import (  # noqa: F401  (their routes)
    audit,
    centre_actions,
    centres,
    keys,
    people,
)
from idp.web.console.blueprint import bp

__all__ = ["bp"]
