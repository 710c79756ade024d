"""A message that kills maild is quarantined after `parse_attempts` deaths, in both intake modes.

The deaths are real: `maild once` runs as a process with a crash planted in classification
(SIGKILL on itself when a message says so, as a segfault in a C extension would end it).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from maild.intake.attempts import Attempts
from maild.store import Store
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.test_end_to_end import customer_mail

POISON = "PLANTED-CRASH"

# `maild once`, with classification rigged to kill the process on the poisoned message.
_DYING_MAILD = textwrap.dedent(
    f"""
    import os, signal, sys
    import maild.classify, maild.ingest
    real = maild.classify.classify

    def classify(*args, **kwargs):
        if {POISON!r} in kwargs.get("body", ""):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    maild.ingest.classify = classify
    from maild.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def run_once(config: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _DYING_MAILD, "--config", str(config), "once"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode


# --- the ledger on its own ---------------------------------------------------------------------


def test_an_ended_batch_is_no_death(tmp_path: Path) -> None:
    ledger = Attempts(tmp_path / "intake.attempts")
    with ledger.taking(["a", "b"]):
        pass
    assert Attempts(tmp_path / "intake.attempts").deaths == {}


def test_an_exception_is_no_death(tmp_path: Path) -> None:
    ledger = Attempts(tmp_path / "intake.attempts")
    try:
        with ledger.taking(["a"]):
            raise OSError("disk full")
    except OSError:
        pass
    assert not Attempts(tmp_path / "intake.attempts").suspect("a")


def test_a_message_taken_in_after_deaths_is_forgotten_also_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "intake.attempts"
    path.write_text("B a b\n", encoding="utf-8")  # died during a, b
    ledger = Attempts(path)
    with ledger.taking(["a"]):
        pass
    assert Attempts(path).deaths == {"b": 1}


def test_the_ledger_stays_small(tmp_path: Path) -> None:
    path = tmp_path / "intake.attempts"
    path.write_text("B a\n", encoding="utf-8")
    ledger = Attempts(path)
    for n in range(5000):
        with ledger.taking(["a", f"m{n}"] if n == 0 else [f"m{n}"]):
            pass
    assert path.stat().st_size < 80_000
    assert Attempts(path).deaths == {}


def test_deaths_add_up_over_restarts_and_survive_the_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "intake.attempts"
    path.write_text("B a b c\nE\nB d e\n", encoding="utf-8")  # died during d, e
    ledger = Attempts(path)
    assert (ledger.tries("d"), ledger.tries("e"), ledger.suspect("a")) == (1, 1, False)
    with open(path, "a", encoding="utf-8") as f:
        f.write("B d\n")  # and again, taking d alone
    ledger = Attempts(path)
    assert (ledger.tries("d"), ledger.tries("e")) == (2, 1)
    with ledger.taking(["e"]):
        pass
    assert ledger.tries("e") == 0
    assert Attempts(path).tries("d") == 2


# --- real deaths ---------------------------------------------------------------------------------


def test_a_message_that_kills_maild_is_quarantined_in_listener_mode(
    config_file: Callable[..., Path], tmp_path: Path
) -> None:
    config = config_file(limits={"parse_attempts": 3})
    spool = tmp_path / "data" / "spool" / "new"
    spool.mkdir(parents=True)
    for n, (sender, body) in enumerate(
        [("a@example.com", "hello"), ("b@example.com", POISON), ("c@example.com", "bonjour")]
    ):
        (spool / f"{n}.eml").write_bytes(customer_mail(sender, f"mail {n}", body))

    codes = [run_once(config) for _ in range(5)]

    assert codes == [-9, -9, -9, 0, 0]  # three deaths, then maild goes on without it
    assert list(spool.iterdir()) == []
    with Store.open(tmp_path / "data", readonly=True) as store:
        assert sorted(t["customer"] for t in store.tickets()) == ["a@example.com", "c@example.com"]
        [record] = store.quarantined()
    assert "maild died 3 times" in record["reason"]
    assert POISON.encode() in (tmp_path / "data" / record["raw"]).read_bytes()


def test_a_message_that_kills_maild_is_quarantined_in_imap_mode(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    tmp_path: Path,
) -> None:
    config = config_file(account=imap_account, limits={"parse_attempts": 2})
    for sender, body in [("a@example.com", POISON), ("b@example.com", "你好")]:
        mail = customer_mail(sender, "help", body)
        dovecot.append(imap_account.username, imap_account.password, mail)

    codes = [run_once(config) for _ in range(3)]

    assert codes == [-9, -9, 0]
    with Store.open(tmp_path / "data", readonly=True) as store:
        assert [t["customer"] for t in store.tickets()] == ["b@example.com"]
        [record] = store.quarantined()
    assert "maild died 2 times" in record["reason"]
    user, password = imap_account.username, imap_account.password
    assert dovecot.folder_messages(user, password, "INBOX") == []
    [quarantined] = dovecot.folder_messages(user, password, "maild.quarantine")
    assert POISON.encode() in quarantined
    assert len(dovecot.folder_messages(user, password, "maild.processed")) == 1


def test_what_a_dead_daemon_left_half_written_is_cleared_at_start(
    config_file: Callable[..., Path], tmp_path: Path
) -> None:
    """A spool write never answered 250 (the MTA keeps that mail) and a half-written status
    file: both are gone after the next start, and nothing in them is taken in."""
    config = config_file(intake={"mode": "lmtp"})
    unanswered = tmp_path / "data" / "spool" / "tmp" / "1.2.half.eml"
    unanswered.parent.mkdir(parents=True)
    unanswered.write_bytes(customer_mail("a@example.com", "half", "cut off"))
    status = tmp_path / "data" / ".status.json.4242.tmp"
    status.write_text("{")
    assert run_once(config) == 0
    assert not unanswered.exists() and not status.exists()
    with Store.open(tmp_path / "data", readonly=True) as store:
        assert store.tickets() == []
