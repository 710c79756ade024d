"""The mails the SLA machinery sends: customer updates, team notices, pages, warnings,
escalations and repeated-complaint alerts. Pure: each returns a Draft for the outbox.

Customer mail is in the customer's language and times are shown in the zone of the calendar
their commitment runs on; staff mail is in [support] language and zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from maild.calendar import AlwaysOpen, BusinessCalendar
from maild.classify import Team
from maild.clock import iso, parse_iso
from maild.config import Agent, Config
from maild.notify import wording
from maild.notify.compose import Draft, excerpt, new_message_id, one_line, render
from maild.sla import Notice, Policy, SlaClock
from maild.threader import ticket_id, ticket_token

_ROUND_THE_CLOCK = AlwaysOpen()


def customer_zone(policy: Policy, config: Config) -> str:
    calendar = policy.calendar
    return (
        calendar.timezone.key if isinstance(calendar, BusinessCalendar) else config.support.timezone
    )


def draft_update(
    config: Config,
    ticket: dict[str, Any],
    policy: Policy,
    *,
    first_response_due: datetime | None,
    resolve_due: datetime | None,
    late: bool,
    next_update: datetime,
    now: datetime,
) -> Draft:
    """'Here is where your request stands', threaded under the customer's latest message.

    Due times are only promised while they lie ahead; a broken promise gets an apology instead.
    """
    language = ticket["language"]
    zone = customer_zone(policy, config)
    shown = {
        "first_response_due": wording.moment(first_response_due, zone)
        if first_response_due
        else "",
        "resolve_due": wording.moment(resolve_due, zone) if resolve_due else "",
        "next_update": wording.moment(next_update, zone),
    }
    return _customer_draft(
        config,
        ticket,
        "update",
        now=now,
        status=wording.STATUS_NAMES[language][ticket["status"]],
        late=late,
        **shown,
    )


def draft_relay(
    config: Config,
    ticket: dict[str, Any],
    agent: Agent,
    text: str,
    *,
    attachments: Sequence[dict[str, Any]] = (),
    now: datetime,
) -> Draft:
    """An agent's reply, sent on from the support address under the agent's name: a person
    wrote it, so it says Auto-Submitted: no. Attached files go along, read at delivery."""
    draft = _customer_draft(
        config,
        ticket,
        "relay",
        now=now,
        sender_name=f"{agent.name} ({config.support.name})",
        auto_submitted="no",
        text=text,
        agent_name=agent.name,
    )
    return replace(draft, attachments=_files(attachments))


def _files(attachments: Sequence[dict[str, Any]]) -> tuple[dict[str, str], ...]:
    """What a draft keeps of a stored attachment: enough to attach it at delivery."""
    return tuple({k: a[k] for k in ("filename", "content_type", "stored_as")} for a in attachments)


def draft_resolution(
    config: Config,
    ticket: dict[str, Any],
    note: str,
    *,
    autoclose_on: datetime,
    attachments: Sequence[dict[str, Any]] = (),
    now: datetime,
) -> Draft:
    """'We believe this is solved': confirm by replying, never by a link a scanner could follow."""
    policy = config.policy_for(ticket["priority"], ticket["category"])
    draft = _customer_draft(
        config,
        ticket,
        "resolution",
        now=now,
        note=note.strip(),
        autoclose_on=wording.moment(autoclose_on, customer_zone(policy, config)),
    )
    return replace(draft, attachments=_files(attachments))


def draft_closed(config: Config, ticket: dict[str, Any], *, how: str, now: datetime) -> Draft:
    """The closing note; `how` is "confirmed" (by the customer), "silence" (after a resolution
    nobody answered) or "closed" (by an agent)."""
    language = ticket["language"]
    reopen = wording.commitment(config.lifecycle.reopen_within, _ROUND_THE_CLOCK, language)
    return _customer_draft(config, ticket, "closed", now=now, how=how, reopen_within=reopen)


def draft_survey(config: Config, ticket: dict[str, Any], *, now: datetime) -> Draft:
    return _customer_draft(config, ticket, "survey", now=now)


def draft_status(
    config: Config,
    *,
    customer: str,
    name: str,
    language: str,
    tickets: Sequence[dict[str, Any]],
    in_reply_to: str,
    now: datetime,
) -> Draft:
    """The customer's open tickets, each with its status, its agent and the next promised time."""
    subject, body = render(
        "status",
        language,
        name=one_line(name, 60),
        support_name=config.support.name,
        tickets=[{**t, "subject": one_line(t["subject"], 80)} for t in tickets],
    )
    return _draft(
        config,
        to=(customer,),
        subject=subject,
        body=body,
        language=language,
        ticket_id="",  # about all the customer's tickets
        in_reply_to=in_reply_to,
        references=(in_reply_to,),
        now=now,
        auto_submitted="auto-replied",
    )


def draft_agent_done(
    config: Config,
    ticket: dict[str, Any],
    agent: Agent,
    *,
    done: Sequence[str],
    errors: Sequence[str],
    valid_commands: str,
    now: datetime,
) -> Draft:
    """The agent's receipt: what their mail did, and what it could not do and why."""
    return _staff_draft(
        config,
        ticket,
        "agent_done",
        to=(agent.address,),
        now=now,
        done=[one_line(line, 200) for line in done],
        errors=[one_line(line, 200) for line in errors],
        valid_commands=valid_commands,
    )


def draft_agent_lost(config: Config, agent: Agent, *, subject: str, now: datetime) -> Draft:
    """An agent wrote to the support address without a ticket token: say so, do nothing."""
    language = config.support.language
    title, body = render(
        "agent_lost",
        language,
        subject=one_line(subject, 120),
        prefix=config.support.ticket_prefix,
        support_address=config.support.address,
        support_name=config.support.name,
    )
    return _draft(config, to=(agent.address,), subject=title, body=body, language=language,
                  ticket_id="", now=now)  # fmt: skip


def draft_untrusted(
    config: Config, ticket: dict[str, Any], agent: Agent, *, reason: str, now: datetime
) -> Draft:
    return _staff_draft(
        config,
        ticket,
        "untrusted",
        to=(agent.address,),
        now=now,
        agent_address=agent.address,
        reason=reason,
    )


def draft_review(
    config: Config, ticket: dict[str, Any], *, to: Sequence[str], score: int, comment: str,
    now: datetime,
) -> Draft:  # fmt: skip
    return _staff_draft(
        config,
        ticket,
        "review",
        to=to,
        now=now,
        score=score,
        comment=[one_line(line, 160) for line in comment.splitlines() if line.strip()][:20],
    )


# Why a mail that named a ticket opened a new one linked to it (the `why` of its first event).
LINK_REASONS = {
    "en": {
        "not_a_party": "the sender wrote its token but is not its customer, in its Cc or an agent",
        "closed_long_ago": "it was closed longer ago than reopen_within",
    },
    "zh": {
        "not_a_party": "发件人引用了该工单号，但不是其客户、抄送人或客服",
        "closed_long_ago": "该工单关闭已超过 reopen_within",
    },
}
MAIL_NAMES = {
    "en": {
        "ack": "acknowledgement", "reply": "reply", "update": "progress update",
        "resolution": "resolution notice", "closed": "closing note",
        "survey": "satisfaction survey", "status": "list of open tickets",
    },
    "zh": {
        "ack": "受理确认", "reply": "回复", "update": "进展通报", "resolution": "解决通知",
        "closed": "关闭通知", "survey": "满意度调查", "status": "工单状态列表",
    },
}  # fmt: skip


def draft_delivery_failed(
    config: Config, ticket: dict[str, Any], mail: dict[str, Any], *, to: Sequence[str],
    now: datetime,
) -> Draft:  # fmt: skip
    """A customer's mail given up for good, told to the people who work the ticket: nobody
    else would notice, and the customer is waiting for an answer they will never get."""
    language = config.support.language
    return _staff_draft(
        config,
        ticket,
        "delivery_failed",
        to=to,
        now=now,
        mail_name=MAIL_NAMES[language].get(mail["kind"], mail["kind"]),
        mail_subject=one_line(mail["draft"]["subject"], 120),
        queued=wording.moment(parse_iso(mail["created_at"]), config.support.timezone),
        recipients=", ".join(mail["recipients"]),
        attempts=mail["attempts"],
        reply=one_line(mail["last_error"] or "", 300),
        mail_id=mail["id"],
    )


def draft_loop(
    config: Config,
    tickets: Sequence[dict[str, Any]],
    *,
    sender: str,
    window: timedelta,
    now: datetime,
) -> Draft:
    """A robot loop found, told to the admin once: its tickets stay, its mail goes unanswered
    until it is quiet for a window, and only a person can fix the robot's end."""
    assert config.admin.address is not None
    language = config.support.language
    subject, body = render(
        "loop",
        language,
        sender=one_line(sender, 120),
        tickets=[{"id": t["id"], "subject": one_line(t["subject"], 80)} for t in tickets],
        latest=tickets[-1]["id"],
        window=wording.span(window.total_seconds(), language),
        support_name=config.support.name,
    )
    return _draft(config, to=(config.admin.address,), subject=subject, body=body,
                  language=language, ticket_id=tickets[-1]["id"], now=now)  # fmt: skip


def draft_new_ticket(
    config: Config,
    ticket: dict[str, Any],
    team: Team,
    policy: Policy,
    *,
    text: str,
    first_response_due: datetime,
    now: datetime,
) -> Draft:
    language = config.support.language
    why = ticket["events"][0]["detail"].get("why")
    return _staff_draft(
        config,
        ticket,
        "new_ticket",
        to=team.recipients,
        now=now,
        team=team.name,
        linked_to=ticket_id(config.support.ticket_prefix, ticket["linked_to"])
        if ticket.get("linked_to")
        else None,
        linked_why=LINK_REASONS[language].get(why, why),
        excerpt=excerpt(text, lines=30),
        first_response_due=wording.moment(first_response_due, config.support.timezone),
        first_response=wording.commitment(policy.first_response, policy.calendar, language),
    )


def draft_page(
    config: Config,
    ticket: dict[str, Any],
    *,
    text: str,
    first_response_due: datetime,
    now: datetime,
) -> Draft:
    return _staff_draft(
        config,
        ticket,
        "page",
        to=config.paging.to,
        now=now,
        excerpt=excerpt(text, lines=12),
        first_response_due=wording.moment(first_response_due, config.support.timezone),
    )


def draft_alert(
    config: Config,
    ticket: dict[str, Any],
    policy: Policy,
    notice: Notice,
    clock: SlaClock,
    *,
    to: Sequence[str],
    history: Sequence[str],
    now: datetime,
) -> Draft:
    """A warning (commitment at risk) or an escalation (broken), with what to do about it."""
    language = config.support.language
    zone = config.support.timezone
    due = clock.due_at
    left = clock.target - clock.consumed
    levels = config.escalation.levels
    following = levels[notice.level] if 0 < notice.level < len(levels) else None
    commitment_name = wording.COMMITMENT_NAMES[language][notice.commitment]
    if notice.kind == "warning":
        headline = (
            f"{commitment_name}即将超时" if language == "zh" else f"{commitment_name} at risk"
        )
    elif language == "zh":
        headline = f"{commitment_name}已超时（第 {notice.level} 级升级）"
    else:
        headline = f"{commitment_name} overdue (escalation level {notice.level})"
    return _staff_draft(
        config,
        ticket,
        "alert",
        to=to,
        now=now,
        headline=headline if language == "zh" else headline[0].upper() + headline[1:],
        commitment=commitment_name,
        commitment_key=notice.commitment,
        target=wording.commitment(getattr(policy, notice.commitment), policy.calendar, language),
        due=wording.moment(due, zone) if due else "—",
        overdue=wording.span(-left, language) if left <= 0 else "",
        remaining=wording.span(left, language),
        status=wording.STATUS_NAMES[language][ticket["status"]],
        level=notice.level,
        levels=len(levels),
        next_level=wording.span(following.after.seconds(policy.calendar.day_seconds), language)
        if following
        else "",
        next_level_to=", ".join(following.to) if following else "",
        history=[one_line(line, 160) for line in history],
    )


def draft_complaints(
    config: Config,
    ticket: dict[str, Any],
    *,
    to: Sequence[str],
    who: str,
    tickets: Sequence[dict[str, Any]],
    complaints: int,
    quiet_until: datetime,
    now: datetime,
) -> Draft:
    """Several tickets (or complaints) from one customer in a short time: worth a human look."""
    language = config.support.language
    zone = config.support.timezone
    window = config.complaints.within
    subject, body = render(
        "complaints",
        language,
        token=ticket_token(config.support.ticket_prefix, ticket["number"]),
        support_name=config.support.name,
        who=one_line(who, 120),
        complaints=complaints,
        window=wording.commitment(window, _ROUND_THE_CLOCK, language),
        quiet_until=wording.moment(quiet_until, zone),
        tickets=[
            {
                "id": t["id"],
                "opened": wording.moment(datetime.fromisoformat(t["created_at"]), zone),
                "priority": t["priority"],
                "category": t["category"],
                "status": t["status"],
                "subject": one_line(t["subject"], 80),
            }
            for t in tickets
        ],
    )
    return _draft(config, to=tuple(to), subject=subject, body=body, language=language,
                  ticket_id=ticket["id"], now=now)  # fmt: skip


def _customer_draft(
    config: Config,
    ticket: dict[str, Any],
    template: str,
    *,
    now: datetime,
    sender_name: str | None = None,
    auto_submitted: str = "auto-generated",
    **values: Any,
) -> Draft:
    """A mail to the ticket's customer in their language, threaded under their latest message."""
    language = ticket["language"]
    subject, body = render(
        template,
        language,
        **_ticket_values(config, ticket, language),
        name=one_line(ticket.get("customer_name") or "", 60),
        **values,
    )
    parent = ticket.get("last_message_id")
    references = tuple(dict.fromkeys(r for r in (ticket.get("first_message_id"), parent) if r))
    return _draft(
        config,
        to=(ticket["customer"],),
        subject=subject,
        body=body,
        language=language,
        ticket_id=ticket["id"],
        in_reply_to=parent,
        references=references,
        now=now,
        sender_name=sender_name,
        auto_submitted=auto_submitted,
    )


def _staff_draft(
    config: Config,
    ticket: dict[str, Any],
    template: str,
    *,
    to: Sequence[str],
    now: datetime,
    **values: Any,
) -> Draft:
    """A mail to staff about a ticket, in [support] language, with the ticket's particulars."""
    language = config.support.language
    fields = {**_staff_values(config, ticket, language), **values}
    subject, body = render(template, language, **fields)
    return _draft(config, to=tuple(to), subject=subject, body=body, language=language,
                  ticket_id=ticket["id"], now=now)  # fmt: skip


def _ticket_values(config: Config, ticket: dict[str, Any], language: str) -> dict[str, Any]:
    return {
        "token": ticket_token(config.support.ticket_prefix, ticket["number"]),
        "ticket_id": ticket["id"],
        "subject": one_line(ticket["subject"], 120),
        "priority": wording.PRIORITY_NAMES[language][ticket["priority"]],
        "support_name": config.support.name,
    }


def _staff_values(config: Config, ticket: dict[str, Any], language: str) -> dict[str, Any]:
    name = one_line(ticket.get("customer_name") or "", 60)
    return {
        **_ticket_values(config, ticket, language),
        "customer": f"{name} <{ticket['customer']}>" if name else ticket["customer"],
        "category": ticket["category"],
        "team": ticket.get("team") or "—",
        "matched": "; ".join(ticket.get("rules") or ()) or "—",
    }


def _draft(
    config: Config,
    *,
    to: tuple[str, ...],
    subject: str,
    body: str,
    language: str,
    ticket_id: str,
    now: datetime,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    sender_name: str | None = None,
    auto_submitted: str = "auto-generated",
) -> Draft:
    support = config.support
    return Draft(
        message_id=new_message_id(support),
        sender=support.address,
        sender_name=sender_name or support.name,
        to=to,
        subject=subject,
        body=body,
        language=language,
        ticket_id=ticket_id,
        in_reply_to=in_reply_to,
        references=references,
        auto_submitted=auto_submitted,
        date=iso(now),
    )
