"""SLA sweep: one full sweep over a store of 100,000 open tickets, its time and its peak memory.

Builds a throwaway store of N open tickets (default 100,000) directly through the Store API
(allocate_ticket_number, add_ticket, one commit), not through SMTP/IMAP intake: taking 100,000
messages in would take many minutes and measure intake, which bench/ingest.py covers. The tickets
look like the ones intake and the sweep leave behind, with the shape `_open_ticket` gives them:
  - priorities about 10 % urgent, 30 % important (a quarter of them sensitive), 60 % general;
    teams [teams.support] (with a lead), billing and tech; [escalation] levels 0m / 2h / 8h and
    paging; the "office" calendar Asia/Shanghai, 09:00-12:00 and 13:00-18:00, holidays CN;
  - opened over the last 30 days (urgent ones over 3 days, important over 10), recent ones more
    often; histories of opened, acknowledged, team_notified, paged, customer messages, agent
    replies (about 60 % of tickets), status toggles new/open/pending, a few priority changes,
    and the update_sent and notice events a sweep running every minute would have added by then;
  - next_check_at from maild.tickets.next_check_at(ticket, config, NOW), NOW = 2026-11-23 10:00
    +08:00 (a Monday morning), so at NOW nothing is overdue, as in a daemon that kept up.
The build runs in a child process, so this process's peak memory is the measurements' own.

Then, each a median of --rounds rounds (fewer for one that takes minutes), every round on the
store reopened from a pristine copy of db.json (fsynced, so its writeback does not land in a
timed commit) and collected once (gc.collect, untimed: in a daemon the store was loaded long ago
and sits in the oldest generation). The config's calendars keep their per-year caches of open
time warm across rounds, as in a running daemon; the OS page cache is warm too.
  1. opening (loading) the store, for context;
  2. one full sweep at NOW + 5 minutes, split into finding the due tickets (tickets_to_check),
     planning them, sending (drafting and queuing mails, recording them), the next checks of the
     swept tickets, and the commit (staging into the rows, the journal append + fsync, and a
     compaction of db.json if one fell due), with
     the time spent in garbage collection along the way; and, for context, a sweep with nothing
     due (at NOW), which Service.cycle() runs after every intake cycle;
  3. the catch-up sweep after a day of downtime (NOW + 1 day);
  4. recomputing next_check_at for every open ticket (what an SLA config change requires): the
     computation alone, per ticket, and recheck_if_policies_changed (read, record, commit);
  5. peak memory: ru_maxrss after each phase (a high-water mark, the loaded store included) and
     the tracemalloc peak of one sweep on top of the loaded store (an extra, untimed round).
The timing wrappers (module globals and store methods patched for the round) add well under a
microsecond per call. --profile adds cProfile's top 10 of the sweep, the catch-up (when it is
quick enough) and the recompute.

    python bench/sla_sweep.py [--tickets N] [--rounds R] [--profile] [--data DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import logging
import multiprocessing
import os
import pstats
import queue
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import maild.store
import maild.sweep
from maild.classify import team_for
from maild.clock import iso
from maild.config import Config, parse_config
from maild.sla import DONE_STATUSES, next_update_at, plan
from maild.store import Store
from maild.sweep import recheck_if_policies_changed, recipients, sweep
from maild.threader import ticket_id
from maild.tickets import event, next_check_at

SUPPORT = "support@bench.example"
NOW = datetime.fromisoformat("2026-11-23T10:00+08:00")
SWEEP_AFTER = timedelta(minutes=5)
DOWNTIME = timedelta(days=1)
TARGET_SECONDS = 1.0
ROUNDS_BUDGET = 60.0  # seconds: a slower measurement is repeated fewer times than --rounds
TRACE_AT_MOST = 10.0  # seconds: a slower catch-up sweep is not repeated under tracemalloc
MAX_AGE = {"urgent": timedelta(days=3), "important": timedelta(days=10)}
OLDEST = timedelta(days=30)
T = TypeVar("T")
UNANSWERED_AGE = {"urgent": timedelta(hours=5), "important": timedelta(hours=10)}
UNANSWERED_AGE["general"] = timedelta(days=3)
AGENTS = ("li.na@bench.example", "zhang.wei@bench.example", "tom@bench.example")
ZH_SUBJECTS = ("系统崩溃，无法登录", "支付失败", "发票抬头错误", "如何导出报表", "账号被锁定")
EN_SUBJECTS = ("Payment failed", "Cannot log in", "Outage in region eu-1", "Invoice question")
RULES = {
    "incident": "outage: 'crash' in the subject",
    "billing": "billing: 'invoice' in the body",
    "technical": "errors: 'error' in the body",
    "sensitive": "complaint: '投诉' in the body",
}


def config_for(data: Path) -> Config:
    """A valid config: teams with a lead, three escalation levels, the office calendar in China."""
    return parse_config(config_data(data))


def config_data(data: Path) -> dict[str, Any]:
    """config_for's tables, for benchmarks that change some of them."""
    return {
        "support": {"address": SUPPORT, "language": "zh", "timezone": "Asia/Shanghai"},
        "store": {"path": str(data)},
        "intake": {"mode": "lmtp"},
        "smtp": {"transport": "folder", "folder": str(data / "outgoing")},
        "calendars": {
            "office": {
                "timezone": "Asia/Shanghai",
                "days": "mon-fri",
                "hours": "09:00-12:00,13:00-18:00",
                "holidays": "CN",
            }
        },
        "teams": {
            "support": {
                "address": ["li.na@bench.example", "zhang.wei@bench.example"],
                "lead": "lead@bench.example",
            },
            "billing": {
                "address": "billing@bench.example",
                "lead": "finance.lead@bench.example",
                "categories": ["billing"],
            },
            "tech": {
                "address": "tech@bench.example",
                "lead": "cto@bench.example",
                "categories": ["incident", "technical"],
            },
        },
        "escalation": {
            "warn_at": 0.75,
            "page": ["oncall@bench.example"],
            "levels": [
                {"after": "0m", "to": ["duty.manager@bench.example"]},
                {"after": "2h", "to": ["head.of.support@bench.example"]},
                {"after": "8h", "to": ["coo@bench.example"]},
            ],
        },
    }


# --- building the store -----------------------------------------------------------------------


def _at(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _insert(events: list[dict[str, Any]], new: dict[str, Any]) -> None:
    """Keep the history in time order (a stable sort: same-second events keep their order)."""
    events.append(new)
    events.sort(key=lambda e: e["at"])


def _kind(rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.10:
        return "urgent", rng.choice(("incident", "incident", "billing"))
    if roll < 0.40:
        return "important", "sensitive" if rng.random() < 0.25 else "technical"
    return "general", "billing" if rng.random() < 0.25 else "general"


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in [start, end), nearer the start: people answer sooner rather than later."""
    return _at(start + (end - start) * rng.random() ** 2)


@dataclass
class _Timeline:
    """A ticket's history as its customer and agents make it, with the status they leave."""

    number: int
    customer: str
    events: list[dict[str, Any]]
    last_id: str
    status: str = "new"
    messages: int = 1

    def customer_writes(self, at: datetime) -> None:
        self.messages += 1
        self.last_id = f"<c{self.number}.{self.messages}@{self.customer.rpartition('@')[2]}>"
        self.events.append(event(at, self.customer, "customer_message", message_id=self.last_id))
        if self.status == "pending":  # as intake does: the clocks resume
            self.events.append(
                event(at, self.customer, "status", **{"from": "pending", "to": "open"})
            )
            self.status = "open"

    def agent_replies(self, at: datetime, agent: str, *, pending: bool) -> None:
        reply_id = f"<a{self.number}.{len(self.events)}@bench.example>"
        self.events.append(event(at, agent, "agent_reply", message_id=reply_id))
        if self.status == "new":
            self.events.append(event(at, agent, "status", **{"from": "new", "to": "open"}))
            self.status = "open"
        if pending and self.status != "pending":  # waiting on the customer: the clocks pause
            self.events.append(event(at, agent, "status", **{"from": self.status, "to": "pending"}))
            self.status = "pending"


def make_ticket(rng: random.Random, number: int, config: Config, now: datetime) -> dict[str, Any]:
    """One open ticket as intake, agents and a sweep every minute would have left it by `now`."""
    priority, category = _kind(rng)
    raised = priority == "urgent" and rng.random() < 0.15  # from important, by an agent
    policy = config.policy_for(priority, category)
    team = team_for(category, config.teams)
    zh = rng.random() < 0.6
    user = rng.randrange(20_000)
    customer = f"customer{user}@example.cn" if zh else f"user{user}@example.com"
    updates = rng.random() > 0.03  # else a sender maild does not answer automatically
    if not updates:
        customer = f"客户{user}@例子.中国"
    # Answered tickets may be weeks old (mostly waiting on their customer); unanswered ones are
    # young: one nobody answered through many update intervals would be a help desk in crisis.
    replied = raised or rng.random() < 0.6
    if replied:
        age = max(MAX_AGE.get(priority, OLDEST) * rng.random() ** 1.5, timedelta(minutes=30))
    else:
        age = max(UNANSWERED_AGE[priority] * rng.random(), timedelta(minutes=5))
    created = _at(now - age)
    first_id = f"<c{number}.1@{customer.rpartition('@')[2]}>"
    rules = [RULES[category]] if category in RULES else []
    events = [event(created, customer, "opened", rules=rules)]
    if updates:
        events.append(event(created, "maild", "acknowledged"))
    events.append(event(created, "maild", "team_notified", team=team))
    if priority == "urgent" and not raised:
        events.append(event(created, "maild", "paged", to=list(config.paging.to)))

    line = _Timeline(number, customer, events, first_id)
    if replied:
        # The first reply mostly within the first-response target, some late; then maybe a
        # few rounds of the customer writing and an agent answering.
        target = policy.seconds(policy.first_response)
        first = policy.calendar.add(created, target * rng.uniform(0.1, 1.4))
        if first >= now:
            first = _at(created + (now - created) * rng.uniform(0.3, 0.9))
        first = _at(first)
        if rng.random() < 0.2:
            line.customer_writes(_between(rng, created, first))
        agent = rng.choice(AGENTS)
        if raised:
            events.append(event(first, agent, "priority", **{"from": "important", "to": "urgent"}))
            events.append(event(first, "maild", "paged", to=list(config.paging.to)))
        line.agent_replies(first, agent, pending=rng.random() < 0.6)
        last = first
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            last = _between(rng, last, now)
            line.customer_writes(last)
            if rng.random() < 0.8:
                last = _between(rng, last, now)
                line.agent_replies(last, rng.choice(AGENTS), pending=rng.random() < 0.7)
        # Still open with the next update long overdue: an agent would have answered.
        due = next_update_at(events, policy, now) if line.status == "open" else None
        if due is not None and policy.calendar.elapsed(due, now) > 3 * policy.seconds(
            policy.update_every
        ):
            line.agent_replies(_between(rng, last, now), rng.choice(AGENTS), pending=True)
    elif rng.random() < 0.25:
        line.customer_writes(_between(rng, created, now))

    ticket: dict[str, Any] = {
        "number": number,
        "id": ticket_id(config.support.ticket_prefix, number),
        "status": line.status,
        "priority": priority,
        "category": category,
        "team": team,
        "rules": rules,
        "complaint": category == "sensitive",
        "customer": customer,
        "customer_name": "王伟" if zh else "Alice Smith",
        "subject": rng.choice(ZH_SUBJECTS if zh else EN_SUBJECTS),
        "language": "zh" if zh else "en",
        "created_at": iso(created),
        "updated_at": iso(created),
        "message_count": line.messages,
        "first_message_id": first_id,
        "last_message_id": line.last_id,
        "updates": updates,
        "events": events,
    }
    _catch_up(rng, ticket, config, now)
    ticket["updated_at"] = events[-1]["at"]
    ticket["next_check_at"] = next_check_at(ticket, config, now)
    return ticket


def _catch_up(rng: random.Random, ticket: dict[str, Any], config: Config, now: datetime) -> None:
    """Add what a sweep every minute would have sent by `now`: updates, warnings, escalations.

    Each goes in at its due time plus under a minute. (Updates owed in the middle of a history,
    before a later reply, are not reconstructed; only those owed since the last contact.)
    """
    events = ticket["events"]
    policy = config.policy_for(ticket["priority"], ticket["category"])
    escalation = config.escalation
    lateness = rng.randrange(60)
    while ticket["updates"] and ticket["status"] not in DONE_STATUSES:
        due = next_update_at(events, policy, now)
        if due is None or due > now:
            break
        sent = min(_at(due) + timedelta(seconds=lateness), now)
        _insert(events, event(sent, "maild", "update_sent"))
    for notice in plan(events, policy, escalation, now, updates=False).due:
        to = recipients(config, ticket, notice)
        sent = min(_at(notice.at) + timedelta(seconds=lateness), now)
        _insert(events, event(sent, "maild", "notice", key=notice.key, due=iso(notice.at), to=to))


def _build(data: str, count: int, seed: int, results: Any) -> None:
    """Child process: fill the store, commit once, report figures about what was built."""
    logging.basicConfig(level=logging.WARNING)
    config = config_for(Path(data))
    rng = random.Random(seed)
    start = time.perf_counter()
    with Store.open(Path(data)) as store:
        sizes: list[int] = []
        kinds: Counter[str] = Counter()
        due_at_build = 0
        for _ in range(count):
            ticket = make_ticket(rng, store.allocate_ticket_number(), config, NOW)
            store.add_ticket(ticket)
            sizes.append(len(ticket["events"]))
            actions = {e["action"] for e in ticket["events"]}
            kinds.update(actions | {ticket["priority"], f"status:{ticket['status']}"})
            if ticket["category"] == "sensitive":
                kinds["sensitive"] += 1
            check = ticket["next_check_at"]
            due_at_build += check is not None and check <= iso(NOW)
        made = time.perf_counter() - start
        store.commit()
        store.compact()  # all in db.json, the journal empty: the state every round starts from
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put(
        {
            "seconds": time.perf_counter() - start,
            "make_seconds": made,
            "sizes": sizes,
            "kinds": dict(kinds),
            "due_at_build": due_at_build,
            "peak_mib": peak,
        }
    )


def build(data: Path, count: int, seed: int) -> dict[str, Any]:
    return in_child(_build, str(data), count, seed)


def in_child(target: Callable[..., None], *args: Any) -> dict[str, Any]:
    """Run `target(*args, results)` in a fresh process and return what it puts in `results`:
    building in a child keeps this process's memory the measurement's own."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=target, args=(*args, results))
    child.start()
    while True:
        try:
            found = results.get(timeout=1)
            break
        except queue.Empty:
            if not child.is_alive():
                failed = f"building the store failed (exit code {child.exitcode})"
                raise SystemExit(failed) from None
    child.join()
    return found  # type: ignore[no-any-return]


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Split:
    """Where one sweep's time went, in seconds."""

    find: float = 0.0  # store.tickets_to_check
    plan: float = 0.0  # plan() of every due ticket, in sweep()
    send: float = 0.0  # _send(): draft, queue_mail, record (with its next_check_at)
    next_check: float = 0.0  # record() of each swept ticket after its notices
    apply: float = 0.0  # commit: staged changes written into the rows, serialised for the journal
    serialise: float = 0.0  # commit: a compaction, when due (the whole snapshot rewritten)
    write: float = 0.0  # commit: the journal line appended and fsynced
    commit: float = 0.0  # the whole commit
    total: float = 0.0
    gc: float = 0.0  # in garbage collections, wherever they struck
    gc_full: int = 0  # of them full (generation 2)
    checked: int = 0
    mails: int = 0
    sent: dict[str, int] = field(default_factory=dict)

    @property
    def other(self) -> float:
        return self.total - self.find - self.plan - self.send - self.next_check - self.commit


class _Probe:
    """Timing wrappers around the sweep's parts (module globals and store methods).

    Each adds well under a microsecond per call, against ~100 µs for one plan().
    """

    def __init__(self) -> None:
        self.split = Split()
        self._in_send = False
        self._gc_start = 0.0

    def collected(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
            return
        self.split.gc += time.perf_counter() - self._gc_start
        self.split.gc_full += info["generation"] == 2

    def timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                setattr(self.split, name, getattr(self.split, name) + elapsed)

        return wrapper

    def send(self, function: Callable[..., Any]) -> Callable[..., Any]:
        timed = self.timed("send", function)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._in_send = True
            try:
                return timed(*args, **kwargs)
            finally:
                self._in_send = False

        return wrapper

    def record(self, function: Callable[..., Any]) -> Callable[..., Any]:
        timed = self.timed("next_check", function)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs) if self._in_send else timed(*args, **kwargs)

        return wrapper

    @contextmanager
    def installed(self, store: Store) -> Iterator[None]:
        saved = (maild.sweep.plan, maild.sweep._send, maild.sweep.record)
        saved_write = maild.store._append_durably
        maild.sweep.plan = self.timed("plan", plan)
        maild.sweep._send = self.send(saved[1])
        maild.sweep.record = self.record(saved[2])
        maild.store._append_durably = self.timed("write", saved_write)
        storage = store._db.storage
        store.tickets_to_check = self.timed("find", store.tickets_to_check)  # type: ignore[method-assign]
        store._apply = self.timed("apply", store._apply)  # type: ignore[method-assign]
        store.commit = self.timed("commit", store.commit)  # type: ignore[method-assign]
        storage.save = self.timed("serialise", storage.save)  # type: ignore[attr-defined]
        gc.callbacks.append(self.collected)
        try:
            yield
        finally:
            gc.callbacks.remove(self.collected)
            maild.sweep.plan, maild.sweep._send, maild.sweep.record = saved
            maild.store._append_durably = saved_write


class Bench:
    def __init__(self, base: Path, config: Config) -> None:
        self.data = base / "data"
        self.pristine = base / "pristine.db.json"
        self.config = config

    def fresh(self) -> tuple[Store, float]:
        """The store as built, opened from disk; returns it and the seconds opening took."""
        shutil.copyfile(self.pristine, self.data / "db.json")
        (self.data / "outbox.journal").unlink(missing_ok=True)
        (self.data / "db.journal").unlink(missing_ok=True)
        with open(self.data / "db.json", "rb") as f:  # else its writeback lands in the commit
            os.fsync(f.fileno())
        start = time.perf_counter()
        store = Store.open(self.data)
        opened = time.perf_counter() - start
        gc.collect()  # as in a daemon that loaded it long ago: all in the oldest generation
        return store, opened

    def sweep_round(self, now: datetime) -> tuple[float, Split]:
        store, opened = self.fresh()
        probe = _Probe()
        with store, probe.installed(store):
            start = time.perf_counter()
            report = sweep(store, self.config, now)
            probe.split.total = time.perf_counter() - start
            probe.split.checked = report.checked
            probe.split.sent = dict(report.sent)
            probe.split.mails = sum(report.sent.values())
        return opened, probe.split

    def traced_sweep(self, now: datetime) -> tuple[float, float]:
        """tracemalloc peak (MiB) of one sweep on top of the loaded store, and the store's size."""
        store, _ = self.fresh()
        with store:
            tracemalloc.start()
            sweep(store, self.config, now)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        return peak / 2**20, (self.data / "db.json").stat().st_size / 2**20

    def recompute_round(self, now: datetime) -> tuple[float, float, int]:
        """Seconds to compute every open ticket's next_check_at (only that), and seconds of
        recheck_if_policies_changed, what the daemon runs at start after an SLA config change
        (read the tickets, record each one's next check, commit)."""
        store, _ = self.fresh()
        with store:
            tickets = [t for t in store.tickets() if t["status"] not in DONE_STATUSES]
            start = time.perf_counter()
            for ticket in tickets:
                next_check_at(ticket, self.config, now)
            computed = time.perf_counter() - start
        store, _ = self.fresh()
        with store:
            start = time.perf_counter()
            rechecked = recheck_if_policies_changed(store, self.config, now)
            whole = time.perf_counter() - start
        assert rechecked == len(tickets), (rechecked, len(tickets))
        return computed, whole, len(tickets)

    def profile_sweep(self, title: str, now: datetime) -> None:
        store, _ = self.fresh()
        with store:
            profile(title, lambda: sweep(store, self.config, now))

    def profile_recompute(self, title: str, now: datetime) -> None:
        store, _ = self.fresh()
        with store:
            tickets = store.tickets()
            profile(title, lambda: [next_check_at(t, self.config, now) for t in tickets])


def profile(title: str, run: Callable[[], Any], limit: int = 10) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    for order in ("tottime", "cumulative"):
        print(f"\ncProfile, {title}: top {limit} by {order}")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats(order).print_stats(limit)


def repeat(run: Callable[[], T], rounds: int, budget: float = ROUNDS_BUDGET) -> list[T]:
    """Up to `rounds` results, fewer when the rounds so far took longer than `budget` seconds."""
    results: list[T] = []
    start = time.perf_counter()
    while len(results) < rounds and (not results or time.perf_counter() - start < budget):
        results.append(run())
    return results


def median_split(splits: list[Split]) -> Split:
    """Each part's median over the rounds (so the parts need not add up to the total exactly)."""
    middle = Split()
    for name in ("find", "plan", "send", "next_check", "apply", "serialise", "write"):
        setattr(middle, name, statistics.median(getattr(s, name) for s in splits))
    middle.commit = statistics.median(s.commit for s in splits)
    middle.total = statistics.median(s.total for s in splits)
    middle.gc = statistics.median(s.gc for s in splits)
    middle.gc_full = max(s.gc_full for s in splits)
    middle.checked, middle.mails, middle.sent = splits[0].checked, splits[0].mails, splits[0].sent
    return middle


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def print_split(title: str, split: Split, rounds: list[Split]) -> None:
    totals = ", ".join(f"{s.total * 1000:.0f}" for s in rounds)
    print(f"{title}: {split.checked} tickets due, {split.mails} mails queued {split.sent}")
    print(f"  total                          {ms(split.total)}   (rounds: {totals} ms)")
    print(f"    find due (tickets_to_check)  {ms(split.find)}")
    print(f"    plan the due tickets         {ms(split.plan)}")
    print(f"    send: draft, queue, record   {ms(split.send)}")
    print(f"    next checks (record)         {ms(split.next_check)}")
    print(f"    commit                       {ms(split.commit)}")
    print(f"      staging -> rows + journal  {ms(split.apply)}")
    print(f"      journal append + fsync     {ms(split.write)}")
    print(f"      compaction (db.json)       {ms(split.serialise)}")
    print(f"    other                        {ms(split.other)}")
    print(f"  (in garbage collection, above  {ms(split.gc)}, full collections: {split.gc_full})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="report the median of this many")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="also print cProfile top 10s")
    parser.add_argument("--data", type=Path, help="where the data dir goes (default: /var/tmp)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    base = Path(tempfile.mkdtemp(prefix="maild-sla-bench-", dir=args.data or "/var/tmp"))
    try:
        run(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(args: argparse.Namespace, base: Path) -> None:
    bench = Bench(base, config_for(base / "data"))
    built = build(bench.data, args.tickets, args.seed)
    shutil.copyfile(bench.data / "db.json", bench.pristine)
    sizes = sorted(built["sizes"])
    kinds = built["kinds"]
    count = len(sizes)
    size_mib = bench.pristine.stat().st_size / 2**20

    def share(key: str) -> str:
        return f"{kinds.get(key, 0) / count:.0%}"

    print(
        f"built {count} open tickets in {built['seconds']:.1f} s, the commit "
        f"{built['seconds'] - built['make_seconds']:.1f} s of it (child process, peak RSS "
        f"{built['peak_mib']:.0f} MiB); db.json {size_mib:.1f} MiB"
    )
    print(
        f"  urgent {share('urgent')}, important {share('important')}, general "
        f"{share('general')}, sensitive {share('sensitive')}; status new {share('status:new')}, "
        f"open {share('status:open')}, pending {share('status:pending')}"
    )
    print(
        f"  events per ticket: min {sizes[0]}, median {statistics.median(sizes):.0f}, "
        f"mean {statistics.mean(sizes):.1f}, 95th pct {sizes[int(count * 0.95)]}, max {sizes[-1]}; "
        f"{sum(3 <= n <= 12 for n in sizes) / count:.0%} have 3-12"
    )
    print(
        f"  tickets with an agent reply {share('agent_reply')}, a status change "
        f"{share('status')}, update_sent {share('update_sent')}, notice {share('notice')}, "
        f"priority change {share('priority')}; due at build time: {built['due_at_build']}"
    )

    # Warm the calendars' per-year caches and the page cache once, untimed.
    bench.sweep_round(NOW + SWEEP_AFTER)
    print(
        f"\n{args.rounds} round(s) each (fewer when they take over {ROUNDS_BUDGET:.0f} s), "
        "the store reopened from a pristine db.json every round; calendar caches warm"
    )

    opens, regular = [], []
    for _ in range(args.rounds):
        opened, split = bench.sweep_round(NOW + SWEEP_AFTER)
        opens.append(opened)
        regular.append(split)
    after_regular = rss_mib()
    store, _ = bench.fresh()
    loaded_rss = current_rss_mib()
    store.close()
    del store
    print(f"open + load the store (context): {ms(statistics.median(opens))} (median)")
    sweep_median = median_split(regular)
    print_split(f"\nsweep at NOW + {SWEEP_AFTER}", sweep_median, regular)
    idle = repeat(lambda: bench.sweep_round(NOW)[1], args.rounds)
    print_split(
        "\nsweep at NOW, nothing due (as after every intake cycle)", median_split(idle), idle
    )

    catch_up = repeat(lambda: bench.sweep_round(NOW + DOWNTIME)[1], args.rounds)
    after_catch_up = rss_mib()
    print_split(f"\ncatch-up sweep after {DOWNTIME} down", median_split(catch_up), catch_up)

    rounds = repeat(lambda: bench.recompute_round(NOW + SWEEP_AFTER), args.rounds)
    computed = statistics.median(r[0] for r in rounds)
    whole = statistics.median(r[1] for r in rounds)
    number = rounds[0][2]
    print(f"\nrecompute next_check_at of all {number} open tickets (median of {len(rounds)}):")
    per_ticket = computed / number * 1e6
    print(f"  next_check_at() alone:        {computed:6.2f} s, {per_ticket:.0f} µs per ticket")
    print(f"  recheck_if_policies_changed:  {whole:6.2f} s (read, record each, commit)")
    after_recompute = rss_mib()

    traced, _ = bench.traced_sweep(NOW + SWEEP_AFTER)
    catch_up_seconds = statistics.median(s.total for s in catch_up)
    if catch_up_seconds < TRACE_AT_MOST:
        traced_catch_up = f"{bench.traced_sweep(NOW + DOWNTIME)[0]:7.1f} MiB above it"
    else:
        traced_catch_up = f"    not traced (tracemalloc would take ~{3 * catch_up_seconds:.0f} s)"
    print("\nmemory (peak RSS is a high-water mark of this process; the build ran in a child)")
    print(f"  RSS with the store loaded:              {loaded_rss:7.0f} MiB")
    print(f"  peak RSS after the sweeps:              {after_regular:7.0f} MiB")
    print(f"  peak RSS after the catch-up sweeps:     {after_catch_up:7.0f} MiB")
    print(f"  peak RSS after the recomputes:          {after_recompute:7.0f} MiB")
    print(f"  tracemalloc peak of one sweep:          {traced:7.1f} MiB above the loaded store")
    print(f"  tracemalloc peak of one catch-up sweep: {traced_catch_up}")

    if args.profile:
        bench.profile_sweep(f"one sweep at NOW + {SWEEP_AFTER}", NOW + SWEEP_AFTER)
        if catch_up_seconds < TRACE_AT_MOST:
            bench.profile_sweep(f"catch-up sweep after {DOWNTIME} down", NOW + DOWNTIME)
        else:
            print(f"\n(catch-up sweep not profiled: ~{3 * catch_up_seconds:.0f} s under cProfile)")
        bench.profile_recompute("recompute next_check_at of every ticket", NOW + SWEEP_AFTER)

    met = "MET" if sweep_median.total < TARGET_SECONDS else "NOT MET"
    print(
        f"\ntarget: one full sweep of {count} open tickets under {TARGET_SECONDS:.0f} s: {met} "
        f"({sweep_median.total:.3f} s, median of {args.rounds})"
    )


if __name__ == "__main__":
    main()
