"""SIGKILL the real daemon at random moments while mail streams in, then audit what it left.

The pieces of tests/test_kill.py: a stream of customer mail (new tickets and follow-ups, GBK
and English), a streamer that delivers it as an MTA or a mail client would, `maild run` as a
process whose log is read line by line to time the kills, and the audit of the end state: each
delivered message on exactly one ticket, one acknowledgement per ticket, nothing left waiting.
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from maild.store import Store
from tests.servers.smtp_capture import Captured
from tests.test_end_to_end import customer_mail

KILLS = int(os.environ.get("MAILD_KILLS", "50"))
SEED = int(os.environ.get("MAILD_KILL_SEED", "20261204"))
MAILS_PER_KILL = 6  # a few hundred per mode at the default 50 kills
FOLLOW_UP_SHARE = 0.2
GBK_SHARE = 0.5
TRIGGER_TIMEOUT = 2.0  # a moment whose log line never comes is killed at this age
WORKERS_GONE_TIMEOUT = 5.0
START_TIMEOUT = 30.0
STILL_SECONDS = 5.0  # no progress this long while draining: stop waiting and audit
REDELIVERY_PAUSE = 0.05  # how soon the streamer tries a refused delivery again


@dataclass(frozen=True)
class Mail:
    """One message of the stream; `opener` is the Message-ID of the mail its ticket began with."""

    message_id: str
    sender: str
    raw: bytes
    opener: str

    @property
    def opens_ticket(self) -> bool:
        return self.opener == self.message_id


def mail_stream(rng: random.Random, count: int) -> list[Mail]:
    """`count` messages in delivery order; a follow-up always comes after its ticket's opener."""
    mails: list[Mail] = []
    openers: list[Mail] = []
    for n in range(count):
        if openers and rng.random() < FOLLOW_UP_SHARE:
            mails.append(_follow_up(rng.choice(openers), n, rng))
        else:
            opener = _new_request(n, chinese=rng.random() < GBK_SHARE)
            openers.append(opener)
            mails.append(opener)
    return mails


def _new_request(n: int, *, chinese: bool) -> Mail:
    """A first mail from a sender of its own: no hourly cap or loop rule can withhold its ack."""
    message_id = f"<kill-{n}@customer.example>"
    if chinese:
        sender = f"kehu{n}@example.cn"
        subject, body = f"订单 {n} 无法导出", f"您好，订单 {n} 导出时一直报错，请帮忙看看。\n王{n}"
    else:
        sender = f"customer{n}@example.com"
        subject, body = f"Cannot export order {n}", f"Hello, exporting order {n} fails.\nAnn {n}"
    raw = customer_mail(
        sender, subject, body, charset="gbk" if chinese else "utf-8", message_id=message_id
    )
    return Mail(message_id, sender, raw, message_id)


def _follow_up(opener: Mail, n: int, rng: random.Random) -> Mail:
    """More words on an earlier ticket, threaded by In-Reply-To as a mail client does."""
    message_id = f"<kill-{n}@customer.example>"
    chinese = opener.sender.endswith(".cn")
    body = f"补充：第 {n} 条，截图见附件说明。" if chinese else f"One more detail, note {n}."
    raw = customer_mail(
        opener.sender,
        f"Re: follow-up {n}",
        body,
        charset="gbk" if chinese else "utf-8",
        message_id=message_id,
        In_Reply_To=opener.message_id,
        References=opener.message_id,
    )
    return Mail(message_id, opener.sender, raw, opener.message_id)


# --- delivering --------------------------------------------------------------------------------


Deliver = Callable[[Mail], None]


class Streamer(threading.Thread):
    """Delivers the stream in order, up to the share `allow()` has released so far.

    A delivery that raises (maild dead, or killed mid-transaction) is tried again until it
    works, as an MTA does; only a delivery that returned counts as delivered.
    """

    def __init__(self, mails: list[Mail], deliver: Deliver) -> None:
        super().__init__(daemon=True)
        self.mails = mails
        self.deliver = deliver
        self.delivered: list[Mail] = []
        self.refused = 0  # deliveries that failed and were tried again
        self._allowed = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()

    def allow(self, count: int) -> None:
        with self._changed:
            self._allowed = min(max(self._allowed, count), len(self.mails))
            self._changed.notify_all()

    def stop(self) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()

    def wait_done(self, timeout: float) -> None:
        self.allow(len(self.mails))
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"{len(self.delivered)} of {len(self.mails)} mails delivered")

    def run(self) -> None:
        for mail in self.mails:
            if not self._released(len(self.delivered)):
                return
            self._deliver_until_accepted(mail)
            if self._stopping.is_set():
                return

    def _released(self, index: int) -> bool:
        with self._changed:
            self._changed.wait_for(lambda: self._allowed > index or self._stopping.is_set())
        return not self._stopping.is_set()

    def _deliver_until_accepted(self, mail: Mail) -> None:
        while not self._stopping.is_set():
            try:
                self.deliver(mail)
            except (OSError, smtplib.SMTPException):
                self.refused += 1
                time.sleep(REDELIVERY_PAUSE)
                continue
            self.delivered.append(mail)
            return


def lmtp_delivery(host: str, port: int) -> Deliver:
    """Deliver one mail per LMTP session; anything but 250 raises (smtplib's doing)."""

    def deliver(mail: Mail) -> None:
        with smtplib.LMTP(host, port, timeout=10) as client:
            client.sendmail(mail.sender, ["support@maild.test"], mail.raw)

    return deliver


# --- the daemon --------------------------------------------------------------------------------


class Daemon:
    """`maild run` as a process; its log is kept line by line, stamped as it arrives."""

    def __init__(self, config: Path) -> None:
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maild", "--config", str(config), "run"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, "PYTHONUTF8": "1"},
        )
        self.lines: list[str] = []
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Until every holder of the pipe is gone: the daemon, and any worker it left behind."""
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                with self._arrived:
                    self.lines.append(line.rstrip("\n"))
                    self._arrived.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> bool:
        """Whether a log line matching `pattern` came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._arrived:
            while True:
                if any(pattern.search(line) for line in self.lines[seen:]):
                    return True
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self._arrived.wait(min(left, 0.05))

    def last_line(self) -> str:
        with self._arrived:
            return self.lines[-1] if self.lines else ""

    def kill(self) -> tuple[list[int], list[int]]:
        """SIGKILL the daemon alone, as the OOM killer would; returns the processes it had
        (the parser pool) and those of them still running a while later."""
        family = descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        return family, outliving(family, WORKERS_GONE_TIMEOUT)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM: the daemon finishes its batch, flushes the outbox and exits."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def finish(self) -> str:
        """The whole log, once the process and everything holding its pipe are gone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(WORKERS_GONE_TIMEOUT)
        return "\n".join(self.lines)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the parser pool's forkserver and its workers)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (parent := _parent(int(entry))) is not None:
            children[parent].append(int(entry))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def outliving(pids: list[int], timeout: float) -> list[int]:
    """Those of `pids` still running after `timeout`; they are killed, and named to the test."""
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def _running(pid: int) -> bool:
    """True while `pid` runs; a zombie counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# --- when to kill ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """A kind of kill moment: `delay` seconds (drawn from the range) after a log line matching
    `trigger` in the new daemon's output, or after its start when there is no trigger."""

    name: str
    trigger: re.Pattern[str] | None
    delay: tuple[float, float]


STARTUP = Moment("start-up", None, (0.0, 0.9))
INTAKE = Moment("intake batch", re.compile(r"ticket MD-\d+ opened| on MD-\d+ \(by "), (0, 0.03))
READY = re.compile(r"IMAP connected|listener on")  # logged after the signal handlers are set
OUTBOX = Moment("outbox flush", re.compile(r"outbox: sent "), (0.0, 0.01))
IMAP_PARSING = Moment("fetching and parsing", re.compile(r"IMAP connected"), (0.0, 0.15))
LMTP_PARSING = Moment("spooled: replying and parsing", re.compile(r"spooled \S+ \("), (0.0, 0.01))

# What the daemon was last heard doing when it died, for the report.
_LAST_SAID = {
    "nothing yet": re.compile(r"^$"),
    "spooling": re.compile(r"spooled "),
    "opening tickets": re.compile(r"ticket MD-\d+ opened"),
    "adding follow-ups": re.compile(r" on MD-\d+ \(by "),
    "sending": re.compile(r"outbox: "),
    "moving to processed": re.compile(r"moved \d+ message"),
    "connected": re.compile(r"IMAP connected|listener on"),
}


_DUPLICATE = re.compile(r"duplicate \S+ from \S+ ignored")


def last_said(line: str) -> str:
    return next((name for name, p in _LAST_SAID.items() if p.search(line)), "other")


@dataclass
class KillReport:
    kills: int = 0
    moments: Counter[str] = field(default_factory=Counter)
    last_said: Counter[str] = field(default_factory=Counter)
    with_workers: int = 0  # kills while the parser pool's processes were running
    orphans: list[int] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


def kill_rounds(
    config: Path,
    moments: list[Moment],
    streamer: Streamer,
    rng: random.Random,
    kills: int,
) -> KillReport:
    """Start the daemon, release some mail, kill at a drawn moment; `kills` times."""
    report = KillReport()
    released = 0
    for _ in range(kills):
        daemon = Daemon(config)
        try:
            released += rng.randint(0, 2 * MAILS_PER_KILL)
            streamer.allow(released)
            moment = rng.choice(moments)
            hit = _await(daemon, moment, rng)
            report.moments[moment.name + ("" if hit else " (line never came)")] += 1
            report.last_said[last_said(daemon.last_line())] += 1
            family, orphans = daemon.kill()
            report.with_workers += bool(family)
            report.orphans += orphans
            report.kills += 1
        finally:
            report.logs.append(daemon.finish())
    return report


def _await(daemon: Daemon, moment: Moment, rng: random.Random) -> bool:
    """Wait for the moment; False when its log line did not come in time."""
    hit = True
    if moment.trigger is not None:
        hit = daemon.wait_for(moment.trigger, TRIGGER_TIMEOUT)
    time.sleep(rng.uniform(*moment.delay))
    return hit


@contextmanager
def last_run(config: Path) -> Iterator[Daemon]:
    """The daemon after the last kill, once it is up; stopped with SIGTERM (it must exit 0).

    Up means its SIGTERM handler is in place: a SIGTERM before that ends Python at once."""
    daemon = Daemon(config)
    try:
        assert daemon.wait_for(READY, START_TIMEOUT), f"maild did not start:\n{daemon.finish()}"
        yield daemon
        code = daemon.terminate()
        assert code == 0, f"maild exited {code} on SIGTERM:\n{daemon.finish()[-4000:]}"
    finally:
        daemon.finish()


def settle(done: Callable[[], bool], progress: Callable[[], object]) -> None:
    """Wait until `done`, or until `progress` stood still for a while: then the audit that
    follows says what is missing, sooner and more precisely than a timeout would."""
    last, since = progress(), time.monotonic()
    while not done() and time.monotonic() - since < STILL_SECONDS:
        time.sleep(0.1)
        if (now := progress()) != last:
            last, since = now, time.monotonic()


# --- the audit ---------------------------------------------------------------------------------


@dataclass
class Acks:
    """Acknowledgements the SMTP server got, by ticket id: the distinct Message-IDs, and how
    many arrived in all (a resend after a kill between the server's 250 and maild's mark)."""

    by_ticket: dict[str, set[str]]
    to: dict[str, set[str]]
    received: int
    strays: list[str]

    @property
    def resends(self) -> int:
        return self.received - sum(len(ids) for ids in self.by_ticket.values())


def read_acks(captured: list[Captured]) -> Acks:
    by_ticket: dict[str, set[str]] = defaultdict(set)
    to: dict[str, set[str]] = defaultdict(set)
    strays = []
    for mail in captured:
        msg = email.message_from_bytes(mail.raw, policy=email.policy.default)
        ticket = msg.get("X-Maild-Ticket")
        if ticket is None or msg.get("Auto-Submitted") != "auto-replied":
            strays.append(f"{msg.get('Subject')} to {mail.rcpt_tos}")
            continue
        by_ticket[str(ticket)].add(str(msg["Message-ID"]))
        to[str(ticket)].update(mail.rcpt_tos)
    return Acks(dict(by_ticket), dict(to), len(captured), strays)


def distinct_acks(captured: list[Captured]) -> int:
    return sum(len(ids) for ids in read_acks(captured).by_ticket.values())


def audit_store(data: Path, delivered: list[Mail]) -> dict[str, str]:
    """Each delivered mail stored once, on its ticket; no ticket or message beyond them.

    Returns ticket id -> customer, for the acknowledgement audit."""
    with Store.open(data, readonly=True) as store:
        incoming = {m["message_id"]: m for m in store.iter_messages() if m["direction"] == "in"}
        tickets = {t["number"]: t for t in store.tickets()}
        quarantined = [(q["source"], q["reason"]) for q in store.quarantined()]
        unsent = [(m["kind"], m["status"], m["last_error"]) for m in store.outgoing()
                  if m["status"] != "sent"]  # fmt: skip
    sent = {mail.message_id for mail in delivered}
    assert quarantined == [], f"quarantined: {quarantined}"
    assert sent - incoming.keys() == set(), f"lost: {sorted(sent - incoming.keys())}"
    assert incoming.keys() - sent == set(), f"stored twice/extra: {incoming.keys() - sent}"
    openers = {m.message_id: m for m in delivered if m.opens_ticket}
    first_of = {t["first_message_id"]: number for number, t in tickets.items()}
    assert first_of.keys() == openers.keys(), "tickets do not match the new requests one to one"
    for mail in delivered:
        stored = incoming[mail.message_id]["ticket"]
        assert stored == first_of[mail.opener], f"{mail.message_id} on {stored}, not its ticket"
    assert unsent == [], f"outbox not flushed: {unsent}"
    return {t["id"]: t["customer"] for t in tickets.values()}


def audit_acks(acks: Acks, customers: dict[str, str]) -> None:
    """Exactly one acknowledgement (by Message-ID) per ticket, to its customer, and no other
    mail at the SMTP server."""
    assert acks.strays == [], f"mail that is no acknowledgement: {acks.strays}"
    assert acks.by_ticket.keys() == customers.keys(), (
        f"tickets without an ack: {sorted(customers.keys() - acks.by_ticket.keys())}; "
        f"acks for no ticket: {sorted(acks.by_ticket.keys() - customers.keys())}"
    )
    twice = {t: ids for t, ids in acks.by_ticket.items() if len(ids) != 1}
    assert twice == {}, f"tickets acknowledged by more than one mail: {twice}"
    wrong = {t: to for t, to in acks.to.items() if to != {customers[t]}}
    assert wrong == {}, f"acknowledgements to the wrong address: {wrong}"


def summary(mode: str, report: KillReport, streamer: Streamer, acks: Acks, took: float) -> str:
    tracebacks = sum(log.count("Traceback") for log in report.logs)
    redelivered = sum(len(_DUPLICATE.findall(log)) for log in report.logs)
    return (
        f"{mode}: {report.kills} kills survived in {took:.1f} s; "
        f"{len(streamer.delivered)} mails delivered ({streamer.refused} deliveries refused and "
        f"retried; {redelivered} redeliveries recognised as duplicates), 0 lost, 0 stored "
        f"twice; {len(acks.by_ticket)} tickets, one ack each, "
        f"{acks.resends} raw ack resends; moments {dict(report.moments)}; "
        f"last heard {dict(report.last_said)}; {report.with_workers} kills with parser workers "
        f"running; tracebacks in the logs: {tracebacks}"
    )
