"""maild's own LMTP/SMTP listener (aiosmtpd), so an MTA can deliver straight to it.

It accepts fast and works later: the raw message is in the spool, fsynced, before the 250.
Every internal failure answers 451 (try again later) — never a 5xx, which would make the
sending MTA drop the customer's mail. Oversized mail gets aiosmtpd's 552 at the size limit.
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
# RFC 5321 caps lines at 1000 octets, but real clients send longer ones; refusing them with
# aiosmtpd's permanent 500 would lose the mail, so allow long lines and let the parser cope.
LONG_LINE_LIMIT = 1 << 20


class _SMTP(SMTP):
    line_length_limit = LONG_LINE_LIMIT


class _LMTP(LMTP):
    line_length_limit = LONG_LINE_LIMIT


class SpoolHandler:
    """aiosmtpd hooks: keep every message in the spool and answer per RFC 5321 / RFC 2033."""

    def __init__(self, spool: Spool, *, lmtp: bool) -> None:
        self.spool = spool
        self.lmtp = lmtp

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        return_path = f"Return-Path: <{envelope.mail_from or ''}>\r\n".encode(
            "utf-8", "surrogateescape"
        )
        try:
            path = self.spool.put(return_path + content)
        except OSError as e:
            log.error("cannot spool a message from <%s>: %s", envelope.mail_from, e)
            return TRY_LATER
        log.info("spooled %s (%d bytes) from <%s>", path.name, len(content), envelope.mail_from)
        if self.lmtp:
            # RFC 2033: one reply per recipient; aiosmtpd sends these lines as they are (#517).
            return "\r\n".join(STORED for _ in envelope.rcpt_tos)
        return STORED

    async def handle_exception(self, error: Exception) -> str:
        log.exception("listener error: %s", error)
        return TRY_LATER


class Listener(Controller):
    """An aiosmtpd Controller speaking LMTP or SMTP on host:port, feeding a Spool."""

    def __init__(self, spool: Spool, *, host: str, port: int, lmtp: bool, max_bytes: int) -> None:
        self.lmtp = lmtp
        super().__init__(
            SpoolHandler(spool, lmtp=lmtp),
            hostname=host,
            port=port,
            server_hostname="maild",
            data_size_limit=max_bytes,
            ident="maild",
        )

    def factory(self) -> Any:
        protocol = _LMTP if self.lmtp else _SMTP
        return protocol(self.handler, **self.SMTP_kwargs)
