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
from maild.ingest import ingest_batch
from maild.intake.parse_pool import ParserPool
from maild.store import Store, fsync_dir


class Spool:
    def __init__(self, root: Path) -> None:
        self.tmp = root / "spool" / "tmp"
        self.new = root / "spool" / "new"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.new.mkdir(parents=True, exist_ok=True)
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

    def drain(self) -> int:
        handled = 0
        while paths := self.spool.waiting(self.batch_size):
            self.heartbeat()  # a backlog is many batches: systemd's watchdog must hear from us
            items = [(path.read_bytes(), f"listener:{path.name}") for path in paths]
            now = self.clock.now()
            ingest_batch(self.store, items, parser=self.parser, config=self.config, now=now)
            self.spool.done(paths)
            handled += len(paths)
        return handled

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
