"""My Organisation: the users of the organisations an exams officer manages.

The pages parse forms and call ``domain.management``, which decides every rule; a refused
action is rolled back and shown as a message. Organisations are addressed by centre number and
people by their subject identifier, and both are checked on every request.

One blueprint (``blueprint.bp``); its views, one module per family of pages:

- ``users``: the users list, Add user(s), a person's page (or an invitation's);
- ``actions``: what an officer does to one person from their page, one view each: roles,
  suspend, restore, resend the invitation, change the address (or cancel its change), send a
  password reset link;
- ``leaving``: delete or remove from the organisation (after each service has transferred
  what it holds), withdraw an invitation;
- ``csv_import``: the CSV import and the users list's download;
- ``audit_log``: the organisation's audit log.

Beside them: ``common`` (the organisations managed, the rules' settings, the list's query),
``confirmation`` (the question before an action with consequences), ``consequences`` (each
question's words, and the notices after) and ``invitations`` (an invitation's page).
"""

from idp.web.organisation import actions, audit_log, csv_import, leaving, users
from idp.web.organisation.blueprint import bp

__all__ = ["actions", "audit_log", "bp", "csv_import", "leaving", "users"]
