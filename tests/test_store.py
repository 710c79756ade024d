"""The store: atomic commits, rollback, the lock, the delivery journal, crash safety."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from maild.store import Store, StoreError, StoreLocked


def ticket(number: int, **fields: object) -> dict:
    return {"number": number, "id": f"MD-{number}", "status": "new", **fields}


def test_commit_survives_reopen(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        number = store.allocate_ticket_number()
        store.add_ticket(ticket(number, subject="系统崩溃"))
        store.add_message({"message_id": "<a@x>", "ticket": number, "text": "你好"})
        store.commit()
    with Store.open(tmp_path) as store:
        assert store.ticket(number)["subject"] == "系统崩溃"
        assert store.ticket_of_message("<a@x>") == number
        assert store.allocate_ticket_number() == number + 1
    # Kept as UTF-8 text (readable with grep), in the journal until the next compaction.
    assert "系统崩溃" in (tmp_path / "db.journal").read_text(encoding="utf-8")


def test_a_torn_journal_line_is_an_uncommitted_commit(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_ticket(ticket(1))
        store.commit()
    with open(tmp_path / "db.journal", "ab") as f:
        f.write(b'{"seq":3,"ops":[{"table":"tickets","docs":[{"numb')  # crash mid-append
    with Store.open(tmp_path) as store:
        assert store.ticket(1) is not None
        store.add_ticket(ticket(2))
        store.commit()  # appended after the good lines: the torn one was cut off
    with Store.open(tmp_path) as store:
        assert [t["number"] for t in store.tickets()] == [1, 2]


def test_compaction_interrupted_before_the_journal_is_emptied(tmp_path: Path) -> None:
    """The snapshot records the last journal line it holds: those lines are not applied twice."""
    with Store.open(tmp_path) as store:
        store.add_ticket(ticket(1, message_count=1))
        store.commit()
        store.update_ticket(1, {"message_count": 2})
        store.add_message({"message_id": "<m@x>", "ticket": 1})
        store.commit()
        journal = (tmp_path / "db.journal").read_bytes()
        store.compact()
    (tmp_path / "db.journal").write_bytes(journal)  # as if the crash came before truncation
    with Store.open(tmp_path) as store:
        assert store.ticket(1)["message_count"] == 2
        assert len(store.tickets()) == 1 and len(store.messages(1)) == 1
        store.add_ticket(ticket(2))
        store.commit()
    with Store.open(tmp_path) as store:
        assert [t["number"] for t in store.tickets()] == [1, 2]


def test_a_commit_costs_what_changed_not_the_database(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        for n in range(1, 201):
            store.add_ticket(ticket(n, subject="x" * 500))
        store.commit()
        store.compact()
        snapshot = (tmp_path / "db.json").stat().st_size
        store.update_ticket(7, {"status": "open"})
        store.commit()
        store.commit()  # nothing staged: nothing written
    journal = (tmp_path / "db.journal").stat().st_size
    assert snapshot > 100_000 and journal < 200
    assert (tmp_path / "db.json").stat().st_size == snapshot
    with Store.open(tmp_path, readonly=True) as store:
        assert store.ticket(7)["status"] == "open"


def test_uncommitted_changes_are_lost_on_reopen(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_ticket(ticket(1))
        assert store.uncommitted
    with Store.open(tmp_path) as store:
        assert store.ticket(1) is None


def test_batch_rolls_back_on_error(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_ticket(ticket(1))
        store.commit()
        with pytest.raises(RuntimeError), store.batch():
            store.update_ticket(1, {"status": "open"})
            store.add_message({"message_id": "<m@x>", "ticket": 1})
            raise RuntimeError("boom")
        assert store.ticket(1)["status"] == "new"
        assert not store.has_message("<m@x>")


def test_staged_reads_and_updates_before_commit(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_ticket(ticket(1))
        store.update_ticket(1, {"status": "open"})
        assert store.ticket(1)["status"] == "open"
        store.commit()
        store.update_ticket(1, {"priority": "urgent"})
        assert store.ticket(1) == {**ticket(1), "status": "open", "priority": "urgent"}
        assert [t["priority"] for t in store.tickets()] == ["urgent"]
        assert store.tickets(status="closed") == []


def test_duplicates_are_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_message({"message_id": "<a@x>", "ticket": None})
        with pytest.raises(StoreError):
            store.add_message({"message_id": "<a@x>", "ticket": None})
        store.add_ticket(ticket(1))
        with pytest.raises(StoreError):
            store.add_ticket(ticket(1))
        with pytest.raises(StoreError):
            store.update_ticket(2, {"status": "x"})


def test_second_writer_refused_reader_allowed(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_ticket(ticket(1))
        store.commit()
        with pytest.raises(StoreLocked, match=rf"pid {os.getpid()}"):
            Store.open(tmp_path)
        reader = Store.open(tmp_path, readonly=True)
        assert reader.ticket(1) is not None
        with pytest.raises(StoreError):
            reader.commit()
    Store.open(tmp_path).close()  # the lock is released with the store


def test_readonly_needs_existing_data(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no maild data"):
        Store.open(tmp_path / "nothing", readonly=True)


def test_corrupt_database_is_reported_not_overwritten(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    (tmp_path / "db.json").write_text('{"tickets": {')
    with pytest.raises(StoreError, match="not valid JSON"):
        Store.open(tmp_path)
    assert (tmp_path / "db.json").read_text() == '{"tickets": {'


def test_delivery_journal_survives_without_commit(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_outgoing({"id": "m1", "status": "pending", "created_at": "2026-01-01T00:00:00"})
        store.commit()
        store.record_delivery("m1", {"status": "sent"})
    with open(tmp_path / "outbox.journal", "a") as f:
        f.write('{"id": "m1", "fie')  # a torn last line, as after a crash mid-write
    with Store.open(tmp_path) as store:
        assert store.outgoing()[0]["status"] == "sent"
        store.commit()
    assert (tmp_path / "outbox.journal").read_text() == ""
    with Store.open(tmp_path) as store:
        assert store.outgoing()[0]["status"] == "sent"


def test_files_are_content_addressed(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        ref = store.put_raw(b"Subject: x\r\n\r\nbody")
        assert store.put_raw(b"Subject: x\r\n\r\nbody") == ref
        assert store.put_raw(b"other") != ref
        store.commit()
    assert (tmp_path / ref).read_bytes() == b"Subject: x\r\n\r\nbody"


def test_auto_reply_counting(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    with Store.open(tmp_path) as store:
        for i, minutes in enumerate((90, 50, 10)):
            store.add_outgoing(
                {
                    "id": str(i),
                    "automatic": True,
                    "recipients": ["A@x.cn"],
                    "created_at": (now - timedelta(minutes=minutes)).isoformat(),
                }
            )
        assert store.auto_replies_since("a@x.cn", now - timedelta(hours=1)) == 2
        store.commit()
    with Store.open(tmp_path) as store:
        assert store.auto_replies_since("a@x.cn", now - timedelta(hours=1)) == 2


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import maild.store
    from maild.store import Store
    if sys.argv[2] == "compact-always":  # every commit also rewrites db.json
        maild.store.COMPACT_MIN_BYTES = maild.store.COMPACT_RATIO = 0
    store = Store.open(Path(sys.argv[1]))
    n = store.state("counter") or 0
    while True:
        n += 1
        store.set_state("counter", n)
        store.add_message({"message_id": f"<{n}@x>", "ticket": None, "text": "x" * 2000})
        store.commit()
        print(n, flush=True)
    """
)


@pytest.mark.parametrize("compaction", ["when-due", "compact-always"])
def test_kill_9_never_leaves_a_torn_database(tmp_path: Path, compaction: str) -> None:
    """SIGKILL at random instants: each time the last commit (or a later one) is readable,
    whether the kill lands in a journal append or in a compaction."""
    last_seen = 0
    for round_ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), compaction],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        printed = 0
        for line in proc.stdout:
            printed = int(line)
            if printed >= last_seen + 5 + round_:
                break
        time.sleep(0.001 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = json.loads((tmp_path / "db.json").read_text(encoding="utf-8"))
        assert isinstance(data, dict)
        with Store.open(tmp_path) as store:
            counter = store.state("counter")
            assert counter >= printed
            assert store.has_message(f"<{counter}@x>")
            assert not store.has_message(f"<{counter + 1}@x>")
            assert len(store.messages(None)) == counter  # nothing replayed twice
        last_seen = counter


def test_commit_without_syncfs_fsyncs_each_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where syncfs(2) is missing, every new file and its directory is fsynced instead."""
    import maild.store

    synced: list[int] = []
    monkeypatch.setattr(maild.store, "_syncfs", None)
    monkeypatch.setattr(maild.store.os, "fsync", lambda fd: synced.append(fd))
    with Store.open(tmp_path) as store:
        ref = store.put_raw(b"one")
        store.put_attachment(b"two")
        store.set_state("refers-to", ref)
        before = len(synced)
        store.commit()
        assert len(synced) - before >= 2 + 2 + 1  # two files, their directories, the journal
    assert (tmp_path / ref).read_bytes() == b"one"
