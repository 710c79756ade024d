"""Composing maild's outgoing mail: templates in the customer's language, safe headers.

Pure: returns drafts and bytes, never sends. Every automatic mail says so (RFC 3834 Auto-Submitted,
and X-Auto-Response-Suppress for Exchange) so that other robots do not answer it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import Any

import jinja2

from maild.clock import iso, parse_iso
from maild.config import SupportConfig
from maild.notify.wording import PRIORITY_NAMES

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_MAX_REFERENCES = 20

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("maild.notify", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # plain-text mail: HTML escaping would corrupt it
)


@dataclass(frozen=True)
class Draft:
    """Everything an outgoing mail is made of; rendering it to MIME is deterministic.

    Intake stores drafts (cheap) and the outbox renders them at delivery (the costly part),
    so a retry after a crash sends the same bytes under the same Message-ID.
    """

    message_id: str
    sender: str
    sender_name: str
    to: tuple[str, ...]
    subject: str
    body: str
    language: str
    ticket_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    auto_submitted: str
    date: str  # ISO 8601
    # Files from the store, {filename, content_type, stored_as}: an agent's attachments.
    attachments: tuple[dict[str, str], ...] = ()
    html: str | None = None  # an HTML alternative to `body` (the digest)

    def to_stored(self) -> dict[str, Any]:
        """The draft as plain JSON data (dataclasses.asdict deep-copies, slowly)."""
        return {
            **vars(self),
            "to": list(self.to),
            "references": list(self.references),
            "attachments": [dict(a) for a in self.attachments],
        }

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Draft:
        """A draft back from the store: tuples became lists, and older drafts had one `to`."""
        to = stored["to"]
        return cls(
            **{
                **stored,
                "to": (to,) if isinstance(to, str) else tuple(to),
                "references": tuple(stored["references"]),
                "attachments": tuple(stored.get("attachments", ())),
            }
        )


def one_line(value: str, limit: int = 200) -> str:
    """A header-safe single line: CR, LF and other control characters never reach a header."""
    line = _CONTROL.sub(" ", value).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def new_message_id(support: SupportConfig) -> str:
    domain = support.address.rpartition("@")[2]
    return f"<maild.{uuid.uuid4().hex}@{domain}>"


def render(template: str, language: str, **values: object) -> tuple[str, str]:
    """Render a template whose first line is 'Subject: …'; returns (subject, body)."""
    text = _templates.get_template(f"{template}.{language}.txt.j2").render(**values)
    head, _, body = text.partition("\n\n")
    return one_line(head.removeprefix("Subject:")), body


def draft_acknowledgement(
    *,
    support: SupportConfig,
    language: str,
    ticket_id: str,
    token: str,
    priority: str,
    first_response: str,
    first_response_due: str,
    customer: str,
    customer_name: str,
    subject: str,
    text: str,
    in_reply_to: str,
    references: Sequence[str],
    now: datetime,
) -> Draft:
    """The acknowledgement of a new ticket, in the customer's language."""
    subject_line, body = render(
        "ack",
        language,
        token=token,
        subject=one_line(subject, 120),
        name=one_line(customer_name, 60),
        support_name=support.name,
        ticket_id=ticket_id,
        priority=PRIORITY_NAMES[language][priority],
        first_response=first_response,
        first_response_due=first_response_due,
        excerpt=excerpt(text),
    )
    return Draft(
        message_id=new_message_id(support),
        sender=support.address,
        sender_name=support.name,
        to=(customer,),
        subject=subject_line,
        body=body,
        language=language,
        ticket_id=ticket_id,
        in_reply_to=in_reply_to,
        references=tuple(thread_references(references, in_reply_to)),
        auto_submitted="auto-replied",
        date=iso(now),
    )


def to_mime(draft: Draft, read_file: Callable[[str], bytes] | None = None) -> bytes:
    """A complete RFC 5322 message from maild, threaded under the customer's message.

    `read_file` gives the bytes of a stored attachment; a draft with attachments needs it.
    """
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((one_line(draft.sender_name, 80), draft.sender))
    msg["To"] = ", ".join(draft.to)
    msg["Subject"] = one_line(draft.subject, 250)
    msg["Date"] = format_datetime(parse_iso(draft.date))
    msg["Message-ID"] = draft.message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
        msg["References"] = " ".join(draft.references)
    msg["Auto-Submitted"] = draft.auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    if draft.ticket_id:  # a status reply is about several tickets
        msg["X-Maild-Ticket"] = draft.ticket_id
    msg.set_content(draft.body, charset="utf-8")  # replaces Content-* headers: set them after
    if draft.html is not None:
        msg.add_alternative(draft.html, subtype="html", charset="utf-8")
    msg["Content-Language"] = "zh-CN" if draft.language == "zh" else "en"
    for attached in draft.attachments:
        if read_file is None:
            raise ValueError("this mail has attachments: to_mime needs read_file")
        maintype, _, subtype = attached["content_type"].partition("/")
        if not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            read_file(attached["stored_as"]),
            maintype=maintype,
            subtype=subtype,
            filename=attached["filename"],
        )
    return msg.as_bytes()


def thread_references(references: Sequence[str], parent: str) -> list[str]:
    """References for a reply: the parent's chain plus the parent, the first and last kept."""
    chain = [r for r in references if r != parent] + [parent]
    if len(chain) > _MAX_REFERENCES:
        chain = chain[:1] + chain[-(_MAX_REFERENCES - 1) :]
    return chain


def excerpt(text: str, lines: int = 8) -> list[str]:
    """The first lines of the customer's own words (no quoted history), for the ack."""
    own = [line.rstrip() for line in text.splitlines() if not line.lstrip().startswith(">")]
    while own and not own[0]:
        own.pop(0)
    return [one_line(line, 160) for line in own[:lines]]
