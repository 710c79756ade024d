"""Taking mail in from an IMAP mailbox: fetch in batches, commit, then move.

The order is what keeps mail safe: a batch is committed (tickets, last UID and the moves still
to do) before any message leaves the inbox, and moves a crash interrupted are finished on the
next connection. UIDVALIDITY changes drop the UID state; Message-ID dedupe covers the replay.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from maild.clock import Clock
from maild.config import Config, ImapConfig
from maild.ingest import IngestFailed, ingest_checked, quarantine
from maild.intake.attempts import Attempts
from maild.intake.imap import FetchedMessage, ImapError, ImapSource
from maild.intake.parse_pool import Parsed, ParseJob, ParserPool
from maild.store import Store

log = logging.getLogger("maild.mailbox")

_LONGEST_BACKOFF = 300.0


class MailboxIntake:
    """Drains one IMAP folder into the store; reconnects with back-off after any failure."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        stop: threading.Event,
        parser: ParserPool,
        *,
        wake: threading.Event | None = None,
    ) -> None:
        assert config.imap is not None
        self.wake = wake or stop  # ends a wait early: stop, or work for the loop (CLI commands)
        self.heartbeat: Callable[[], None] = lambda: None  # called once per batch
        self.parser = parser
        self.config = config
        self.imap: ImapConfig = config.imap
        self.store = store
        self.clock = clock
        self.stop = stop
        self.last_error: str | None = None
        self._source: ImapSource | None = None
        self._suspect: tuple[int, int] | None = None  # UIDs of a batch whose FETCH failed
        self._unreadable: dict[int, str] = {}  # UID -> the error fetching it alone gave
        self._backoff = 0.0
        self._retry_at = 0.0
        self._state_key = f"imap:{self.imap.username}@{self.imap.host}/{self.imap.folder}"
        self.attempts = Attempts(store.root / "intake.attempts")
        self._uidvalidity = 0

    def drain(self) -> int:
        """Take in everything waiting; returns how many messages were handled."""
        if time.monotonic() < self._retry_at:
            return 0
        try:
            handled = self._drain()
        except ImapError as e:
            self._failed(e)
            return 0
        self.last_error = None
        self._backoff = 0.0
        return handled

    def wait(self, seconds: float) -> bool:
        """Block until new mail may be waiting (IMAP IDLE or a poll interval), or stop."""
        if self._source is None:
            pause = max(0.0, min(seconds, self._retry_at - time.monotonic()))
            self.wake.wait(pause)
            return not self.wake.is_set()
        try:
            return self._source.wait_for_mail(seconds, self.wake)
        except ImapError as e:
            self._failed(e)
            return False

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def _failed(self, error: ImapError) -> None:
        self.close()
        self._backoff = min(max(self._backoff * 2, 1.0), _LONGEST_BACKOFF)
        self._retry_at = time.monotonic() + self._backoff
        self.last_error = str(error)
        log.warning("IMAP %s: %s; retrying in %.0f s", self.imap.host, error, self._backoff)

    def _connect(self) -> tuple[ImapSource, int]:
        source = ImapSource(self.imap, max_bytes=self.config.limits.message_bytes)
        uidvalidity = source.connect()
        self._source = source
        log.info("IMAP connected to %s as %s", self.imap.host, self.imap.username)
        return source, uidvalidity

    def _drain(self) -> int:
        if self._source is None:
            self._source, self._uidvalidity = self._connect()
        source = self._source
        state = self._load_state(self._uidvalidity)
        self._move(source, state)
        new = [uid for uid in source.uids() if uid > state["last_uid"]]
        new = self._set_aside_unreadable(new, state)
        handled = 0
        # Pipelined: the workers parse batch n+1 while this process stores batch n.
        ahead: tuple[list[FetchedMessage], ParseJob] | None = None
        try:
            for batch in self._fetch(source, new):
                condemned = self._condemned(batch)
                parsing = self.parser.submit(
                    [m.raw for m in batch if m.raw is not None and m.uid not in condemned]
                )
                if ahead is not None:
                    handled += self._take_batch(*ahead, state)
                    self._move(source, state)
                ahead = (batch, parsing)
                if self.stop.is_set():
                    break
        except ImapError:
            if ahead is not None:  # keep what was fetched; its moves wait for the reconnect
                self._take_batch(*ahead, state)
            raise
        if ahead is not None:
            handled += self._take_batch(*ahead, state)
            self._move(source, state)
        if self.store.uncommitted:
            self.store.commit()
        return handled

    def _fetch(self, source: ImapSource, uids: list[int]) -> Iterator[list[FetchedMessage]]:
        """Fetch in batches; after a batch failed, its UIDs one at a time to find the culprit.

        Some messages make the server fail every FETCH of them (Dovecot drops the session on an
        unreadable file), which would stall intake at that batch forever.
        """
        size = self.imap.batch_size
        start = 0
        while start < len(uids):
            chunk = uids[start : start + (1 if self._is_suspect(uids[start]) else size)]
            try:
                yield from source.fetch(chunk)
            except ImapError as error:
                if len(chunk) == 1:
                    self._unreadable[chunk[0]] = str(error)
                else:
                    self._suspect = (chunk[0], chunk[-1])
                raise
            start += len(chunk)

    def _is_suspect(self, uid: int) -> bool:
        """Fetch and take this message in alone: its batch failed to fetch, or maild died
        while taking it in (see maild.intake.attempts)."""
        if self.attempts.suspect(self._attempt_key(uid)):
            return True
        return self._suspect is not None and self._suspect[0] <= uid <= self._suspect[1]

    def _attempt_key(self, uid: int) -> str:
        return f"imap:{self.imap.folder}:{self._uidvalidity}:{uid}"

    def _condemned(self, batch: list[FetchedMessage]) -> dict[int, str]:
        """UID -> reason, for messages maild died on `parse_attempts` times: not parsed again."""
        limit = self.config.limits.parse_attempts
        condemned = {}
        for message in batch:
            deaths = self.attempts.tries(self._attempt_key(message.uid))
            if deaths >= limit and message.raw is not None:
                condemned[message.uid] = (
                    f"maild died {deaths} times taking this message in ([limits] parse_attempts)"
                )
        return condemned

    def _set_aside_unreadable(self, uids: list[int], state: dict[str, Any]) -> list[int]:
        """Record messages the server cannot deliver, and go on without them.

        They stay in the folder (moving them may fail the same way) and in the quarantine
        list with the server's error, so nothing is lost and an operator can look.
        """
        unreadable = [uid for uid in uids if uid in self._unreadable]
        if not unreadable:
            return uids
        with self.store.batch():
            for uid in unreadable:
                reason = f"the IMAP server fails to send it; left in place: {self._unreadable[uid]}"
                source = f"imap:{self.imap.folder}/{uid}"
                quarantine(self.store, None, reason=reason, source=source, now=self.clock.now())
            state["last_uid"] = max(state["last_uid"], *unreadable)
            self.store.set_state(self._state_key, state)
        self._unreadable.clear()
        return [uid for uid in uids if uid > state["last_uid"]]

    def _load_state(self, uidvalidity: int) -> dict[str, Any]:
        state = self.store.state(self._state_key)
        if state is None or state.get("uidvalidity") != uidvalidity:
            if state is not None:
                log.warning("UIDVALIDITY of %s changed; re-reading the folder", self.imap.folder)
            state = {"uidvalidity": uidvalidity, "last_uid": 0, "moves": {}}
        return state

    def _take_batch(
        self, batch: list[FetchedMessage], parsing: ParseJob, state: dict[str, Any]
    ) -> int:
        """One commit: the batch's tickets, its last UID and the moves that are to follow.

        `heartbeat` is called first: a backlog is many batches, and systemd's watchdog must
        hear from the daemon during it. The attempts ledger brackets the work, parsing
        included, so a death in it is charged to these messages.

        An internal error on one message rolls the batch back; it is taken again with that
        message quarantined (IngestFailed says why). Condemned messages were not parsed.
        """
        self.heartbeat()
        with self.attempts.taking(self._attempt_key(m.uid) for m in batch):
            parsed = list(parsing.results())
            condemned = self._condemned(batch)  # as when it was submitted: left unparsed
            broken = dict(condemned)
            while True:
                try:
                    self._commit_batch(batch, parsed, state, broken, condemned)
                    return len(batch)
                except IngestFailed as failed:
                    uid = int(failed.source.rpartition("/")[2])
                    broken[uid] = failed.reason

    def _commit_batch(
        self,
        batch: list[FetchedMessage],
        parsed: list[Parsed],
        state: dict[str, Any],
        broken: dict[int, str],
        condemned: dict[int, str],
    ) -> None:
        now = self.clock.now()
        moves: dict[str, list[int]] = defaultdict(list)
        for folder, uids in state["moves"].items():
            moves[folder].extend(uids)  # copies: a rolled-back batch leaves `state` as it was
        results = iter(parsed)
        with self.store.batch():
            for message in batch:
                was_parsed = message.raw is not None and message.uid not in condemned
                msg = next(results) if was_parsed else None
                destination = self._take(message, msg, now, broken.get(message.uid))
                if destination:
                    moves[destination].append(message.uid)
            last_uid = max([state["last_uid"], *(m.uid for m in batch)])
            self.store.set_state(
                self._state_key, {**state, "last_uid": last_uid, "moves": dict(moves)}
            )
        state["last_uid"], state["moves"] = last_uid, dict(moves)

    def _take(
        self, message: FetchedMessage, msg: Parsed | None, now: datetime, broken: str | None
    ) -> str | None:
        """Ingest one fetched message; returns the folder it should move to, if any."""
        source = f"imap:{self.imap.folder}/{message.uid}"
        if broken is not None:
            quarantine(self.store, message.raw, reason=broken, source=source, now=now)
            return self.imap.quarantine_folder
        if message.raw is not None and msg is not None:
            outcome = ingest_checked(
                self.store, message.raw, msg, config=self.config, now=now, source=source
            )
            if outcome.result == "quarantined":
                return self.imap.quarantine_folder
            return self.imap.processed_folder
        limit = self.config.limits.message_bytes
        if message.size > limit:
            reason = f"message is {message.size} bytes, over the limit of {limit}"
            quarantine(self.store, None, reason=reason, source=source, now=now, size=message.size)
            return self.imap.quarantine_folder
        return None  # expunged by someone else meanwhile: nothing to take or move

    def _move(self, source: ImapSource, state: dict[str, Any]) -> None:
        """Move what committed batches handled; the cleared list rides on the next commit.

        If a crash loses that commit the moves are repeated, and moving UIDs that already left
        the folder is a no-op in IMAP.
        """
        if not state["moves"]:
            return
        for folder, uids in state["moves"].items():
            source.move(uids, folder)
            log.debug("moved %d message(s) to %s", len(uids), folder)
        state["moves"] = {}
        self.store.set_state(self._state_key, state)
