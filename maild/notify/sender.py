"""Handing finished mail to the outgoing mail server (or, for the demo, to a folder).

The only module that imports smtplib. A DeliveryError says whether trying again can help:
4xx replies and network trouble are temporary, 5xx replies are permanent.
"""

from __future__ import annotations

import smtplib
import ssl
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from maild.config import SmtpConfig
from maild.store import write_atomically


class DeliveryError(Exception):
    """`permanent`: retrying cannot help; `unreachable`: no mail can go now, stop this round."""

    def __init__(self, message: str, *, permanent: bool, unreachable: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unreachable = unreachable


class Transport(Protocol):
    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        """Deliver one message; raises DeliveryError."""
        ...


def open_transport(config: SmtpConfig) -> Transport:
    if config.transport == "folder":
        assert config.folder is not None
        return FolderTransport(config.folder)
    return SmtpTransport(config)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificate verification always on; a private CA may be named in config."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class SmtpTransport:
    """One SMTP session per outbox flush, opened lazily and re-opened after a failure."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def connect(self) -> None:
        cfg = self.config
        try:
            if cfg.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=tls_context(cfg.ca_file)
                )
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        except (OSError, smtplib.SMTPException) as e:
            raise _unreachable(f"cannot reach SMTP server {cfg.host}:{cfg.port}: {e}") from None
        try:
            if cfg.tls == "starttls":
                smtp.starttls(context=tls_context(cfg.ca_file))
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
        except smtplib.SMTPAuthenticationError as e:
            _hang_up(smtp)
            raise _unreachable(f"SMTP login refused: {_reply(e)}") from None
        except smtplib.SMTPResponseException as e:
            _hang_up(smtp)
            raise _unreachable(f"SMTP server refused us: {_reply(e)}") from None
        except (OSError, smtplib.SMTPException) as e:
            _hang_up(smtp)
            raise _unreachable(f"SMTP session with {cfg.host}:{cfg.port} failed: {e}") from None
        self._smtp = smtp

    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        if self._smtp is None:
            self.connect()
        assert self._smtp is not None
        try:
            refused = self._smtp.sendmail(envelope_from, list(recipients), raw)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            raise DeliveryError(
                f"all recipients refused: {_refusals(e.recipients)}",
                permanent=all(c >= 500 for c in codes),
            ) from None
        except smtplib.SMTPResponseException as e:
            self._close()
            raise DeliveryError(_reply(e), permanent=e.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as e:
            self._close()
            raise _unreachable(f"SMTP connection failed: {e}") from None
        if refused:
            raise DeliveryError(f"some recipients refused: {_refusals(refused)}", permanent=True)

    def _close(self) -> None:
        if self._smtp is not None:
            _hang_up(self._smtp)
            self._smtp = None


class FolderTransport:
    """The demo's outgoing mail server: each message becomes an .eml file in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> FolderTransport:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        envelope = (
            f"X-Envelope-From: <{envelope_from}>\r\nX-Envelope-To: {', '.join(recipients)}\r\n"
        )
        try:
            write_atomically(self.folder / name, envelope.encode() + raw)
        except OSError as e:
            raise DeliveryError(
                f"cannot write to {self.folder}: {e.strerror}", permanent=False, unreachable=True
            ) from e


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT politely if the session still allows it; close the socket in any case."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _unreachable(message: str) -> DeliveryError:
    return DeliveryError(message, permanent=False, unreachable=True)


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    """Each refused address with the server's answer, as an agent reads it in a notice."""
    return "; ".join(
        f"{address}: {code} {text.decode('utf-8', 'replace')}"
        for address, (code, text) in refused.items()
    )


def _reply(e: smtplib.SMTPResponseException) -> str:
    text = (
        e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
    )
    return f"{e.smtp_code} {text}"
