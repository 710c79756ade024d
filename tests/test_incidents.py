"""Incidents told once, and their end told once: the alert logic against a real store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from maild.clock import FixedClock, iso
from maild.config import Config
from maild.incidents import observe, tell_quarantined
from maild.service import Service
from maild.status import collect
from maild.store import Store

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_a_stuck_outbox_is_told_once_and_its_end_once(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(admin={"address": "ops@maild.test", "outbox_alert_after": "1h"})
    with Store.open(tmp_path / "data") as store:
        sent = []
        for minutes in (0, 30, 61, 90, 120):
            now = T0 + timedelta(minutes=minutes)
            sent.append(observe(store, config, "outbox", "451 try later", T0, now))
        sent.append(observe(store, config, "outbox", None, None, T0 + timedelta(minutes=130)))
        sent.append(observe(store, config, "outbox", None, None, T0 + timedelta(minutes=140)))
        store.commit()
        assert sent == [None, None, "alert", None, None, "recovery", None]
        mails = [m for m in store.outgoing() if m["kind"] == "incident-outbox"]
        assert [m["recipients"] for m in mails] == [["ops@maild.test"]] * 2
        assert "451 try later" in mails[0]["draft"]["body"]


def test_a_short_hiccup_tells_nobody(make_config: Callable[..., Config], tmp_path: Path) -> None:
    config = make_config(admin={"address": "ops@maild.test", "intake_alert_after": "15m"})
    with Store.open(tmp_path / "data") as store:
        assert observe(store, config, "intake", "connection reset", None, T0) is None
        later = T0 + timedelta(minutes=5)
        assert observe(store, config, "intake", None, None, later) is None
        assert store.outgoing() == []


def test_status_counts_only_told_incidents_and_copes_with_no_data(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    assert collect(tmp_path / "never-used") == {
        **collect(tmp_path / "never-used"),
        "running": False,
        "outbox_pending": 0,
        "incidents": {},
    }
    config = make_config(admin={"address": "ops@maild.test", "outbox_alert_after": "1h"})
    root = tmp_path / "data"
    with Store.open(root) as store:
        observe(store, config, "outbox", "451 later", T0, T0 + timedelta(minutes=5))
        store.commit()
    assert collect(root)["incidents"] == {}  # five minutes is not yet a problem
    with Store.open(root) as store:
        observe(store, config, "outbox", "451 later", T0, T0 + timedelta(minutes=61))
        store.commit()
    assert list(collect(root)["incidents"]) == ["outbox"]


def test_newly_quarantined_mail_is_listed_to_the_admin_at_most_hourly(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(admin={"address": "ops@maild.test", "quarantine_alert_every": "1h"})
    with Store.open(tmp_path / "data") as store:

        def quarantined(n: int, at: datetime) -> None:
            record = {"reason": f"over [limits] mime_depth #{n}", "source": f"listener:{n}"}
            store.put_quarantined(f"poison {n}".encode(), {**record, "received_at": iso(at)})

        told = [tell_quarantined(store, config, T0)]  # nothing quarantined: nothing to tell
        quarantined(1, T0)
        quarantined(2, T0)
        told.append(tell_quarantined(store, config, T0))
        quarantined(3, T0 + timedelta(minutes=10))
        told.append(tell_quarantined(store, config, T0 + timedelta(minutes=10)))  # too soon
        told.append(tell_quarantined(store, config, T0 + timedelta(minutes=61)))
        told.append(tell_quarantined(store, config, T0 + timedelta(hours=5)))  # nothing new
        store.commit()
        assert told == [0, 2, 0, 1, 0]
        mails = [m for m in store.outgoing() if m["kind"] == "quarantine"]
        assert [m["draft"]["subject"] for m in mails] == [
            "[maild] 2 messages quarantined",
            "[maild] 1 message quarantined",
        ]
        assert "over [limits] mime_depth #1" in mails[0]["draft"]["body"]
        assert "mime_depth #3" not in mails[0]["draft"]["body"]
        assert "over [limits] mime_depth #3" in mails[1]["draft"]["body"]
        assert "maild quarantine retry" in mails[1]["draft"]["body"]


def test_an_intake_that_fails_in_any_way_becomes_an_incident(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    """Not only IMAP errors: here the spool directory is unusable (a file where it should be)."""
    config = make_config(
        intake={"mode": "lmtp"}, admin={"address": "ops@maild.test", "intake_alert_after": "15m"}
    )
    with Store.open(tmp_path / "data") as store:
        service = Service(config, store, FixedClock(T0))
        spool = tmp_path / "data" / "spool" / "new"
        spool.rmdir()
        spool.write_text("not a directory")
        service.cycle()
        assert "NotADirectoryError" in (service.intake.last_error or "")
        service.clock = FixedClock(T0 + timedelta(minutes=16))
        service.cycle()
        [alert] = [m for m in store.outgoing() if m["kind"] == "incident-intake"]
        assert "NotADirectoryError" in alert["draft"]["body"]
        spool.unlink()
        spool.mkdir()
        service.clock = FixedClock(T0 + timedelta(minutes=20))
        service.cycle()
        assert service.intake.last_error is None
        assert len([m for m in store.outgoing() if m["kind"] == "incident-intake"]) == 2
        service.close()
