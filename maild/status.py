"""`maild status`: is the daemon running and is it well — for admins and for monitoring.

The daemon leaves a small status file after every cycle (when it last took mail in, its last
error); everything else is read from the store, read-only, while the daemon runs.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from maild.clock import iso
from maild.sla import DONE_STATUSES
from maild.store import Store, StoreError, write_atomically

STATUS_FILE = "status.json"


def write_status(root: Path, status: dict[str, Any]) -> None:
    write_atomically(root / STATUS_FILE, orjson.dumps(status))


def daemon_pid(root: Path) -> int | None:
    """The pid of the maild holding the data directory's lock, or None when none does."""
    lock = root / "maild.lock"
    try:
        with open(lock, encoding="ascii") as f:  # read-only: a monitoring user may not write
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: never blocks a writer long
            except BlockingIOError:
                text = f.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(f, fcntl.LOCK_UN)
            return None
    except OSError:  # no lock file yet, or not ours to read
        return None


def collect(root: Path, next_digest_at: datetime | None = None) -> dict[str, Any]:
    """The figures of `maild status --json` (fields may be added, never renamed)."""
    pid = daemon_pid(root)
    daemon: dict[str, Any] = {}
    with contextlib.suppress(FileNotFoundError, orjson.JSONDecodeError):
        daemon = orjson.loads((root / STATUS_FILE).read_bytes())
    pending: list[dict[str, Any]] = []
    tickets: list[dict[str, Any]] = []
    incidents: dict[str, Any] = {}
    quarantined = 0
    # No data yet: nothing running, nothing waiting.
    with contextlib.suppress(StoreError), Store.open(root, readonly=True) as store:
        pending = store.outgoing("pending")
        tickets = [t for t in store.tickets() if t["status"] not in DONE_STATUSES]
        incidents = {k: store.state(f"incident:{k}") for k in ("intake", "outbox")}
        quarantined = len(store.quarantined())
    return {
        "running": pid is not None,
        "pid": pid if pid and pid > 0 else None,
        "started_at": daemon.get("started_at") if pid else None,
        "last_poll_at": daemon.get("last_poll_at"),
        "intake_error": daemon.get("intake_error") if pid else None,
        "outbox_pending": len(pending),
        "oldest_unsent_at": min((m["created_at"] for m in pending), default=None),
        "quarantined": quarantined,
        "open_tickets": len(tickets),
        "open_by_priority": dict(sorted(Counter(t["priority"] for t in tickets).items())),
        # Only trouble that lasted past its [admin] threshold (and was told) is an incident.
        "incidents": {k: v for k, v in incidents.items() if v and v.get("alerted_at")},
        "next_digest_at": iso(next_digest_at) if next_digest_at else None,
    }
