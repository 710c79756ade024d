"""The one injectable clock: everything that asks "what time is it" asks this."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock stopped at one instant: `maild once --now T` and tests."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError(
                "a fixed clock needs a timezone-aware time, e.g. 2026-11-23T10:00+08:00"
            )
        self.instant = instant.astimezone(UTC)

    def now(self) -> datetime:
        return self.instant


@functools.lru_cache(maxsize=64)
def iso(moment: datetime) -> str:
    """How maild stores and prints times: ISO 8601 in UTC, to the second. Cached: one ingest
    batch or sweep formats the same `now` for every event it writes."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
