"""When the digest goes out: once per period at its slot, only the latest after downtime,
never twice across restarts, the monthly edition, `maild digest` on the command line."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from pathlib import Path

import pytest

from maild.cli import main
from maild.config import Config, parse_config
from maild.editions import next_digest_at, send_due, send_now
from maild.periods import parse_period
from maild.store import Store
from tests.digest_fixtures import SHANGHAI, fill


def cst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def config(root: Path, **digest: object) -> Config:
    return parse_config(
        {
            "support": {"address": "support@maild.test", "timezone": "Asia/Shanghai"},
            "store": {"path": str(root)},
            "intake": {"mode": "lmtp"},
            "smtp": {"transport": "folder", "folder": str(root / "out")},
            "digest": {"recipients": ["ceo@maild.test"], "language": "en", **digest},
        }
    )


def titles(subjects: list[str]) -> list[str]:
    """Subjects up to the colon (half- or full-width): the edition and its period."""
    return [re.split("[:：]", subject)[0] for subject in subjects]


def digests(store: Store) -> list[tuple[str, list[str]]]:
    return [
        (m["draft"]["subject"], m["recipients"]) for m in store.outgoing() if m["kind"] == "digest"
    ]


def test_first_run_waits_for_the_next_slot_then_sends_once(tmp_path: Path) -> None:
    cfg = config(tmp_path, lists=[{"recipients": ["board@maild.test"], "language": "zh"}])
    with Store.open(tmp_path) as store:
        assert send_due(store, cfg, cst("2026-11-18T10:00")) == []  # first run: nothing owed
        assert store.state("digest:week") == "2026-W46"
        assert send_due(store, cfg, cst("2026-11-23T08:59")) == []
        sent = send_due(store, cfg, cst("2026-11-23T09:00"))
        assert titles(sent) == [
            "Weekly support digest 2026-W47",
            "客服周报 2026-W47",
        ]
        assert [to for _, to in digests(store)] == [["ceo@maild.test"], ["board@maild.test"]]
        assert store.state("digest:week") == "2026-W47"
        assert send_due(store, cfg, cst("2026-11-23T09:01")) == []
    with Store.open(tmp_path) as store:  # a restart: the week sent was recorded
        assert send_due(store, cfg, cst("2026-11-23T12:00")) == []
        assert len(digests(store)) == 2


def test_after_downtime_only_the_latest_week_goes_out(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with Store.open(tmp_path) as store:
        send_due(store, cfg, cst("2026-11-02T10:00"))  # W44 is the starting point
        sent = send_due(store, cfg, cst("2026-11-25T15:00"))  # W45, W46, W47 were all due
        assert titles(sent) == ["Weekly support digest 2026-W47"]


def test_the_monthly_edition_on_the_first(tmp_path: Path) -> None:
    cfg = config(tmp_path, monthly=True)
    with Store.open(tmp_path) as store:
        send_due(store, cfg, cst("2026-11-20T10:00"))
        assert titles(send_due(store, cfg, cst("2026-11-30T09:00"))) == [
            "Weekly support digest 2026-W48"
        ]
        assert send_due(store, cfg, cst("2026-12-01T08:00")) == []
        sent = send_due(store, cfg, cst("2026-12-01T09:00"))
        assert titles(sent) == ["Monthly support digest 2026-11"]
        sent = send_due(store, cfg, cst("2026-12-07T09:00"))
        assert titles(sent) == ["Weekly support digest 2026-W49"]


def test_no_recipients_no_digest(tmp_path: Path) -> None:
    cfg = config(tmp_path, recipients=[])
    with Store.open(tmp_path) as store:
        assert send_due(store, cfg, cst("2026-11-23T09:00")) == []
        assert store.state("digest:week") is None
        with pytest.raises(ValueError, match="set \\[digest\\] recipients"):
            send_now(store, cfg, parse_period("2026-W47", SHANGHAI), cst("2026-11-23T09:00"))
    assert next_digest_at(cfg, cst("2026-11-23T09:00")) is None


@pytest.mark.parametrize(
    ("now", "monthly", "expected"),
    [
        ("2026-11-23T08:59", False, "2026-11-23T09:00"),
        ("2026-11-23T09:00", False, "2026-11-30T09:00"),  # the slot itself has passed
        ("2026-11-29T23:00", True, "2026-11-30T09:00"),
        ("2026-11-30T10:00", True, "2026-12-01T09:00"),  # the monthly edition comes first
    ],
)
def test_next_digest_at(tmp_path: Path, now: str, monthly: bool, expected: str) -> None:
    assert next_digest_at(config(tmp_path, monthly=monthly), cst(now)) == cst(expected)


def test_a_manual_send_counts_as_sent_only_for_a_finished_period(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with Store.open(tmp_path) as store:
        send_due(store, cfg, cst("2026-11-18T10:00"))
        send_now(store, cfg, parse_period("2026-W47", SHANGHAI), cst("2026-11-22T12:00"))
        assert store.state("digest:week") == "2026-W46"  # W47 was still running
        send_now(store, cfg, parse_period("2026-W47", SHANGHAI), cst("2026-11-23T08:00"))
        assert store.state("digest:week") == "2026-W47"
        assert send_due(store, cfg, cst("2026-11-23T09:00")) == []  # not sent a third time


def test_cli_preview_json_and_send(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        fill(store)
        store.commit()
    path = tmp_path / "maild.toml"
    path.write_text(
        f"""
[support]
address = "support@maild.test"
timezone = "Asia/Shanghai"
[store]
path = "{data}"
[intake]
mode = "lmtp"
[smtp]
transport = "folder"
folder = "{tmp_path / "out"}"
[digest]
recipients = ["ceo@maild.test"]
language = "en"
""",
        encoding="utf-8",
    )
    preview = tmp_path / "digest.html"
    now = "2026-11-23T10:00:00+08:00"
    assert main(["--config", str(path), "digest", "--preview", str(preview), "--now", now]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: Weekly support digest 2026-W47: SLA 80% met, 2 breaches")
    assert "== Hot topics ==" in out
    assert 'id="topics"' in preview.read_text(encoding="utf-8")
    args = ["--config", str(path), "digest", "--week", "2026-W47", "--language", "zh", "--now", now]
    assert main(args) == 0
    assert "客服周报 2026-W47" in capsys.readouterr().out
    assert main(["--config", str(path), "digest", "--week", "2026-W99"]) == 2
    assert "has no ISO week 99" in capsys.readouterr().err

    assert main(["--config", str(path), "digest", "--send", "--now", now]) == 0
    assert "queued: Weekly support digest 2026-W47" in capsys.readouterr().out
    [sent] = (tmp_path / "out").glob("*.eml")  # delivered at once: no daemon was running
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ceo@maild.test"
    assert message.get_content_type() == "multipart/alternative"
