"""Incidents told once, and their end told once: the alert logic against a real store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from maild.config import Config
from maild.incidents import observe
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
