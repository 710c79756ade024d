"""The listener's durable hand-off: a message is on disk, fsynced, before the server says 250.

Maildir-style: written under tmp/, fsynced, renamed into new/. The service loop takes files from
new/ in batches and deletes each only after its batch is committed, so a crash in between means a
replay, which Message-ID dedupe turns into a no-op.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from maild.clock import Clock
from maild.config import Config
from maild.ingest import ingest_batch, quarantine
from maild.intake.attempts import Attempts
from maild.intake.parse_pool import ParserPool
from maild.store import Store, fsync_dir


class Spool:
    def __init__(self, root: Path) -> None:
        """Made by the daemon holding the data directory's lock: anything left in tmp/ is a
        write a dead listener never answered 250 for (the MTA still has that mail)."""
        self.tmp = root / "spool" / "tmp"
        self.new = root / "spool" / "new"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.new.mkdir(parents=True, exist_ok=True)
        for unanswered in self.tmp.iterdir():
            unanswered.unlink(missing_ok=True)
        self.arrived = threading.Event()

    def put(self, raw: bytes) -> Path:
        """Durably keep one message; safe to call from the listener's thread."""
        name = f"{time.time_ns()}.{os.getpid()}.{uuid.uuid4().hex}.eml"
        tmp = self.tmp / name
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        final = self.new / name
        os.rename(tmp, final)
        fsync_dir(self.new)
        self.arrived.set()
        return final

    def waiting(self, limit: int) -> list[Path]:
        """The oldest messages not yet taken in, at most `limit` of them."""
        return sorted(self.new.iterdir())[:limit]

    def done(self, paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
        fsync_dir(self.new)


class SpoolIntake:
    """Drains the listener's spool into the store, one commit per batch."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        spool: Spool,
        stop: threading.Event,
        parser: ParserPool,
        *,
        batch_size: int = 100,
        wake: threading.Event | None = None,
    ) -> None:
        self.stop = stop
        self.wake = wake or stop  # ends a wait early: stop, or work for the loop (CLI commands)
        self.heartbeat: Callable[[], None] = lambda: None  # called once per batch
        self.parser = parser
        self.config = config
        self.store = store
        self.clock = clock
        self.spool = spool
        self.batch_size = batch_size
        self.last_error: str | None = None
        self.attempts = Attempts(store.root / "intake.attempts")

    def drain(self) -> int:
        """Take in everything spooled, a batch per commit; a file leaves the spool only after
        its batch is committed."""
        handled = 0
        while paths := self._next_batch():
            self.heartbeat()  # a backlog is many batches: systemd's watchdog must hear from us
            with self.attempts.taking(path.name for path in paths):
                self._take(paths)
            self.spool.done(paths)
            handled += len(paths)
        self.last_error = None
        return handled

    def _next_batch(self) -> list[Path]:
        """The oldest spooled messages; a message maild died on before comes alone, so the next
        death is charged to it and not to the whole batch."""
        paths = self.spool.waiting(self.batch_size)
        suspects = [path for path in paths if self.attempts.suspect(path.name)]
        return suspects[:1] or paths

    def _take(self, paths: list[Path]) -> None:
        now = self.clock.now()
        limit = self.config.limits.parse_attempts
        deaths = self.attempts.tries(paths[0].name) if len(paths) == 1 else 0
        if deaths >= limit:
            reason = f"maild died {deaths} times taking this message in ([limits] parse_attempts)"
            source = f"listener:{paths[0].name}"
            with self.store.batch():
                quarantine(self.store, paths[0].read_bytes(), reason=reason, source=source, now=now)
            return
        items = [(path.read_bytes(), f"listener:{path.name}") for path in paths]
        ingest_batch(self.store, items, parser=self.parser, config=self.config, now=now)

    def wait(self, seconds: float) -> bool:
        """Block until the listener spooled something, `seconds` passed, or stop was set."""
        deadline = time.monotonic() + seconds
        while not self.wake.is_set():
            if self.spool.arrived.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                self.spool.arrived.clear()
                return True
            if time.monotonic() >= deadline:
                return False
        return False

    def close(self) -> None:
        return None
