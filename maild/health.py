"""`maild check`: can this config work here? One line per check, a clear reason per failure."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

from maild.config import Config
from maild.intake.imap import ImapError, ImapSource
from maild.notify.sender import DeliveryError, SmtpTransport


def run_checks(config: Config) -> Iterator[tuple[str, str | None]]:
    """(name, None) for a check that passed, (name, what is wrong) for one that failed."""
    yield "config", None
    yield "store", _check_store(config)
    if config.imap is not None and config.intake.mode == "imap":
        yield "imap", _check_imap(config)
    else:
        yield "listener", _check_listener(config)
    yield "smtp", _check_smtp(config)


def _check_store(config: Config) -> str | None:
    path = config.store.path
    existing = path if path.exists() else next((p for p in path.parents if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK):
        return f"{path} is not writable by this user"
    return None


def _check_imap(config: Config) -> str | None:
    assert config.imap is not None
    source = ImapSource(config.imap, max_bytes=config.limits.message_bytes)
    try:
        source.connect(create_folders=False)
    except ImapError as e:
        return str(e)
    finally:
        source.close()
    return None


def _check_listener(config: Config) -> str | None:
    host, port = config.intake.listen_host, config.intake.listen_port
    try:
        with socket.create_server((host, port)):
            return None
    except OSError as e:
        return f"cannot listen on {host}:{port}: {e.strerror} (is maild already running?)"


def _check_smtp(config: Config) -> str | None:
    smtp = config.smtp
    if smtp.transport == "folder":
        assert smtp.folder is not None
        return _check_writable_folder(smtp.folder)
    transport = SmtpTransport(smtp)
    try:
        with transport:
            transport.connect()
    except DeliveryError as e:
        return str(e)
    return None


def _check_writable_folder(folder: os.PathLike[str]) -> str | None:
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        return f"cannot create {folder}: {e.strerror}"
    return None if os.access(folder, os.W_OK) else f"{folder} is not writable by this user"
