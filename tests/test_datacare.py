"""Looking after a data directory: backups beside a running writer, safe restores, quarantine
and outbox repair, and format migrations. Real stores in tmp_path throughout."""

from __future__ import annotations

import fcntl
import hashlib
import io
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import orjson
import pytest

import maild.datacare
import maild.store
from maild.config import Config
from maild.datacare import (
    BackupError,
    OutboxError,
    QuarantineError,
    RestoreError,
    VersionError,
    backup,
    check_version,
    migrate,
    outbox_list,
    outbox_retry,
    quarantine_list,
    quarantine_retry,
    quarantine_show,
    restore,
)
from maild.ingest import Outcome, ingest, quarantine
from maild.intake.parse_pool import parse_or_error
from maild.notify.outbox import flush
from maild.notify.sender import DeliveryError
from maild.store import Store
from maild.sweep import recheck_if_policies_changed
from tests.test_outbox import CONFIG

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
MakeConfig = Callable[..., Config]


def mail(sender: str, subject: str, body: str, *, attachment: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@maild.test"
    msg["Subject"] = subject
    digest = hashlib.sha256(f"{sender} {subject} {body}".encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<{digest}@customer.example>"
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0800"
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="a.pdf")
    return msg.as_bytes()


def take_in(store: Store, config: Config, raw: bytes, now: datetime = NOW) -> Outcome:
    with store.batch():
        parsed = parse_or_error(raw, config.limits)
        return ingest(store, raw, parsed, config=config, now=now, source="test")


def members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


def snapshot_of(store: Store) -> dict[str, Any]:
    """What a restore must bring back, comparable across stores."""
    return {
        "tickets": store.tickets(archived=True),
        "messages": sorted(store.iter_messages(), key=lambda m: m["message_id"]),
        "outbox": sorted(store.outgoing(), key=lambda m: m["id"]),
        "quarantine": sorted(store.quarantined(), key=lambda q: q["id"]),
        "next_ticket": store.state("next_ticket"),
    }


@pytest.fixture
def config(make_config: MakeConfig) -> Config:
    return make_config()


@pytest.fixture
def busy_store(config: Config) -> Iterator[Store]:
    """Two tickets (one with an attachment), a reply, acknowledgements and a quarantined mail."""
    with Store.open(config.store.path) as store:
        take_in(store, config, mail("ann@example.com", "Printer on fire", "It smokes."))
        take_in(store, config, mail("bo@example.com", "发票", "请看附件", attachment=b"%PDF-1.4"))
        take_in(store, config, b"not an email at all")
        yield store


# -- backup and restore ------------------------------------------------------------------------


def test_backup_restores_to_the_same_data(busy_store: Store, tmp_path: Path) -> None:
    root = busy_store.root
    for stray in ("spool", "commands/new"):
        (root / stray).mkdir(parents=True)
        (root / stray / "x.eml").write_bytes(b"not backed up")
    (root / "status.json").write_text("{}")
    archive = tmp_path / "backups" / "maild.tar.gz"

    summary = backup(root, archive)

    names = members(archive)
    assert names[:2] == ["db.json", "db.journal"]
    kept = ("db.json", "db.journal", "raw", "attachments", "quarantine")
    assert not [n for n in names if n.split("/")[0] not in kept]
    assert any(n.startswith("attachments/") for n in names)
    assert any(n.startswith("quarantine/") for n in names)
    assert archive.stat().st_mode & 0o777 == 0o600  # every customer's mail is in it
    assert not [p for p in archive.parent.iterdir() if p != archive]  # no temp files left
    files = len([n for n in names if "/" in n])
    assert summary == {"tickets": 2, "messages": len(list(busy_store.iter_messages())),
                       "files": files, "bytes": archive.stat().st_size,
                       "seq": summary["seq"], "missing": []}  # fmt: skip

    restored = restore(archive, tmp_path / "new" / "data")

    assert restored["tickets"] == 2 and restored["files"] == files
    with Store.open(tmp_path / "new" / "data") as copy:
        assert snapshot_of(copy) == snapshot_of(busy_store)
        for message in copy.iter_messages():
            if message.get("raw"):
                assert copy.read_file(message["raw"]) == busy_store.read_file(message["raw"])
        assert not (copy.root / "spool").exists() and not (copy.root / "status.json").exists()
        assert [p.name for p in copy.root.iterdir() if p.name.startswith(".")] == []


def test_backup_keeps_delivery_marks_not_yet_committed(busy_store: Store, tmp_path: Path) -> None:
    mail_id = busy_store.outgoing("pending")[0]["id"]
    busy_store.record_delivery(mail_id, {"status": "sent", "attempts": 1, "sent_at": "x"})
    assert (busy_store.root / "outbox.journal").stat().st_size > 0  # not in db.journal yet

    backup(busy_store.root, tmp_path / "b.tar.gz")
    restore(tmp_path / "b.tar.gz", tmp_path / "copy")

    with Store.open(tmp_path / "copy", readonly=True) as copy:
        assert [m["status"] for m in copy.outgoing() if m["id"] == mail_id] == ["sent"]


def test_a_torn_last_journal_line_is_left_out(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with Store.open(root) as store:
        store.add_ticket({"number": 1, "id": "MD-1", "status": "new"})
        store.commit()
        store.add_ticket({"number": 2, "id": "MD-2", "status": "new"})
        store.commit()
    with open(root / "db.journal", "ab") as f:
        f.write(b'{"seq":9,"ops":[{"table":"tickets","docs":[{"numb')  # a crash mid-append

    summary = backup(root, tmp_path / "b.tar.gz")

    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        journal = tar.extractfile("db.journal").read()  # type: ignore[union-attr]
    assert journal.endswith(b"\n") and b'"seq":9' not in journal
    assert summary["tickets"] == 2
    restore(tmp_path / "b.tar.gz", tmp_path / "copy")
    with Store.open(tmp_path / "copy", readonly=True) as copy:
        assert [t["number"] for t in copy.tickets()] == [1, 2]


def test_backup_refuses_a_directory_without_data(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no maild data"):
        backup(tmp_path, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()


class Writer:
    """Commits in a loop like a busy daemon: commit n adds ticket n and mail n, links ticket
    n-1 to n, and journals mail n's delivery mark (folded into commit n+1)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.committed = 0
        self.stop = threading.Event()
        self.warm = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def commit_one(self, store: Store) -> None:
        n = self.committed + 1
        with store.batch():
            store.add_ticket({"number": n, "id": f"MD-{n}", "status": "new", "created_at": "x"})
            if n > 1:
                store.update_ticket(n - 1, {"next": n})
            ref = store.put_raw(f"message {n}\n".encode() * 40)
            store.add_message({"message_id": f"<{n}@x>", "ticket": n, "raw": ref})
            row = {"id": f"mail-{n}", "status": "pending", "attempts": 0, "created_at": f"{n:08d}"}
            store.add_outgoing({**row, "recipients": ["c@example.com"]})
        self.committed = n
        store.record_delivery(f"mail-{n}", {"status": "sent", "attempts": 1})

    def run(self) -> None:
        try:
            with Store.open(self.root) as store:
                while not self.stop.is_set():
                    self.commit_one(store)
                    if self.committed >= 20:
                        self.warm.set()
                    time.sleep(0.002)
        except BaseException as e:  # reported by the test
            self.error = e
            self.warm.set()


def assert_consistent_prefix(root: Path, at_least: int) -> int:
    """The store holds commits 1..k of the writer, whole, for some k >= at_least."""
    with Store.open(root, readonly=True) as store:
        numbers = [t["number"] for t in store.tickets()]
        k = len(numbers)
        assert numbers == list(range(1, k + 1)) and k >= at_least
        for t in store.tickets():
            n = t["number"]
            assert t.get("next") == (n + 1 if n < k else None)
            assert store.ticket_of_message(f"<{n}@x>") == n
            message = store.messages(n)[0]
            assert store.read_file(message["raw"]) == f"message {n}\n".encode() * 40
        status = {m["id"]: m["status"] for m in store.outgoing()}
        assert len(status) == k
        assert all(status[f"mail-{n}"] == "sent" for n in range(1, k))  # folded into commit n+1
        assert status[f"mail-{k}"] in ("pending", "sent")
        return k


@pytest.mark.parametrize("compacting", [False, True], ids=["appending", "compacting"])
def test_backup_beside_a_committing_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compacting: bool
) -> None:
    if compacting:  # every commit rewrites db.json and empties db.journal
        monkeypatch.setattr(maild.store, "COMPACT_MIN_BYTES", 0)
        monkeypatch.setattr(maild.store, "COMPACT_RATIO", 0)
    writer = Writer(tmp_path / "data")
    writer.thread.start()
    assert writer.warm.wait(30) and writer.error is None
    seen = []
    try:
        for i in range(6):
            before = writer.committed
            archive = tmp_path / f"b{i}.tar.gz"
            summary = backup(writer.root, archive)
            assert summary["missing"] == []
            restore(archive, tmp_path / f"copy{i}")
            k = assert_consistent_prefix(tmp_path / f"copy{i}", at_least=before)
            assert summary["tickets"] == k
            seen.append(k)
    finally:
        writer.stop.set()
        writer.thread.join(30)
    assert writer.error is None
    assert seen == sorted(seen) and seen[-1] > seen[0]  # the writer went on meanwhile


def hook_reads(monkeypatch: pytest.MonkeyPatch, name: str, action: Callable[[], None]) -> list[str]:
    """Run `action` just after the backup reads the file `name`; returns the files read."""
    real = maild.datacare._read_or_none
    read: list[str] = []

    def reading(path: Path) -> bytes | None:
        data = real(path)
        read.append(path.name)
        if path.name == name:
            action()
        return data

    monkeypatch.setattr(maild.datacare, "_read_or_none", reading)
    return read


def test_a_compaction_between_snapshot_and_journal_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer(tmp_path / "data")
    with Store.open(writer.root) as store:
        for _ in range(3):
            writer.commit_one(store)
        fired: list[int] = []

        def commit_and_compact() -> None:
            if not fired:
                fired.append(1)
                writer.commit_one(store)
                store.compact()

        read = hook_reads(monkeypatch, "db.json", commit_and_compact)
        summary = backup(writer.root, tmp_path / "b.tar.gz")
    assert read.count("db.json") == 2  # the first copy was stale: read again
    assert summary["tickets"] == 4
    restore(tmp_path / "b.tar.gz", tmp_path / "copy")
    assert assert_consistent_prefix(tmp_path / "copy", at_least=4) == 4


def test_delivery_marks_folded_into_a_commit_mid_read_are_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit empties outbox.journal after the journal was read: a copy of both would say
    mail 2 is still pending, and a restored maild would send it twice."""
    writer = Writer(tmp_path / "data")
    with Store.open(writer.root) as store:
        for _ in range(2):
            writer.commit_one(store)
        fired: list[int] = []

        def fold_marks() -> None:
            if not fired:
                fired.append(1)
                store.commit()  # mail-2's mark into db.journal; outbox.journal emptied

        hook_reads(monkeypatch, "db.journal", fold_marks)
        backup(writer.root, tmp_path / "b.tar.gz")
    restore(tmp_path / "b.tar.gz", tmp_path / "copy")
    with Store.open(tmp_path / "copy", readonly=True) as copy:
        assert {m["id"]: m["status"] for m in copy.outgoing()} == {
            "mail-1": "sent",
            "mail-2": "sent",
        }


def test_a_stale_delivery_mark_never_undoes_a_later_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """outbox.journal says "deferred"; then the mail goes out and a commit folds both marks in.
    A copy of that outbox.journal beside the newer database would replay "deferred" over
    "sent", and a restored maild would send the mail again."""
    writer = Writer(tmp_path / "data")
    with Store.open(writer.root) as store:
        writer.commit_one(store)
        store.commit()
        store.add_outgoing({"id": "late", "status": "pending", "attempts": 0,
                            "created_at": "x", "recipients": ["c@example.com"]})  # fmt: skip
        store.commit()
        store.record_delivery("late", {"attempts": 1, "next_attempt_at": "y", "last_error": "451"})
        fired: list[int] = []

        def deliver_and_commit() -> None:
            if not fired:
                fired.append(1)
                store.record_delivery("late", {"status": "sent", "attempts": 2})
                store.commit()

        hook_reads(monkeypatch, "outbox.journal", deliver_and_commit)
        backup(writer.root, tmp_path / "b.tar.gz")
    restore(tmp_path / "b.tar.gz", tmp_path / "copy")
    with Store.open(tmp_path / "copy", readonly=True) as copy:
        late = next(m for m in copy.outgoing() if m["id"] == "late")
        assert (late["status"], late["attempts"]) == ("sent", 2)


def test_backup_gives_up_when_the_database_never_settles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer(tmp_path / "data")
    target = tmp_path / "out" / "b.tar.gz"
    with Store.open(writer.root) as store:
        writer.commit_one(store)
        read = hook_reads(monkeypatch, "db.journal", lambda: writer.commit_one(store))
        with pytest.raises(BackupError, match=r"consistent copy .* in 4 tries"):
            backup(writer.root, target, tries=4, pause=0)
    assert read.count("db.journal") == 4
    assert not target.exists() and not list(target.parent.glob("*"))


def test_restore_refuses_a_directory_with_data(busy_store: Store, tmp_path: Path) -> None:
    backup(busy_store.root, tmp_path / "b.tar.gz")
    other = tmp_path / "other"
    with Store.open(other) as store:
        store.add_ticket({"number": 7, "id": "MD-7", "status": "new"})
        store.commit()
    with pytest.raises(RestoreError, match="already holds maild data"):
        restore(tmp_path / "b.tar.gz", other)
    with Store.open(other, readonly=True) as store:
        assert [t["number"] for t in store.tickets()] == [7]
    assert [p.name for p in other.iterdir() if p.name.startswith(".")] == []


def test_restore_refuses_while_a_maild_holds_the_directory(
    busy_store: Store, tmp_path: Path
) -> None:
    backup(busy_store.root, tmp_path / "b.tar.gz")
    root = tmp_path / "fresh"
    root.mkdir()
    with open(root / "maild.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242")
        held.flush()
        with pytest.raises(RestoreError, match=r"pid 4242.*daemon stopped"):
            restore(tmp_path / "b.tar.gz", root)
    assert not (root / "db.json").exists()


def test_restore_into_a_directory_with_only_empty_areas(busy_store: Store, tmp_path: Path) -> None:
    """What `maild init` or a first daemon start leaves: empty raw/, attachments/, quarantine/."""
    backup(busy_store.root, tmp_path / "b.tar.gz")
    root = tmp_path / "fresh"
    for area in ("raw", "attachments", "quarantine", "spool"):
        (root / area).mkdir(parents=True)
    summary = restore(tmp_path / "b.tar.gz", root)
    assert summary["tickets"] == 2
    with Store.open(root) as copy:
        assert snapshot_of(copy) == snapshot_of(busy_store)
        assert copy.read_file(copy.quarantined()[0]["raw"]) == b"not an email at all"


def tar_with(good: Path, extra: Callable[[tarfile.TarFile], None], out: Path) -> Path:
    """A copy of a good backup with one more member written by `extra`."""
    with tarfile.open(good) as src, tarfile.open(out, "w:gz") as tar:
        for member in src.getmembers():
            tar.addfile(member, src.extractfile(member))
        extra(tar)
    return out


def add_file(name: str, data: bytes = b"evil") -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    return add


def add_special(name: str, kind: bytes, link: str = "") -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, link
        tar.addfile(info)

    return add


SHA = "ab" + "0" * 62


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (add_file("../escaped.txt"), "leads outside"),
        (add_file("raw/../../escaped.txt"), "leads outside"),
        (add_file("/tmp/absolute.txt"), "not a relative path"),
        (add_special(f"raw/ab/{SHA}.eml", tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (add_special(f"raw/ab/{SHA}.eml", tarfile.LNKTYPE, "db.json"), "link"),
        (add_special("raw/ab", tarfile.SYMTYPE, "/tmp"), "link"),
        (add_special("db.journal", tarfile.CHRTYPE), "device"),
        (add_special("outbox.journal", tarfile.FIFOTYPE), "fifo"),
        (add_file("maild.lock"), "not part of a maild backup"),
        (add_file("raw/ab/notes.txt"), "not part of a maild backup"),
        (add_file(f"raw/cd/{SHA}.eml"), "not part of a maild backup"),
        (add_file(f"raw/ab/{SHA}.eml"), "does not match its checksum"),
        (add_file("db.json", b'{"tickets": '), "database does not load"),
        (add_file("db.journal", b'{"seq":999999,"ops":[{"tab":1}]}\n'), "database does not load"),
    ],
    ids=[
        "dotdot",
        "inner-dotdot",
        "absolute",
        "symlink",
        "hardlink",
        "symlinked-dir",
        "device",
        "fifo",
        "lock",
        "stray-name",
        "wrong-fan-out",
        "checksum",
        "garbage-db",
        "garbage-journal",
    ],
)
def test_restore_refuses_hostile_members(
    busy_store: Store,
    tmp_path: Path,
    extra: Callable[[tarfile.TarFile], None],
    reason: str,
) -> None:
    good = tmp_path / "good.tar.gz"
    backup(busy_store.root, good)
    hostile = tar_with(good, extra, tmp_path / "hostile.tar.gz")
    root = tmp_path / "sandbox" / "data"

    with pytest.raises(RestoreError, match=reason):
        restore(hostile, root)

    assert not (tmp_path / "sandbox" / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/absolute.txt").exists()
    assert sorted(p.name for p in root.iterdir()) == ["maild.lock"]  # nothing half-restored
    restore(good, root)  # and the directory is still fit for a good restore


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(RestoreError, match="cannot be read"):
        restore(tmp_path / "junk.tar.gz", tmp_path / "a")
    with tarfile.open(tmp_path / "empty.tar.gz", "w:gz") as tar:
        digest = hashlib.sha256(b"hello").hexdigest()
        add_file(f"raw/{digest[:2]}/{digest}.eml", b"hello")(tar)  # a good file, no database
    with pytest.raises(RestoreError, match="no maild database"):
        restore(tmp_path / "empty.tar.gz", tmp_path / "b")


def test_restore_refuses_a_truncated_backup(busy_store: Store, tmp_path: Path) -> None:
    backup(busy_store.root, tmp_path / "b.tar.gz")
    data = (tmp_path / "b.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) * 2 // 3])  # a copy cut short
    with pytest.raises(RestoreError, match="cannot be read as a maild backup"):
        restore(tmp_path / "cut.tar.gz", tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["maild.lock"]


def test_backup_names_files_missing_from_a_damaged_directory(
    busy_store: Store, tmp_path: Path
) -> None:
    lost = next(m["raw"] for m in busy_store.iter_messages() if m["direction"] == "in")
    (busy_store.root / lost).unlink()
    summary = backup(busy_store.root, tmp_path / "b.tar.gz")
    assert summary["missing"] == [lost]
    assert lost not in members(tmp_path / "b.tar.gz")


# -- quarantine --------------------------------------------------------------------------------


def test_quarantine_list_and_show(busy_store: Store) -> None:
    quarantine(busy_store, None, reason="over the size limit", source="imap:INBOX/9", now=NOW,
               size=99_000_000)  # fmt: skip
    busy_store.commit()

    listed = quarantine_list(busy_store)

    assert sorted((q["reason"], q["has_raw"], q["status"], q["retried"]) for q in listed) == [
        ("no headers / not an email message", True, "quarantined", None),
        ("over the size limit", False, "quarantined", None),
    ]
    by_reason = {q["reason"]: q for q in listed}
    broken = by_reason["no headers / not an email message"]
    assert set(broken) == {"id", "received_at", "reason", "source", "size", "has_raw",
                           "status", "retried"}  # fmt: skip
    assert broken["source"] == "test" and broken["size"] == len(b"not an email at all")
    assert broken["received_at"] == "2026-11-23T02:00:00+00:00"

    record, raw = quarantine_show(busy_store, broken["id"][:8])  # a beginning is enough
    assert record["id"] == broken["id"] and raw == b"not an email at all"
    record, raw = quarantine_show(busy_store, by_reason["over the size limit"]["id"])
    assert record["size"] == 99_000_000 and raw is None
    with pytest.raises(QuarantineError, match="no quarantined mail 'zzz'"):
        quarantine_show(busy_store, "zzz")


def test_retrying_mail_a_bug_quarantined_opens_its_ticket(config: Config) -> None:
    raw = mail("cy@example.com", "Cannot log in", "Since this morning.")
    with Store.open(config.store.path) as store:
        with store.batch():  # as ingest_batch does when ingest itself fails
            quarantine(store, raw, reason="internal error: KeyError: 'x'", source="spool", now=NOW)
        qid = quarantine_list(store)[0]["id"]
        later = NOW + timedelta(hours=1)

        with store.batch():
            outcome = quarantine_retry(store, config, qid, later)

        assert outcome.result == "created" and outcome.ticket is not None
        ticket = store.ticket(outcome.ticket)
        assert ticket is not None and ticket["customer"] == "cy@example.com"
        assert ticket["created_at"] == "2026-11-23T03:00:00+00:00"
        assert [m["kind"] for m in store.outgoing()] == ["ack"]
        (listed,) = quarantine_list(store)
        assert listed["status"] == "retried"
        assert listed["retried"] == {"at": "2026-11-23T03:00:00+00:00", "result": "created",
                                     "ticket": outcome.ticket, "message_id": outcome.message_id,
                                     "reason": ""}  # fmt: skip

        with store.batch():  # twice is harmless: the message is known now
            again = quarantine_retry(store, config, qid, later)
        assert again.result == "duplicate" and again.ticket == outcome.ticket
        assert len(store.tickets()) == 1
    with Store.open(config.store.path, readonly=True) as store:
        assert quarantine_list(store)[0]["status"] == "retried"  # committed


def test_retrying_mail_over_an_old_size_limit(make_config: MakeConfig) -> None:
    small = make_config(limits={"message_size": "1KiB"})
    raw = mail("di@example.com", "Logs", "x" * 4000)
    with Store.open(small.store.path) as store:
        assert take_in(store, small, raw).result == "quarantined"
        qid = quarantine_list(store)[0]["id"]
        with store.batch():
            assert quarantine_retry(store, small, qid, NOW).result == "quarantined"
        (listed,) = quarantine_list(store)
        assert listed["status"] == "quarantined"
        assert listed["retried"]["result"] == "quarantined"
        assert "over the limit" in listed["retried"]["reason"]

        larger = make_config()  # the operator raised [limits] message_size
        with store.batch():
            assert quarantine_retry(store, larger, qid, NOW).result == "created"
        assert quarantine_list(store)[0]["status"] == "retried"


def test_retry_refusals(busy_store: Store, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    quarantine(busy_store, None, reason="over the size limit", source="imap", now=NOW, size=9)
    busy_store.commit()
    never = next(q for q in quarantine_list(busy_store) if not q["has_raw"])
    with pytest.raises(QuarantineError, match="never downloaded"):
        quarantine_retry(busy_store, config, never["id"], NOW)

    kept = next(q for q in quarantine_list(busy_store) if q["has_raw"])

    def broken(*args: object, **kwargs: object) -> Outcome:
        busy_store.add_ticket({"number": 99, "id": "MD-99", "status": "new"})  # half-way
        raise RuntimeError("still broken")

    monkeypatch.setattr(maild.datacare, "ingest", broken)
    with pytest.raises(QuarantineError, match=r"failed again.*still broken"), busy_store.batch():
        quarantine_retry(busy_store, config, kept["id"], NOW)
    assert busy_store.ticket(99) is None  # the caller's batch rolled it back
    assert quarantine_list(busy_store)[0]["retried"] is None

    with (
        Store.open(busy_store.root, readonly=True) as readonly,
        pytest.raises(QuarantineError, match="open for writing"),
    ):
        quarantine_retry(readonly, config, kept["id"], NOW)


# -- outbox ------------------------------------------------------------------------------------


class Refusing:
    """A transport whose server refuses everything, permanently or for now."""

    def __init__(self, permanent: bool) -> None:
        self.permanent = permanent
        self.sent: list[Sequence[str]] = []

    def __enter__(self) -> Refusing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        raise DeliveryError("550 mailbox unavailable", permanent=self.permanent)


class Accepting(Refusing):
    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        self.sent.append(recipients)


def test_outbox_list(busy_store: Store) -> None:
    listed = sorted(outbox_list(busy_store), key=lambda m: m["to"])  # queued at the same time
    assert [(m["kind"], m["to"], m["status"]) for m in listed] == [
        ("ack", ["ann@example.com"], "pending"),
        ("ack", ["bo@example.com"], "pending"),
    ]
    assert set(listed[0]) >= {"id", "kind", "to", "subject", "status", "attempts", "created_at",
                              "next_attempt_at", "last_error"}  # fmt: skip
    assert "Printer on fire" in listed[0]["subject"]
    flush(busy_store, Refusing(permanent=True), NOW, CONFIG)
    failed = outbox_list(busy_store, "failed")
    assert len(failed) == 2 and failed[0]["last_error"] == "550 mailbox unavailable"
    assert failed[0]["attempts"] == 1
    assert outbox_list(busy_store, "pending") == []
    with pytest.raises(OutboxError, match="one of pending, sent, failed"):
        outbox_list(busy_store, "stuck")


def test_outbox_retry_makes_failed_mail_due_now(busy_store: Store) -> None:
    flush(busy_store, Refusing(permanent=True), NOW, CONFIG)
    later = NOW + timedelta(days=1)

    assert outbox_retry(busy_store, None, later) == 2

    for m in outbox_list(busy_store):
        assert (m["status"], m["attempts"], m["next_attempt_at"]) == (
            "pending",
            1,
            "2026-11-24T02:00:00+00:00",
        )
    root = busy_store.root
    busy_store.close()
    with Store.open(root) as store:  # journalled at once, like a delivery result
        assert len(outbox_list(store, "pending")) == 2
        accepting = Accepting(permanent=False)
        assert flush(store, accepting, later, CONFIG).sent == 2
        assert outbox_retry(store, None, later) == 0


def test_outbox_retry_of_one_mail(busy_store: Store) -> None:
    flush(busy_store, Refusing(permanent=False), NOW, CONFIG)  # deferred: next attempt in a minute
    first, second = outbox_list(busy_store)
    assert first["next_attempt_at"] == "2026-11-23T02:01:00+00:00"

    assert outbox_retry(busy_store, first["id"][:6], NOW) == 1

    first, second = outbox_list(busy_store)
    assert first["next_attempt_at"] == "2026-11-23T02:00:00+00:00"
    assert second["next_attempt_at"] == "2026-11-23T02:01:00+00:00"
    assert flush(busy_store, Accepting(permanent=False), NOW, CONFIG).sent == 1
    with pytest.raises(OutboxError, match=r"was sent at .*not again"):
        outbox_retry(busy_store, first["id"], NOW)
    with pytest.raises(OutboxError, match="no outgoing mail 'nope'"):
        outbox_retry(busy_store, "nope", NOW)


# -- data format versions ----------------------------------------------------------------------

OLD_STORE = {
    "tickets": {
        "1": {"number": 1001, "id": "MD-1001", "status": "new", "priority": "general",
              "category": "general", "customer": "ann@example.com", "customer_name": "Ann",
              "subject": "Printer", "language": "en", "created_at": "2026-01-05T01:00:00+00:00",
              "updated_at": "2026-01-05T03:00:00+00:00", "message_count": 2},
        "2": {"number": 1002, "id": "MD-1002", "status": "closed", "priority": "general",
              "category": "general", "customer": "bad address", "customer_name": "",
              "subject": "x", "language": "zh", "created_at": "2026-01-06T01:00:00+00:00",
              "updated_at": "2026-01-06T01:00:00+00:00", "message_count": 1},
    },
    "messages": {
        "1": {"message_id": "<a1@c>", "ticket": 1001, "direction": "in", "kind": "customer",
              "from": "ann@example.com", "received_at": "2026-01-05T01:00:00+00:00"},
        "2": {"message_id": "<ack@m>", "ticket": 1001, "direction": "out", "kind": "ack",
              "from": "support@maild.test", "received_at": "2026-01-05T01:00:00+00:00"},
        "3": {"message_id": "<a2@c>", "ticket": 1001, "direction": "in", "kind": "customer",
              "from": "ann@example.com", "received_at": "2026-01-05T03:00:00+00:00"},
        "4": {"message_id": "<b1@c>", "ticket": 1002, "direction": "in", "kind": "customer",
              "from": "bad address", "received_at": "2026-01-06T01:00:00+00:00"},
    },
    "outbox": {
        "1": {"id": "m1", "message_id": "<ack@m>", "ticket": 1001, "kind": "ack",
              "automatic": True, "envelope_from": "support@maild.test",
              "recipients": ["ann@example.com"], "status": "sent", "attempts": 1,
              "created_at": "2026-01-05T01:00:00+00:00",
              "next_attempt_at": "2026-01-05T01:00:00+00:00", "last_error": None,
              "sent_at": "2026-01-05T01:00:05+00:00",
              "draft": {"message_id": "<ack@m>", "sender": "support@maild.test",
                        "sender_name": "S", "to": "ann@example.com", "subject": "[MD-1001]",
                        "body": "hi", "language": "en", "ticket_id": "MD-1001",
                        "in_reply_to": "<a1@c>", "references": ["<a1@c>"],
                        "auto_submitted": "auto-replied", "date": "2026-01-05T01:00:00+00:00"}},
    },
    "state": {"1": {"key": "schema_version", "value": 1},
              "2": {"key": "next_ticket", "value": 1003}},
    "_journal_seq": 0,
}  # fmt: skip


@pytest.fixture
def old_store(config: Config) -> Path:
    """A data directory as maild wrote it before the SLA work."""
    root = config.store.path
    root.mkdir(parents=True)
    (root / "db.json").write_bytes(orjson.dumps(OLD_STORE))
    return root


def test_migrate_gives_old_tickets_their_sla_history(
    old_store: Path, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maild.store, "SCHEMA_VERSION", 2)
    with Store.open(old_store) as store:
        store.set_state("sla_fingerprint", "computed-before")
        store.commit()
        assert check_version(store) == 1

        done = migrate(store)

        assert done[0].startswith("format 1 -> 2: tickets get the history SLA clocks read")
        assert "  2 tickets given an SLA history (1 of them open)" in done
        assert "  1 outbox drafts given a list of recipients" in done
    with Store.open(old_store) as store:  # all of it committed
        assert store.state("schema_version") == 2 and check_version(store) == 2
        assert store.state("sla_fingerprint") is None
        ann, bad = store.tickets(archived=True)
        assert [(e["at"], e["actor"], e["action"]) for e in ann["events"]] == [
            ("2026-01-05T01:00:00+00:00", "ann@example.com", "opened"),
            ("2026-01-05T01:00:00+00:00", "maild", "acknowledged"),
            ("2026-01-05T03:00:00+00:00", "ann@example.com", "customer_message"),
        ]
        assert ann["events"][2]["detail"] == {"message_id": "<a2@c>"}
        assert (ann["updates"], ann["next_check_at"]) == (True, None)
        assert [e["action"] for e in bad["events"]] == ["opened"]
        assert bad["updates"] is False  # maild writes only to addresses it may answer
        assert store.outgoing()[0]["draft"]["to"] == ["ann@example.com"]

        # The daemon's start-up recheck now computes the next checks from that history.
        assert recheck_if_policies_changed(store, config, NOW) == 1
        assert store.ticket(1001)["next_check_at"] == "2026-11-23T02:00:00+00:00"  # overdue
        assert store.ticket(1002)["next_check_at"] is None

        assert migrate(store) == []  # once is enough


def test_migrating_a_current_store_changes_no_ticket(
    busy_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_store.set_state("schema_version", 1)  # as the code before format 2 left it
    busy_store.commit()
    before = snapshot_of(busy_store)
    monkeypatch.setattr(maild.store, "SCHEMA_VERSION", 2)
    assert migrate(busy_store) == ["format 1 -> 2: tickets get the history SLA clocks read; "
                                   "outbox drafts name a list of recipients."]  # fmt: skip
    assert snapshot_of(busy_store) == before
    assert busy_store.state("schema_version") == 2


def test_a_store_in_the_current_format_needs_nothing(busy_store: Store) -> None:
    assert check_version(busy_store) == maild.store.SCHEMA_VERSION
    assert migrate(busy_store) == []


def test_a_newer_store_is_refused(busy_store: Store) -> None:
    busy_store.set_state("schema_version", maild.store.SCHEMA_VERSION + 1)
    busy_store.commit()
    with pytest.raises(VersionError, match="written by a newer maild"):
        check_version(busy_store)
    with pytest.raises(VersionError, match="written by a newer maild"):
        migrate(busy_store)


def test_migration_stops_where_no_step_leads_on(
    old_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maild.store, "SCHEMA_VERSION", 3)
    with Store.open(old_store) as store:
        with pytest.raises(VersionError, match="no migration from format 2"):
            migrate(store)
        assert store.state("schema_version") == 2  # the step that ran is kept
        assert "events" in store.ticket(1001)  # type: ignore[operator]


def test_migrate_needs_a_clean_writable_store(
    old_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maild.store, "SCHEMA_VERSION", 2)
    with (
        Store.open(old_store, readonly=True) as store,
        pytest.raises(VersionError, match="open for writing"),
    ):
        migrate(store)
    with Store.open(old_store) as store:
        store.set_state("something", 1)
        with pytest.raises(VersionError, match="uncommitted"):
            migrate(store)
