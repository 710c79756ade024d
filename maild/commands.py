"""Changes asked for on the command line, applied by whoever owns the store.

The store has one writer. When the daemon runs, it is the writer: the CLI leaves its change as
a file in `commands/new/`, wakes the daemon with SIGUSR1, and waits for the answer the daemon
leaves in `commands/done/`. When no daemon runs, the CLI takes the store and applies the change
itself. Either way the change is one event on the ticket and one commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from maild import editions, workflow
from maild.config import Config
from maild.periods import parse_period
from maild.store import Store, StoreLocked, write_atomically
from maild.threader import ticket_numbers_in
from maild.tickets import ChangeError, change

log = logging.getLogger("maild.commands")

WAKE_SIGNAL = signal.SIGUSR1
ANSWER_TIMEOUT = 60.0
CARE = ("quarantine_retry", "outbox_retry", "digest_send")
CHANGES = ("priority", "category", "reply", "assign", "status", "resolve", "close", "reopen",
           "comment", "merge")  # fmt: skip


@dataclass(frozen=True)
class Answer:
    ok: bool
    message: str
    queued: bool = False  # handed to the daemon, which had not answered in time


class CommandQueue:
    """The hand-over directory between the CLI and the daemon."""

    def __init__(self, root: Path) -> None:
        self.new = root / "commands" / "new"
        self.done = root / "commands" / "done"

    def submit(self, command: dict[str, Any]) -> str:
        self.new.mkdir(parents=True, exist_ok=True)
        self.done.mkdir(parents=True, exist_ok=True)
        command_id = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        write_atomically(self.new / f"{command_id}.json", orjson.dumps(command))
        return command_id

    def waiting(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Commands in the order they were given; None for one that cannot be read."""
        if not self.new.is_dir():
            return []
        found: list[tuple[str, dict[str, Any] | None]] = []
        for path in sorted(self.new.glob("*.json")):
            try:
                command = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                command = None
            found.append((path.stem, command if isinstance(command, dict) else None))
        return found

    def answer(self, command_id: str, answer: Answer) -> None:
        self.done.mkdir(parents=True, exist_ok=True)
        payload = {"ok": answer.ok, "message": answer.message}
        write_atomically(self.done / f"{command_id}.json", orjson.dumps(payload))
        (self.new / f"{command_id}.json").unlink(missing_ok=True)

    def wait_answer(self, command_id: str, timeout: float) -> Answer | None:
        path = self.done / f"{command_id}.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                found = orjson.loads(path.read_bytes())
                path.unlink(missing_ok=True)
                return Answer(bool(found["ok"]), str(found["message"]))
            time.sleep(0.1)
        return None


def apply(store: Store, config: Config, command: dict[str, Any], now: datetime) -> Answer:
    """Carry out one command in the caller's store batch; a bad command is a clear answer."""
    try:
        if command.get("change") in CARE:
            return _care(store, config, command, now)
        what, number, value = command["change"], int(command["ticket"]), str(command["value"])
        actor = str(command.get("actor") or "cli")
        if what not in CHANGES:
            return Answer(False, f"unknown change {what!r}: one of {', '.join(CHANGES)}")
        if what in ("priority", "category"):
            return Answer(True, change(store, config, number, what, value, actor=actor, now=now))
        return Answer(True, _act(store, config, what, number, value, command, actor, now))
    except ChangeError as e:
        return Answer(False, str(e))
    except (KeyError, TypeError, ValueError) as e:
        return Answer(False, f"malformed command: {e}")


def _care(store: Store, config: Config, command: dict[str, Any], now: datetime) -> Answer:
    """Quarantine and outbox retries: data care, not a ticket's business."""
    from maild import datacare  # the daemon imports this module; data care is rarely needed

    try:
        if command["change"] == "digest_send":
            return _send_digest(store, config, str(command["value"]), now)
        if command["change"] == "quarantine_retry":
            outcome = datacare.quarantine_retry(store, config, str(command["value"]), now)
            where = f" ticket {outcome.ticket}" if outcome.ticket else ""
            return Answer(True, f"taken in again: {outcome.result}{where} {outcome.reason}".strip())
        value = command.get("value") or None
        count = datacare.outbox_retry(store, str(value) if value else None, now)
        return Answer(True, f"{count} mail(s) due again now")
    except datacare.DataCareError as e:
        return Answer(False, str(e))


def _send_digest(store: Store, config: Config, label: str, now: datetime) -> Answer:
    try:
        period = parse_period(label, ZoneInfo(config.digest.timezone))
        subjects = editions.send_now(store, config, period, now)
    except ValueError as e:
        return Answer(False, str(e))
    return Answer(True, "queued: " + "; ".join(subjects))


def _act(
    store: Store,
    config: Config,
    what: str,
    number: int,
    value: str,
    command: dict[str, Any],
    actor: str,
    now: datetime,
) -> str:
    """The workflow actions, as the command line asks for them."""
    ticket = workflow.ticket_or_error(store, number)
    tid = ticket["id"]
    if what == "reply":
        agent = config.agent(str(command.get("agent") or ""))
        if agent is None:
            known = ", ".join(a.key for a in config.agents) or "none configured in [agents]"
            raise ChangeError(f"reply as which agent? --as NAME (agents: {known})")
        if not value.strip():
            raise ChangeError("the reply is empty")
        workflow.reply(store, config, ticket, agent, value, now)
        return f"{tid}: reply sent to {ticket['customer']} as {agent.name}"
    if what == "assign":
        assigned = workflow.assign(store, config, ticket, value, actor, now)
        return f"{tid}: assigned to {assigned['assignee']}"
    if what == "status":
        workflow.set_status(store, config, ticket, value, actor, now)
        return f"{tid}: status {value}"
    if what == "resolve":
        workflow.resolve(store, config, ticket, value, actor, now)
        return f"{tid}: resolved; {ticket['customer']} is asked to confirm"
    if what == "close":
        workflow.close(store, config, ticket, actor, now)
        return f"{tid}: closed"
    if what == "reopen":
        workflow.reopen(store, config, ticket, actor, now)
        return f"{tid}: reopened"
    if what == "comment":
        workflow.comment(store, config, ticket, value, actor, now)
        return f"{tid}: internal note kept"
    numbers = ticket_numbers_in(f"[{value.lstrip('#')}]", config.support.ticket_prefix)
    if not numbers:
        raise ChangeError(f"merge into which ticket? e.g. {config.support.ticket_prefix}-12")
    workflow.merge(store, config, ticket, numbers[0], actor, now)
    return f"{tid}: merged into {config.support.ticket_prefix}-{numbers[0]}"


def run_waiting(store: Store, config: Config, now: datetime) -> int:
    """The daemon's side: apply every waiting command, one commit each, answer each."""
    queue = CommandQueue(store.root)
    handled = 0
    for command_id, command in queue.waiting():
        if command is None:
            queue.answer(command_id, Answer(False, "unreadable command file"))
            continue
        with store.batch():
            answer = apply(store, config, command, now)
        queue.answer(command_id, answer)
        log.info("command %s: %s", command_id, answer.message)
        handled += 1
    return handled


def give(config: Config, command: dict[str, Any], now: datetime) -> Answer:
    """The CLI's side: apply directly when the store is free, else hand it to the daemon."""
    try:
        with Store.open(config.store.path) as store, store.batch():
            return apply(store, config, command, now)
    except StoreLocked as locked:
        queue = CommandQueue(config.store.path)
        command_id = queue.submit(command)
        if locked.pid is not None:
            # Not ours to signal (another user)? The daemon still finds it at its next turn.
            with contextlib.suppress(OSError):
                os.kill(locked.pid, WAKE_SIGNAL)
        answer = queue.wait_answer(command_id, ANSWER_TIMEOUT)
        if answer is None:
            return Answer(
                True, "the daemon has not answered yet; it applies it at its next turn", queued=True
            )
        return answer
