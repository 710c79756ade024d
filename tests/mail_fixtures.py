"""Fixtures for mail going out and whole-daemon tests: a capturing SMTP server and configs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maild.config import Config, parse_config
from tests.servers.dovecot import Dovecot, ImapAccount, free_port
from tests.servers.smtp_capture import SmtpCapture

SUPPORT_ADDRESS = "support@maild.test"


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""
    with SmtpCapture(port=free_port()) as server:
        yield server


@pytest.fixture
def server_cert(dovecot: Dovecot) -> tuple[Path, Path]:
    """The test CA's server certificate and key (made for the Dovecot fixture)."""
    return dovecot.dir / "ssl" / "server.crt", dovecot.dir / "ssl" / "server.key"


MakeConfig = Callable[..., Config]


@pytest.fixture
def make_config(config_data: Callable[..., dict[str, Any]]) -> MakeConfig:
    """A valid maild Config in a fresh data dir; keyword tables override the defaults."""
    return lambda **kw: parse_config(config_data(**kw))


@pytest.fixture
def config_file(tmp_path: Path, config_data: Callable[..., dict[str, Any]]) -> Callable[..., Path]:
    """The same as make_config, written as a TOML file for the command line."""

    def write(**kw: Any) -> Path:
        path = tmp_path / "maild.toml"
        path.write_text(toml_text(config_data(**kw)), encoding="utf-8")
        return path

    return write


def toml_text(data: dict[str, dict[str, Any]]) -> str:
    """Tables of strings, numbers and booleans as TOML (JSON strings are TOML strings)."""
    lines = []
    for table, values in data.items():
        lines.append(f"[{table}]")
        lines += [
            f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def config_data(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    def make(
        *,
        account: ImapAccount | None = None,
        outgoing: SmtpCapture | None = None,
        **tables: dict[str, Any],
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "support": {"address": SUPPORT_ADDRESS, "name": "Test Support", "language": "en"},
            "store": {"path": str(tmp_path / "data")},
            "intake": {"mode": "smtp", "listen": f"127.0.0.1:{free_port()}"},
            "smtp": {"transport": "folder", "folder": str(tmp_path / "outgoing")},
        }
        if account is not None:
            data["intake"] = {"mode": "imap"}
            data["imap"] = {
                "host": account.host,
                "port": account.port,
                "tls": "none",
                "username": account.username,
                "password": account.password,
                "poll_seconds": 1,
                "timeout": 10,
            }
        if outgoing is not None:
            data["smtp"] = {
                "host": outgoing.host,
                "port": outgoing.port,
                "tls": "none",
                "timeout": 5,
            }
        for name, values in tables.items():
            data[name] = {**data.get(name, {}), **values}
        return data

    return make


@pytest.fixture
def dovecot_ca(dovecot: Dovecot) -> Path:
    return dovecot.ca_file
