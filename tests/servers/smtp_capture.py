"""A real aiosmtpd SMTP server on loopback that keeps what it receives, for tests and benchmarks.

It can refuse on demand (scripted replies to DATA), offer STARTTLS or implicit TLS with the test
CA's certificate, and require AUTH — so the sender is tested against the protocol, not a mock.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


class _Handler:
    def __init__(self) -> None:
        self.messages: list[Captured] = []
        self.scripted: list[str] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.scripted:
            return self.scripted.pop(0)
        content = envelope.original_content or b""
        with self.arrived:
            self.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos), content))
            self.arrived.notify_all()
        return "250 2.0.0 OK captured"


class SmtpCapture:
    """Start with `with SmtpCapture() as smtp:`; `smtp.messages` holds what arrived."""

    def __init__(
        self,
        *,
        port: int,
        cert: tuple[Path, Path] | None = None,
        implicit_tls: bool = False,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.host = HOST
        self.port = port
        self.handler = _Handler()
        kwargs: dict[str, Any] = {}
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            kwargs["ssl_context" if implicit_tls else "tls_context"] = context
            kwargs["require_starttls"] = not implicit_tls
        if login is not None:
            kwargs["authenticator"] = _Authenticator(*login)
            kwargs["auth_required"] = True
        self.controller = Controller(self.handler, hostname=HOST, port=port, **kwargs)

    def __enter__(self) -> SmtpCapture:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Captured]:
        return self.handler.messages

    def refuse_next(self, *replies: str) -> None:
        """Answer the next DATA commands with these replies instead of accepting."""
        self.handler.scripted.extend(replies)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Captured]:
        deadline = time.monotonic() + timeout
        with self.handler.arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
                self.handler.arrived.wait(left)
        return list(self.messages)


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.expected = (username.encode(), password.encode())

    def __call__(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == self.expected
        return AuthResult(success=ok, handled=False)
