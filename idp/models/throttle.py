"""The throttles' counts, when they live in the database (``rate_limits.storage_uri =
"database://"``): one row per limit, source and window, shared by every worker and instance."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db


class ThrottleCount(db.Model):  # type: ignore[name-defined]
    __tablename__ = "throttle_counts"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    # Seconds since the epoch, as the throttling library counts its windows.
    expires_at: Mapped[float] = mapped_column(Float, index=True)
