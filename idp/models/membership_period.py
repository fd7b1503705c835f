"""The times a person was a member of an organisation.

A period is opened when a ``memberships`` row is inserted and closed when it is deleted, by the
two mapper events below, whatever flow made or ended the membership (adding someone, accepting an
invitation, moving centre, removal, account deletion): one place keeps the history, so no flow can
forget it. A centre's audit log shows a person's own events (their sign-ins) only within their
periods at that centre (``idp.domain.audit``).

What the events cannot see is a bulk ``delete(Membership)`` / ``update(Membership)`` statement
or a database cascade: nothing deletes memberships that way (``tests/domain/
test_membership_periods.py`` keeps it so), and an organisation's own deletion takes its periods
with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, event, insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from idp import clock
from idp.extensions import db
from idp.models.base import UTCDateTime
from idp.models.organisation import Membership


class MembershipPeriod(db.Model):  # type: ignore[name-defined]
    """From ``started_at`` until ``ended_at`` (None: still a member), the user belonged to the
    organisation. A person who leaves and joins again has two periods."""

    __tablename__ = "membership_periods"
    __table_args__ = (
        # The audit log reads an organisation's periods and joins each to the person's events;
        # closing a period finds the open one of (organisation, person).
        Index("ix_membership_periods_organisation_user", "organisation_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # An account's deletion takes its periods with it: its events keep no link to it either
    # (audit_events.actor_user_id is set to NULL), so they could not be matched anyway.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@event.listens_for(Membership, "after_insert")
def _membership_started(_mapper: Mapper[Any], connection: Connection, member: Membership) -> None:
    connection.execute(
        insert(MembershipPeriod.__table__).values(
            user_id=member.user_id,
            organisation_id=member.organisation_id,
            started_at=member.created_at or clock.now(),
        )
    )


@event.listens_for(Membership, "after_delete")
def _membership_ended(_mapper: Mapper[Any], connection: Connection, member: Membership) -> None:
    periods = MembershipPeriod.__table__
    connection.execute(
        update(periods)
        .where(
            periods.c.organisation_id == member.organisation_id,
            periods.c.user_id == member.user_id,
            periods.c.ended_at.is_(None),
        )
        .values(ended_at=clock.now())
    )
