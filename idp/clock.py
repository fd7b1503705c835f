"""The one source of time. Tests move it with ``advance``, hold it still with ``freeze`` and
put it back with ``reset``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_frozen: datetime | None = None


def now() -> datetime:
    """Timezone-aware UTC now."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def timestamp() -> int:
    return int(now().timestamp())


def advance(seconds: float) -> None:
    """Move the clock forward (tests only)."""
    global _offset, _frozen
    if _frozen is not None:
        _frozen += timedelta(seconds=seconds)
    else:
        _offset += timedelta(seconds=seconds)


def freeze() -> None:
    """Stop the clock where it is, so that only ``advance`` moves it: a test of a wait does
    not depend on how fast the machine runs it (tests only)."""
    global _frozen
    _frozen = now()


def reset() -> None:
    global _offset, _frozen
    _offset = timedelta(0)
    _frozen = None
