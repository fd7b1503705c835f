"""The one source of time. Tests move it with ``freeze``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def shifted(seconds: float) -> Iterator[None]:
    """Run a block as if ``seconds`` had passed (tests only)."""
    advance(seconds)
    try:
        yield
    finally:
        advance(-seconds)


def reset() -> None:
    global _offset, _frozen
    _offset = timedelta(0)
    _frozen = None


def aware(value: datetime) -> datetime:
    """Datetimes read back from SQLite are naive; every stored datetime is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
