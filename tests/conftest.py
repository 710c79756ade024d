"""Shared pytest fixtures: real servers on loopback, one isolated account per test."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.servers.dovecot import Dovecot, ImapAccount, dovecot_available


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One real Dovecot for the whole run. Missing Dovecot fails: CI must never skip these."""
    if not dovecot_available():
        pytest.fail(
            "dovecot is not installed, so the IMAP tests cannot run. Run the project's test "
            "command (bash .ci/run), which installs the Debian package dovecot-imapd, "
            "or: apt-get install dovecot-imapd",
            pytrace=False,
        )
    with Dovecot() as server:
        yield server


@pytest.fixture
def imap_account(dovecot: Dovecot) -> ImapAccount:
    """A fresh user with a random name and password: a mailbox no other test touches."""
    return dovecot.new_account()


@pytest.fixture
def daemons() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; killed if the test left them running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


pytest_plugins = ["tests.mail_fixtures"]
