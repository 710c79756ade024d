"""maild's own LMTP/SMTP listener (aiosmtpd), so an MTA can deliver straight to it.

It accepts fast and works later: the raw message is in the spool, fsynced, before the 250.
Every internal failure answers 451 (try again later) — never a 5xx, which would make the
sending MTA drop the customer's mail. The only permanent refusal is 552, for mail over the
size limit, which IMAP intake would not take either.
"""

from __future__ import annotations

import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from maild.intake.spool import Spool

log = logging.getLogger("maild.listener")

STORED = "250 2.0.0 Message accepted for delivery"
TRY_LATER = "451 4.3.0 Temporary local problem, please try again later"
TOO_BIG = "552 5.3.4 Message too big for system"
_GO_AHEAD = "354"
# aiosmtpd's answer to a DATA line longer than line_length_limit.
_LINE_TOO_LONG = "500 Line too long"
# RFC 5321's line length: the least any SMTP server must take.
_SHORTEST_LINE_LIMIT = 1001


class _SMTP(SMTP):
    """SMTP taking lines as long as the whole message may be, as IMAP intake does.

    aiosmtpd refuses a DATA line longer than `line_length_limit` with a permanent 500, and the
    MTA bounces the customer's mail. With the limit at the size limit, any line that fits in an
    acceptable message is taken; the reader then buffers at most about twice the size limit per
    connection, the order of what the message itself takes. A longer line makes the message too
    big, so it gets the 552 every oversized message gets.
    """

    def __init__(self, handler: Any, *, max_bytes: int, **kwargs: Any) -> None:
        self.line_length_limit = max(max_bytes, _SHORTEST_LINE_LIMIT)
        super().__init__(handler, **kwargs)

    async def push(self, status: Any) -> None:
        if isinstance(status, str) and status.startswith(_LINE_TOO_LONG):
            status = TOO_BIG
        await super().push(status)


class _ReplyPerRecipient(LMTP):
    """After DATA, LMTP owes one reply per recipient (RFC 2033); aiosmtpd sends one (#517),
    and a client waiting for the others times out. Every reply to the message — stored, try
    later, too big — is repeated for each recipient."""

    _replies_due = 0

    async def push(self, status: Any) -> None:
        if self._replies_due and isinstance(status, str):
            count, self._replies_due = self._replies_due, 0
            status = "\r\n".join([status] * count)
        elif isinstance(status, str) and status.startswith(_GO_AHEAD):
            self._replies_due = len(self.envelope.rcpt_tos)
        await super().push(status)


class _LMTP(_SMTP, _ReplyPerRecipient):
    """LMTP with _SMTP's long lines and a reply per recipient."""


class SpoolHandler:
    """aiosmtpd hooks: keep every message in the spool before answering."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        return_path = f"Return-Path: <{envelope.mail_from or ''}>\r\n".encode(
            "utf-8", "surrogateescape"
        )
        try:
            path = self.spool.put(return_path + content)
        except Exception as e:  # disk full, permissions, anything: the MTA must keep the mail
            log.error(
                "cannot spool a message from <%s>: %s: %s",
                envelope.mail_from,
                type(e).__name__,
                e,
            )
            return TRY_LATER
        log.info("spooled %s (%d bytes) from <%s>", path.name, len(content), envelope.mail_from)
        return STORED

    async def handle_exception(self, error: Exception) -> str:
        log.exception("listener error: %s", error)
        return TRY_LATER


class Listener(Controller):
    """An aiosmtpd Controller speaking LMTP or SMTP on host:port, feeding a Spool."""

    def __init__(self, spool: Spool, *, host: str, port: int, lmtp: bool, max_bytes: int) -> None:
        self.lmtp = lmtp
        self.max_bytes = max_bytes
        super().__init__(
            SpoolHandler(spool),
            hostname=host,
            port=port,
            server_hostname="maild",
            data_size_limit=max_bytes,
            ident="maild",
        )

    def factory(self) -> Any:
        protocol = _LMTP if self.lmtp else _SMTP
        return protocol(self.handler, max_bytes=self.max_bytes, **self.SMTP_kwargs)
