"""SLA durations as written in config ("30m", "2h", "5d"), kept symbolic until a calendar is known.

A day is not a fixed number of seconds: "5d" on a 09:00-18:00 calendar is 45 h of counted time,
on a 24x7 calendar 120 h. So a `Duration` keeps its unit, and only `seconds()` resolves it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

UNIT_SECONDS = {"m": 60.0, "h": 3600.0}
"""Exact lengths of the clock units; "d" is deliberately absent: it depends on the calendar."""

UNITS = ("m", "h", "d")

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([mhd])\s*", re.IGNORECASE)
_EXAMPLES = '"30m", "2h" or "5d"'


@dataclass(frozen=True)
class Duration:
    """An amount of counted time: minutes, hours, or working days of some calendar."""

    amount: float
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"{self.unit!r} is not a duration unit: use one of m, h or d")
        amount = float(self.amount)
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"a duration must be a finite amount >= 0, not {self.amount!r}")
        # Stored as float so that Duration(2, "h") == parse_duration("2h").
        object.__setattr__(self, "amount", amount)

    def seconds(self, day_seconds: float) -> float:
        """Counted seconds; `day_seconds` is the calendar's working day (86400 on 24x7)."""
        if self.unit == "d":
            return self.amount * day_seconds
        return self.amount * UNIT_SECONDS[self.unit]

    def __str__(self) -> str:
        # Positional notation from the shortest exact repr, so "1e-07" never appears and
        # parse_duration(str(d)) == d for every duration.
        text = format(Decimal(repr(self.amount)), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return f"{text}{self.unit}"


def parse_duration(text: str) -> Duration:
    """Read "30m", "2h", "1.5h", "5d" or "2 H"; the error says what a valid duration looks like."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as {_EXAMPLES}")
    return Duration(float(match.group(1)), match.group(2).lower())
