"""The daemon's loop: take mail in, deliver the outbox, repeat; and `once` for one cycle.

Jobs run from `schedule` are wrapped so one failing job is logged and retried on its next turn
instead of escaping run_pending() and starving the others. Between jobs the loop waits on the
intake (IMAP IDLE, or the listener's spool), so new mail is answered within seconds.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import schedule

from maild import commands
from maild.clock import Clock, iso, parse_iso
from maild.config import Config, ConfigError, load_config
from maild.datacare import check_version, migrate
from maild.editions import send_due
from maild.incidents import observe, tell_quarantined
from maild.intake.listener import Listener
from maild.intake.mailbox import MailboxIntake
from maild.intake.parse_pool import ParserPool
from maild.intake.spool import Spool, SpoolIntake
from maild.logs import register_secret
from maild.notify.outbox import FlushReport, flush
from maild.notify.sender import open_transport
from maild.sla import UPDATE_GRACE_SECONDS
from maild.status import write_status
from maild.store import Store
from maild.sweep import SweepReport, recheck_if_policies_changed, sweep
from maild.systemd import Notifier

log = logging.getLogger("maild.service")

OUTBOX_RETRY_SECONDS = 15
SWEEP_SECONDS = UPDATE_GRACE_SECONDS  # how late a warning, escalation or update may be, at most
LONGEST_WAIT_SECONDS = 30.0
DIGEST_RETRY_SECONDS = 15 * 60


class ServiceError(Exception):
    """The daemon cannot start; the message says why and what to change."""


class Intake(Protocol):
    config: Config
    last_error: str | None
    heartbeat: Callable[[], None]

    def drain(self) -> int: ...

    def wait(self, seconds: float) -> bool: ...

    def close(self) -> None: ...


@dataclass
class CycleReport:
    taken_in: int
    sweep: SweepReport
    outbox: FlushReport
    intake_error: str | None


class Service:
    def __init__(self, config: Config, store: Store, clock: Clock) -> None:
        check_version(store)  # a newer maild's data: refuse rather than damage it
        for step in migrate(store):
            log.warning("data upgraded: %s", step)
        self.config = config
        self.store = store
        self.clock = clock
        self.stop = threading.Event()
        self.wake = threading.Event()  # ends the wait for mail: stopping, or CLI commands waiting
        self.listener: Listener | None = None
        self.parser = ParserPool(config.limits)
        self._outbox_backoff = 0.0
        self._policies_checked = False  # stored check times match these SLA settings
        self.started_at = clock.now()
        self.reload_requested = False
        self.notifier = Notifier()
        self.last_poll_at: datetime | None = None  # the last intake round that worked
        self._outbox_retry_at = 0.0
        self._digest_retry_at = 0.0
        self.intake: Intake = self._make_intake()
        # The loaded store is millions of long-lived objects: keep the collector from walking
        # them on every full collection (seconds each at 100,000 tickets).
        gc.freeze()

    def _make_intake(self) -> Intake:
        intake: Intake
        if self.config.intake.mode == "imap":
            intake = MailboxIntake(
                self.config, self.store, self.clock, self.stop, self.parser, wake=self.wake
            )
        else:
            spool = Spool(self.store.root)
            intake = SpoolIntake(
                self.config, self.store, self.clock, spool, self.stop, self.parser, wake=self.wake
            )
        intake.heartbeat = self.notifier.watchdog  # a backlog must not starve the watchdog
        return intake

    def request_stop(self) -> None:
        """Finish the current batch, then leave run() (SIGTERM, SIGINT)."""
        self.stop.set()
        self.wake.set()

    def request_reload(self) -> None:
        """Read the config file again between batches (SIGHUP)."""
        self.reload_requested = True
        self.wake.set()

    def reload(self) -> bool:
        """Take a changed config file: rules, SLA, templates, recipients at once; the IMAP
        connection and the listener only when their own settings changed. A broken file is
        refused with a log line and the running config stays."""
        self.reload_requested = False
        if self.config.path is None:
            log.warning("reload: this config was not read from a file")
            return False
        try:
            new = load_config(self.config.path)
        except ConfigError as e:
            log.error("reload refused, keeping the running config:\n%s", e)
            return False
        if new.store != self.config.store:
            log.error("reload refused: [store] path changed; restart maild to move the data")
            return False
        reconnect = (new.imap, new.intake, new.limits) != (
            self.config.imap,
            self.config.intake,
            self.config.limits,
        )
        for secret in (new.imap.password if new.imap else None, new.smtp.password):
            if secret:
                register_secret(secret)  # a changed password is masked in logs too
        self.config = new
        self._policies_checked = False  # SLA settings may have changed: recheck due-times
        if reconnect:
            if self.listener is not None:
                self.listener.stop()
                self.listener = None
            self.intake.close()
            self.parser.close()
            self.parser = ParserPool(new.limits)
            self.intake = self._make_intake()
            self.start_listener()
        else:
            self.intake.config = new  # same connection, new everything else
        log.info("config reloaded from %s%s", new.path, "; intake reconnected" if reconnect else "")
        return True

    def start_listener(self) -> None:
        """Start the LMTP/SMTP listener (listener modes only); the MTA may deliver from now on."""
        if not isinstance(self.intake, SpoolIntake) or self.listener is not None:
            return
        intake = self.config.intake
        self.listener = Listener(
            self.intake.spool,
            host=intake.listen_host,
            port=intake.listen_port,
            lmtp=intake.mode == "lmtp",
            max_bytes=self.config.limits.message_bytes,
        )
        try:
            self.listener.start()
        except OSError as e:
            self.listener = None
            raise ServiceError(
                f"cannot listen on {intake.listen_host}:{intake.listen_port}: "
                f"{e.strerror or e} (is another maild or an MTA there? see [intake] listen)"
            ) from None
        log.info(
            "%s listener on %s:%d", intake.mode.upper(), intake.listen_host, intake.listen_port
        )

    def cycle(self) -> CycleReport:
        """One full cycle: commands and mail taken in, the SLA sweep, everything due delivered,
        and how it went: incidents for the admin, the status file for `maild status`."""
        self.run_commands()
        taken_in = self.take_mail()
        if self.intake.last_error is None:
            self.last_poll_at = self.clock.now()
        self.notifier.watchdog()
        swept = self.sweep()
        self.notifier.watchdog()
        _guarded("digest", self.send_digests)()
        self.notifier.watchdog()
        report = CycleReport(taken_in, swept, self.flush_outbox(), self.intake.last_error)
        self.notifier.watchdog()
        self.watch_health()
        return report

    def take_mail(self) -> int:
        """Drain the intake. A failure of any kind is intake trouble: logged, and kept as the
        intake's error until a drain works, so a stall becomes an incident the admin hears of."""
        try:
            return self.intake.drain()
        except Exception as e:
            log.exception("intake failed; trying again at its next turn")
            self.intake.last_error = f"internal error: {type(e).__name__}: {e}"
            return 0

    def watch_health(self) -> None:
        """Intake failing, or mail stuck in the outbox, for longer than [admin] allows: one
        alert, and one recovery mail when it is over."""
        now = self.clock.now()
        pending = self.store.outgoing("pending")
        oldest = min(pending, key=lambda m: m["created_at"]) if pending else None
        with self.store.batch():
            observe(self.store, self.config, "intake", self.intake.last_error, None, now)
            tell_quarantined(self.store, self.config, now)
            observe(
                self.store,
                self.config,
                "outbox",
                (oldest["last_error"] or "not sent yet") if oldest else None,
                parse_iso(oldest["created_at"]) if oldest else None,
                now,
            )
        write_status(
            self.store.root,
            {
                "pid": os.getpid(),
                "started_at": iso(self.started_at),
                "last_poll_at": iso(self.last_poll_at) if self.last_poll_at else None,
                "intake_error": self.intake.last_error,
                "updated_at": iso(now),
            },
        )

    def sweep(self) -> SweepReport:
        now = self.clock.now()
        if not self._policies_checked:
            recheck_if_policies_changed(self.store, self.config, now)
            self._policies_checked = True
        return sweep(self.store, self.config, now)

    def send_digests(self) -> list[str]:
        """The digest editions due and not yet sent (once each, also after downtime). One that
        fails is tried again after a pause, not every minute: building one takes seconds."""
        if time.monotonic() < self._digest_retry_at:
            return []
        try:
            return send_due(self.store, self.config, self.clock.now())
        except Exception:
            self._digest_retry_at = time.monotonic() + DIGEST_RETRY_SECONDS
            raise

    def run_commands(self) -> int:
        return commands.run_waiting(self.store, self.config, self.clock.now())

    def flush_outbox(self) -> FlushReport:
        """Deliver what is due, unless the server was unreachable moments ago.

        The back-off keeps a dead or black-holed SMTP server (each try a network timeout) from
        stalling intake, which runs on the same thread.
        """
        if time.monotonic() < self._outbox_retry_at:
            return FlushReport()
        report = flush(self.store, open_transport(self.config.smtp), self.clock.now(), self.config)
        if report.unreachable:
            self._outbox_backoff = min(max(self._outbox_backoff * 2, OUTBOX_RETRY_SECONDS), 300)
            self._outbox_retry_at = time.monotonic() + self._outbox_backoff
        else:
            self._outbox_backoff = 0.0
        return report

    def run(self) -> None:
        """Run until stop is set (SIGTERM): the current batch finishes, then we return."""
        self.start_listener()
        scheduler = schedule.Scheduler()
        scheduler.every(OUTBOX_RETRY_SECONDS).seconds.do(_guarded("outbox", self.flush_outbox))
        poll = self.config.imap.poll_seconds if self.config.imap else LONGEST_WAIT_SECONDS
        scheduler.every(poll).seconds.do(_guarded("intake", self.cycle))
        scheduler.every(SWEEP_SECONDS).seconds.do(_guarded("sweep", self.sweep))
        scheduler.every(SWEEP_SECONDS).seconds.do(_guarded("digest", self.send_digests))
        _guarded("intake", self.cycle)()
        self.notifier.ready(self._status_line())
        # Wait at most half the watchdog interval, so a ping is never late by a whole wait.
        interval = self.notifier.watchdog_interval
        longest = min(LONGEST_WAIT_SECONDS, interval / 2 if interval else LONGEST_WAIT_SECONDS)
        try:
            while not self.stop.is_set():
                self.notifier.watchdog()  # a hung IMAP read stops these: systemd restarts us
                scheduler.run_pending()
                pause = min(max(scheduler.idle_seconds or 0.0, 0.0), longest)
                news = self.intake.wait(pause)
                if self.stop.is_set():
                    break
                if self.wake.is_set():
                    self.wake.clear()
                    if self.reload_requested:
                        self.notifier.reloading()
                        _guarded("reload", self.reload)()
                        self.notifier.ready(self._status_line())
                    _guarded("commands", self.run_commands)()
                if news:
                    _guarded("intake", self.cycle)()
                self.notifier.status(self._status_line())
        finally:
            self.notifier.stopping("finishing the current batch")
            if self._outbox_backoff == 0.0:  # the server answered lately: send what is due
                _guarded("outbox", self.flush_outbox)()
            self.close()

    def _status_line(self) -> str:
        """What systemctl status shows: is mail coming in, is any waiting to go out."""
        error = self.intake.last_error
        polled = f"last poll {iso(self.last_poll_at)}" if self.last_poll_at else "no poll yet"
        return f"intake failing: {error}" if error else polled

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        self.intake.close()
        self.parser.close()


def _guarded(name: str, job: Callable[[], object]) -> Callable[[], None]:
    """A job that logs its failure instead of breaking the scheduler."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("job %s failed; it runs again at its next turn", name)

    return run
