"""Ticket priorities and the first-response commitments of the service charter."""

from __future__ import annotations

DEFAULT_PRIORITY = "general"

# First response within 2 h / 4 h / 8 h for urgent / important / general issues.
FIRST_RESPONSE_HOURS = {"urgent": 2, "important": 4, "general": 8}
