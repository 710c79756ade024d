"""kill -9 while mail streams in: nothing lost, nothing taken twice, nothing acknowledged twice.

`maild run` runs as a process against a real Dovecot (IMAP mode) or takes mail on its own LMTP
listener (LMTP mode), sends through a real aiosmtpd server, and is SIGKILLed MAILD_KILLS times
(default 50) at moments drawn with MAILD_KILL_SEED: right after start-up, while it takes a batch
in, while it parses, while it flushes the outbox. It is restarted after each kill. After the last
restart it drains, flushes and stops on SIGTERM, and the end state is audited (tests/kill_harness).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from maild.config import load_config
from tests.kill_harness import (
    IMAP_PARSING,
    INTAKE,
    KILLS,
    LMTP_PARSING,
    MAILS_PER_KILL,
    OUTBOX,
    SEED,
    STARTUP,
    Mail,
    Streamer,
    audit_acks,
    audit_store,
    distinct_acks,
    kill_rounds,
    last_run,
    lmtp_delivery,
    mail_stream,
    read_acks,
    settle,
    summary,
)
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import SmtpCapture

DRAIN_TIMEOUT = 60.0


def test_imap_intake_survives_kill_9(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
) -> None:
    """Mail is APPENDed to the inbox while maild idles on it; every message ends in the processed
    folder and on its ticket, and every ticket has one acknowledgement."""
    started = time.monotonic()
    config = config_file(
        account=imap_account,
        outgoing=smtp_server,
        imap={"idle": True},
    )
    rng = random.Random(SEED)
    mails = mail_stream(rng, KILLS * MAILS_PER_KILL)
    user, password = imap_account.username, imap_account.password
    sending = dovecot.client(user, password)  # the streamer's own: a client is not thread-safe
    client = dovecot.client(user, password)

    def append(mail: Mail) -> None:
        sending.append("INBOX", mail.raw)

    def count(folder: str) -> int:
        return int(client.select_folder(folder, readonly=True)[b"EXISTS"])

    streamer = Streamer(mails, append)
    streamer.start()
    try:
        report = kill_rounds(config, [STARTUP, INTAKE, IMAP_PARSING, OUTBOX], streamer, rng, KILLS)
        with last_run(config) as daemon:
            streamer.wait_done(DRAIN_TIMEOUT)
            openers = sum(m.opens_ticket for m in streamer.delivered)
            settle(
                lambda: count("INBOX") == 0 and distinct_acks(smtp_server.messages) >= openers,
                lambda: (count("INBOX"), len(smtp_server.messages)),
            )
        report.logs.append(daemon.finish())
        folders = {f: count(f) for f in ("INBOX", "maild.processed", "maild.quarantine")}
    finally:
        streamer.stop()
        streamer.join(DRAIN_TIMEOUT)
        sending.logout()
        client.logout()

    assert report.orphans == [], f"processes outlived the killed daemon: {report.orphans}"
    customers = audit_store(load_config(config).store.path, streamer.delivered)
    moved = {"INBOX": 0, "maild.processed": len(streamer.delivered), "maild.quarantine": 0}
    assert folders == moved, f"messages per folder: {folders}, expected {moved}"
    acks = read_acks(smtp_server.messages)
    audit_acks(acks, customers)
    print(summary("IMAP", report, streamer, acks, time.monotonic() - started))


def test_lmtp_intake_survives_kill_9(
    config_file: Callable[..., Path], smtp_server: SmtpCapture
) -> None:
    """Mail is delivered to maild's LMTP listener and retried until answered 250, as an MTA does;
    whatever was answered 250 is on its ticket in the end, even if maild died right after."""
    started = time.monotonic()
    config = config_file(outgoing=smtp_server, intake={"mode": "lmtp"})
    loaded = load_config(config)
    spool = loaded.store.path / "spool" / "new"
    rng = random.Random(SEED)
    mails = mail_stream(rng, KILLS * MAILS_PER_KILL)
    streamer = Streamer(mails, lmtp_delivery(loaded.intake.listen_host, loaded.intake.listen_port))
    streamer.start()
    try:
        report = kill_rounds(config, [STARTUP, INTAKE, LMTP_PARSING, OUTBOX], streamer, rng, KILLS)
        with last_run(config) as daemon:
            streamer.wait_done(DRAIN_TIMEOUT)
            openers = sum(m.opens_ticket for m in streamer.delivered)
            settle(
                lambda: not any(spool.iterdir()) and distinct_acks(smtp_server.messages) >= openers,
                lambda: (len(list(spool.iterdir())), len(smtp_server.messages)),
            )
        report.logs.append(daemon.finish())
    finally:
        streamer.stop()
        streamer.join(DRAIN_TIMEOUT)

    assert list(spool.iterdir()) == []
    assert report.orphans == [], f"processes outlived the killed daemon: {report.orphans}"
    customers = audit_store(loaded.store.path, streamer.delivered)
    acks = read_acks(smtp_server.messages)
    audit_acks(acks, customers)
    print(summary("LMTP", report, streamer, acks, time.monotonic() - started))
