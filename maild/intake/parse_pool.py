"""Parsing in worker processes, a batch ahead of the store.

Parsing is pure Python and most of intake's CPU, so a pool uses the machine's other cores while
the main process stores the previous batch. It also fences off hostile mail: a message that
hangs the parser or kills its process costs a worker and ends in quarantine, not the daemon.
Small batches (the listener's usual one message) are parsed in-process: no hand-off cost.

Each message has `parse_seconds` (the parser's own alarm, in workers and in-process); the
per-chunk timeout here is only the backstop for a hang the alarm cannot interrupt (C code).
Workers die with the daemon: a SIGKILLed daemon leaves no parser behind writing tracebacks.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing.pool import AsyncResult, Pool

from maild.config import LimitsConfig
from maild.intake.parse import ParsedMessage, ParseError, describe_failure, parse_message

log = logging.getLogger("maild.parse")

Parsed = ParsedMessage | ParseError

# Below this many messages the hand-off costs more than it saves.
SMALLEST_POOLED_BATCH = 8
CHUNKS_PER_WORKER = 4
# Beyond its messages' parse_seconds, how long a chunk may take (worker start-up, scheduling)
# before its worker is presumed hung in C code or dead.
BACKSTOP_GRACE_SECONDS = 10.0


def parse_or_error(raw: bytes, limits: LimitsConfig) -> Parsed:
    """The result of parsing one message, a ParseError being a result like any other.

    parse_message already turns every failure into a ParseError; this is the last fence, for
    one that happens while it does so (a MemoryError describing a MemoryError).
    """
    try:
        return parse_message(raw, limits=limits)
    except ParseError as error:
        return error
    except Exception as error:
        return ParseError(describe_failure(error))


ParseOne = Callable[[bytes, LimitsConfig], Parsed]


def _prepare_worker(daemon_pid: int) -> None:
    """Ignore Ctrl-C, and end silently as soon as the daemon ends, however it ends.

    Ctrl-C reaches the whole process group: the daemon finishes its batch, then closes us.
    SIGTERM stays fatal, as Pool.terminate() relies on it (a systemd unit uses KillMode=mixed).
    A SIGKILLed daemon cannot close us: a worker would finish its chunk and die writing the
    result into a pipe nobody reads, a BrokenPipe traceback in the daemon's log. The kernel's
    parent-death signal does not help, as our parent is the forkserver, which outlives us.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "pidfd_open"):  # Linux
        threading.Thread(target=_exit_with, args=(daemon_pid,), daemon=True).start()


def _exit_with(pid: int) -> None:
    """Wait for process `pid` to end, then end this process at once, without a word."""
    try:
        process = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)
    select.select([process], [], [])
    os._exit(0)


def _parse_chunk(raws: Sequence[bytes], limits: LimitsConfig, parse_one: ParseOne) -> list[Parsed]:
    return [parse_one(raw, limits) for raw in raws]


class ParseJob:
    """Parsing of one batch under way; `results()` waits for it."""

    def __init__(
        self,
        pool: ParserPool,
        chunks: list[list[bytes]],
        pending: list[AsyncResult[list[Parsed]]] | None,
    ) -> None:
        self._pool = pool
        self._chunks = chunks
        self._pending = pending

    def results(self) -> list[Parsed]:
        """One result per message, in order."""
        pool = self._pool
        if self._pending is None:
            return [pool.parse_one(raw, pool.limits) for chunk in self._chunks for raw in chunk]
        out: list[Parsed] = []
        for chunk, pending in zip(self._chunks, self._pending, strict=True):
            try:
                out.extend(pending.get(timeout=pool.backstop(len(chunk))))
            except multiprocessing.TimeoutError:
                log.error("a parser worker hung or died; isolating %d message(s)", len(chunk))
                pool.restart()
                out.extend(pool.isolate(chunk))
        return out


class ParserPool:
    """Worker processes that parse mail; started on first use, stopped by close()."""

    def __init__(
        self,
        limits: LimitsConfig,
        *,
        workers: int | None = None,
        grace: float = BACKSTOP_GRACE_SECONDS,
        parse_one: ParseOne = parse_or_error,
    ) -> None:
        self.limits = limits
        # The main process stores while the workers parse: leave it a core of its own.
        self.workers = workers if workers is not None else max((os.cpu_count() or 1) - 1, 0)
        self.grace = grace
        self.parse_one = parse_one  # a module-level function: workers import it by name
        self._pool: Pool | None = None

    def submit(self, raws: Sequence[bytes]) -> ParseJob:
        """Start parsing a batch; small batches and one-core machines parse in-process."""
        if len(raws) < SMALLEST_POOLED_BATCH or self.workers < 1:
            return ParseJob(self, [list(raws)], None)
        size = -(-len(raws) // (self.workers * CHUNKS_PER_WORKER))
        chunks = [list(raws[i : i + size]) for i in range(0, len(raws), size)]
        pool = self._started()
        pending = [
            pool.apply_async(_parse_chunk, (chunk, self.limits, self.parse_one)) for chunk in chunks
        ]
        return ParseJob(self, chunks, pending)

    def isolate(self, raws: Sequence[bytes]) -> list[Parsed]:
        """Parse messages one per task, so only the one that breaks a worker is lost."""
        out: list[Parsed] = []
        for raw in raws:
            task = self._started().apply_async(self.parse_one, (raw, self.limits))
            try:
                out.append(task.get(timeout=self.backstop(1)))
            except multiprocessing.TimeoutError:
                self.restart()
                out.append(ParseError("the parser hung or crashed on this message"))
        return out

    def backstop(self, messages: int) -> float:
        """Seconds to wait for a chunk of `messages` before presuming its worker hung or dead."""
        return self.grace + messages * self.limits.parse_seconds

    def restart(self) -> None:
        """Kill every worker (a hung one never returns by itself); the next use starts anew."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def _started(self) -> Pool:
        if self._pool is None:
            # forkserver: workers never inherit the daemon's threads (listener, IDLE) or locks.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["maild.intake.parse"])
            self._pool = context.Pool(
                self.workers, initializer=_prepare_worker, initargs=(os.getpid(),)
            )
        return self._pool
