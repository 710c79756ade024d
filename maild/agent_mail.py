"""An agent's mail about a ticket: commands at the top, words for the customer below.

Only mail from a configured agent address that passes the trust check gets here (see
`trusted`); everything else is a customer's, whatever it contains. The agent gets a receipt
whenever the mail carried commands, and a clear error listing the commands when something
could not be done.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maild import workflow
from maild.agentmail import VALID_COMMANDS, AgentMail, Command, read_agent_mail, sender_trusted
from maild.config import Agent, Config
from maild.intake.parse import ParsedMessage
from maild.notify.notices import draft_agent_done
from maild.notify.outbox import queue_mail
from maild.store import Store
from maild.threader import ticket_numbers_in
from maild.tickets import ChangeError, change

log = logging.getLogger("maild.agent_mail")

ENDINGS = ("resolve", "close", "merge")  # run after the agent's words went to the customer


def trusted(msg: ParsedMessage, config: Config) -> tuple[bool, str]:
    """Whether the agent really sent it, and if not, why not (for the agent's notice)."""
    security = config.security
    if security.trust_agent_mail == "always":
        return True, ""
    if sender_trusted(msg.from_addr, msg.authentication_results, security.authserv_id):
        return True, ""
    domain = msg.from_addr.rpartition("@")[2]
    if not any(security.authserv_id in v.lower() for v in msg.authentication_results):
        return False, f"no Authentication-Results header from {security.authserv_id}"
    return False, f"{security.authserv_id} found no DKIM, SPF or DMARC pass for {domain}"


def handle(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    agent: Agent,
    text: str,
    now: datetime,
    *,
    attachments: Sequence[dict[str, Any]] = (),
) -> list[str]:
    """Carry out the commands, relay the words (and files); returns what was done, for the log.

    The words go out before a command that ends the conversation (resolve, close, merge), so the
    customer reads them first; with #resolve they become the resolution itself. Quoted lines
    ('>') never reach the customer: a bottom-posted reply to a staff mail quotes internal text.
    """
    mail = read_agent_mail(text)
    words = "\n".join(line for line in mail.reply.splitlines() if not line.startswith(">"))
    words = words.strip()
    done: list[str] = []
    errors = list(mail.errors)

    def attempt(command: Command, resolution: Resolution = Resolution()) -> None:
        """Run one command, noting the outcome for the receipt."""
        nonlocal ticket
        try:
            ticket, did = _run(store, config, ticket, agent, command, mail, now, resolution)
            done.append(did)
        except ChangeError as e:
            errors.append(f"{command.line.strip()}: {e}")

    final = [c for c in mail.commands if c.name in ENDINGS]
    resolving = any(c.name == "resolve" for c in final)
    for command in [c for c in mail.commands if c.name not in ENDINGS]:
        attempt(command)
    if words and not resolving:
        ticket = workflow.reply(store, config, ticket, agent, words, now, attachments)
        files = f" with {len(attachments)} attachment(s)" if attachments else ""
        done.append(f"your reply was sent to the customer{files}")
    resolution = Resolution(words, tuple(attachments))
    for command in final:
        attempt(command, resolution)
    if not mail.commands and not words and not errors:
        errors.append("nothing to do: no text for the customer and no command")
    if mail.commands or errors:
        draft = draft_agent_done(
            config,
            ticket,
            agent,
            done=done,
            errors=errors,
            valid_commands=VALID_COMMANDS,
            now=now,
        )
        queue_mail(store, draft, ticket=ticket["number"], kind="receipt", automatic=True, now=now)
    log.info("%s: agent %s: %s", ticket["id"], agent.key, "; ".join(done + errors) or "-")
    return done + errors


@dataclass(frozen=True)
class Resolution:
    """What the agent wrote below #resolve: it goes to the customer as the resolution."""

    words: str = ""
    attachments: tuple[dict[str, Any], ...] = ()


def _run(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    agent: Agent,
    command: Command,
    mail: AgentMail,
    now: datetime,
    resolution: Resolution,
) -> tuple[dict[str, Any], str]:
    """One command; returns the ticket as it now is and a line for the receipt."""
    actor, name, argument = agent.address, command.name, command.argument
    if name in ("priority", "category"):
        if not argument:
            raise ChangeError(f"#{name} needs a value")
        said = change(store, config, ticket["number"], name, argument, actor=actor, now=now)
        return workflow.ticket_or_error(store, ticket["number"]), said
    if name in ("assign", "take"):
        who = agent.key if name == "take" else argument
        ticket = workflow.assign(store, config, ticket, who, actor, now)
        return ticket, f"assigned to {ticket['assignee']}"
    if name == "status":
        return workflow.set_status(
            store, config, ticket, argument, actor, now
        ), f"status {argument}"
    if name == "resolve":
        note = "\n\n".join(part for part in (argument, resolution.words) if part)
        ticket = workflow.resolve(
            store, config, ticket, note, actor, now, attachments=resolution.attachments
        )
        return ticket, "resolved; the customer is asked to confirm"
    if name == "close":
        return workflow.close(store, config, ticket, actor, now), "closed"
    if name == "reopen":
        return workflow.reopen(store, config, ticket, actor, now), "reopened"
    if name == "merge":
        numbers = ticket_numbers_in(f"[{argument.lstrip('#')}]", config.support.ticket_prefix)
        if not numbers:
            raise ChangeError(f"#merge needs a ticket id such as {config.support.ticket_prefix}-12")
        ticket = workflow.merge(store, config, ticket, numbers[0], actor, now)
        return ticket, f"merged into {config.support.ticket_prefix}-{numbers[0]}"
    if name == "comment":
        return workflow.comment(store, config, ticket, mail.note, actor, now), "internal note kept"
    raise ChangeError(f"unknown command #{name}")
