"""How often maild died while taking a message in, so one mail cannot keep it down for ever.

Every exception a message causes is caught and quarantines that message alone. What no `except`
catches is the process dying: a segfault in a C extension, the kernel's OOM killer, systemd's
watchdog after a hang. Restarted, maild would take the same message in and die again. So each
batch is written to a small ledger before it is taken in and marked ended after; a batch still
open when maild starts again was being taken in when it died. Its messages are then taken in one
at a time, and a message during which maild died `[limits] parse_attempts` times is quarantined
without being parsed (Mailman's shunt queue, in miniature).

The ledger needs no fsync: a process that dies leaves its written lines in the page cache; only
a power cut loses them, and then the count is merely lower.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_BEGIN = "B"
_END = "E"
_FORGET = "F"  # these messages were taken in after all: their deaths no longer count
# Start the file afresh once it is this large and no batch is open.
_COMPACT_BYTES = 1 << 16


class Attempts:
    """The ledger of batches being taken in: `data_dir/intake.attempts`, one line per event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.deaths: Counter[str] = self._read()
        self._rewrite()

    def tries(self, key: str) -> int:
        """How many times maild died while this message was being taken in."""
        return self.deaths[key]

    def suspect(self, key: str) -> bool:
        """Whether maild died during this message's batch: take it in alone from now on."""
        return key in self.deaths

    @contextmanager
    def taking(self, keys: Iterable[str]) -> Iterator[None]:
        """Around taking a batch in: begun before, ended after, also when an exception leaves.

        An exception is not a death: the message is not to blame for a full disk.
        """
        keys = list(keys)
        self._append(f"{_BEGIN} {' '.join(keys)}\n")
        try:
            yield
        finally:
            forgotten = [key for key in keys if self.deaths.pop(key, None)]
            self._append(f"{_END}\n" + (f"{_FORGET} {' '.join(forgotten)}\n" if forgotten else ""))

    def _read(self) -> Counter[str]:
        """Count, per message, the batches that began and never ended."""
        deaths: Counter[str] = Counter()
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return deaths
        open_batch: list[str] | None = None
        for line in lines:
            kind, _, rest = line.partition(" ")
            if kind == _BEGIN:
                if open_batch is not None:
                    deaths.update(open_batch)
                open_batch = rest.split()
            elif kind == _END:
                open_batch = None
            elif kind == _FORGET:
                for key in rest.split():
                    deaths.pop(key, None)
        if open_batch is not None:
            deaths.update(open_batch)
        return deaths

    def _rewrite(self) -> None:
        """Keep only the deaths counted so far, so the file stays small: one unended begin per
        death, which reads back as the same count."""
        text = "".join(f"{_BEGIN} {key}\n" * count for key, count in self.deaths.items())
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    def _append(self, line: str) -> None:
        """Append; a large file with nothing left to remember starts afresh first."""
        if not self.deaths and line.startswith(_BEGIN) and self._too_large():
            self.path.write_text("", encoding="utf-8")
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)

    def _too_large(self) -> bool:
        try:
            return self.path.stat().st_size > _COMPACT_BYTES
        except FileNotFoundError:
            return False
