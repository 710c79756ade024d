"""maild's own trouble, told to the admin by mail: once when it has lasted too long, once more
when it is over. The incident's start and whether it was told live in the store, so a restart
in the middle neither repeats nor forgets the alert.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta

from maild.calendar import AlwaysOpen
from maild.clock import iso, parse_iso
from maild.config import Config
from maild.notify import wording
from maild.notify.compose import Draft, new_message_id, render
from maild.notify.outbox import queue_mail
from maild.store import Store

log = logging.getLogger("maild.incidents")

WHAT = {
    "intake": {"en": "Mail intake", "zh": "收信"},
    "outbox": {"en": "Sending mail", "zh": "发信"},
}
ADVICE = {
    "intake": {
        "en": "Customers' mail is not being taken in. Check the IMAP server and login, or the "
        "MTA delivering to maild's listener; `maild check` tests them.",
        "zh": "客户来信没有被收取。请检查 IMAP 服务器和登录信息，或投递到 maild 的邮件服务器；"
        "可用 `maild check` 检测。",
    },
    "outbox": {
        "en": "Acknowledgements, updates and escalations are waiting to be sent. Check the SMTP "
        "server; `maild check` tests it.",
        "zh": "确认、进展通报和升级邮件在排队等待发送。请检查 SMTP 服务器；"
        "可用 `maild check` 检测。",
    },
}
_DAY = AlwaysOpen().day_seconds
QUARANTINE_TOLD_KEY = "quarantine-told"  # when the admin last heard, and the ids then known
QUARANTINE_LISTED = 20  # records listed in one mail; the rest are counted


def observe(
    store: Store, config: Config, kind: str, error: str | None, since: datetime | None,
    now: datetime,
) -> str | None:  # fmt: skip
    """Note how `kind` ("intake" or "outbox") is doing; returns "alert" or "recovery" when a
    mail went out. `error` None means all is well; `since` is when the trouble began, if known."""
    key = f"incident:{kind}"
    incident = store.state(key)
    if error is None:
        if incident is None:
            return None
        store.set_state(key, None)
        if incident.get("alerted_at"):
            _mail(store, config, kind, incident, now, recovered=True)
            log.warning("%s recovered (since %s)", kind, incident["since"])
            return "recovery"
        return None
    if incident is None:
        incident = {"since": iso(since or now), "error": error, "alerted_at": None}
    incident["error"] = error
    threshold = getattr(config.admin, f"{kind}_alert_after").seconds(_DAY)
    late = now - parse_iso(incident["since"]) >= timedelta(seconds=threshold)
    sent = None
    if late and not incident["alerted_at"]:
        incident["alerted_at"] = iso(now)
        _mail(store, config, kind, incident, now, recovered=False)
        log.error("%s failing since %s: %s", kind, incident["since"], error)
        sent = "alert"
    store.set_state(key, incident)
    return sent


def tell_quarantined(store: Store, config: Config, now: datetime) -> int:
    """Mail the admin what went to quarantine since the last such mail, at most once per
    [admin] quarantine_alert_every; returns how many records the mail listed (0: none sent).

    A poisoned or over-budget message no longer stops intake, so nothing else would show it:
    the customer waits on an answer that never comes unless someone looks."""
    records = store.quarantined()
    told = store.state(QUARANTINE_TOLD_KEY) or {"at": None, "ids": []}
    known = set(told["ids"])
    new = [record for record in records if record["id"] not in known]
    if not new:
        return 0
    every = config.admin.quarantine_alert_every.seconds(_DAY)
    if told["at"] and now - parse_iso(told["at"]) < timedelta(seconds=every):
        return 0
    store.set_state(QUARANTINE_TOLD_KEY, {"at": iso(now), "ids": [r["id"] for r in records]})
    log.error("%d message(s) newly quarantined; `maild quarantine list` shows them", len(new))
    language = config.support.language
    zone = config.support.timezone
    shown = [
        {
            "id": record["id"][:12],
            "at": wording.moment(parse_iso(record["received_at"]), zone),
            "source": record.get("source", ""),
            "reason": record.get("reason", ""),
        }
        for record in new[:QUARANTINE_LISTED]
    ]
    more = len(new) - len(shown)
    _mail_admin(
        store,
        config,
        "quarantine",
        "quarantined",
        language,
        now,
        count=len(new),
        shown=shown,
        more=more,
    )
    return len(new)


def _mail(
    store: Store, config: Config, kind: str, incident: dict, now: datetime, *, recovered: bool
) -> None:
    language = config.support.language
    zone = config.support.timezone
    since = parse_iso(incident["since"])
    _mail_admin(
        store,
        config,
        f"incident-{kind}",
        "incident",
        language,
        now,
        recovered=recovered,
        what=WHAT[kind][language],
        advice=ADVICE[kind][language],
        since=wording.moment(since, zone),
        now=wording.moment(now, zone),
        duration=wording.span((now - since).total_seconds(), language),
        error=incident["error"],
    )


def _mail_admin(
    store: Store,
    config: Config,
    kind: str,
    template: str,
    language: str,
    at: datetime,
    /,
    **values: object,
) -> None:
    """Queue one mail from maild to [admin] address (logged and dropped when there is none)."""
    to = config.admin.address
    if to is None:
        log.warning("no [admin] address: the %s mail goes nowhere", kind)
        return
    support = config.support
    subject, body = render(
        template, language, host=socket.gethostname(), support_name=support.name, **values
    )
    draft = Draft(
        message_id=new_message_id(support),
        sender=support.address,
        sender_name="maild",
        to=(to,),
        subject=subject,
        body=body,
        language=language,
        ticket_id="",
        in_reply_to=None,
        references=(),
        auto_submitted="auto-generated",
        date=iso(at),
    )
    queue_mail(store, draft, ticket=None, kind=kind, automatic=True, now=at)
