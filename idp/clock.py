"""The one source of time. Tests move it with ``advance`` and put it back with ``reset``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """Timezone-aware UTC now."""
    return datetime.now(UTC) + _offset


def timestamp() -> int:
    return int(now().timestamp())


def advance(seconds: float) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += timedelta(seconds=seconds)


def reset() -> None:
    global _offset
    _offset = timedelta(0)
