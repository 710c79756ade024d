"""The only module that reads or writes maild's database and its data directory.

TinyDB holds the data in memory. A commit appends what changed since the last one as one line
to `db.journal` and fsyncs it: its cost follows the size of the change, not of the database. When
the journal has grown to a fraction of the snapshot, the whole snapshot is written to a temp file,
fsynced and renamed over `db.json` (it records the last journal line it contains), and the
journal starts again. Opening reads the snapshot and replays the journal; a torn last line (a
crash mid-append) is an uncommitted commit and is dropped, so every commit is all or nothing.

Changes between commits are staged and written into the snapshot's rows directly (TinyDB would
rebuild a whole table on every insert or update); reads go through TinyDB. Outbox delivery marks
go to a small fsynced journal at once, so marking one mail sent needs no commit.

Layout of the data directory:
    db.json        the last compacted snapshot    db.journal      commits since it
    maild.lock     held by the running daemon     outbox.journal  delivery marks since the commit
    raw/           every message, in and out      attachments/    content-addressed payloads
    quarantine/    mail that could not be taken in
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage

from maild.clock import iso

log = logging.getLogger("maild.store")

SCHEMA_VERSION = 2
FIRST_TICKET_NUMBER = 1001
_KEYS = {"tickets": "number", "outbox": "id", "state": "key", "quarantine": "id"}
_ROW_KEYS = {**_KEYS, "messages": "message_id"}
_SEQ_KEY = "_journal_seq"  # in db.json: the last journal line the snapshot contains
COMPACT_MIN_BYTES = 16 * 2**20
COMPACT_RATIO = 0.25  # compact when the journal reaches this fraction of the snapshot


class StoreError(Exception):
    """The data directory cannot be used; the message says why and what to do."""


class StoreLocked(StoreError):
    """Another maild process holds the data directory; `pid` is that process, if known."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


class _SnapshotStorage(Storage):
    """TinyDB storage that keeps the database in memory; Store.commit() persists it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0  # of db.json on disk; 0 when there is none yet
        self.seq = 0  # the last journal line applied
        self.data: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            raise StoreError(
                f"{self.path} is not valid JSON ({e}); restore it from a backup"
            ) from None
        self.size = len(text)
        self.seq = int(data.pop(_SEQ_KEY, 0))
        return data  # type: ignore[no-any-return]

    def read(self) -> dict[str, Any] | None:
        return self.data

    def write(self, data: dict[str, Any]) -> None:
        self.data = data

    def save(self) -> None:
        snapshot = orjson.dumps({**self.data, _SEQ_KEY: self.seq})
        write_atomically(self.path, snapshot)
        self.size = len(snapshot)


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _find_syncfs() -> Callable[[int], int] | None:
    """Linux syncfs(2): one call makes a whole batch of new files durable."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_syncfs = _find_syncfs()


def _append_durably(path: Path, line: bytes) -> None:
    """Append one line and fsync it; a new file's directory entry is made durable too."""
    new = not path.exists()
    with open(path, "ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    if new:
        fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """maild's data: tickets, messages, the outbox, quarantine records and small state values."""

    def __init__(self, root: Path, *, readonly: bool, lock_file: Any = None) -> None:
        self.root = root
        self.readonly = readonly
        self._lock_file = lock_file
        self._new: dict[str, dict[Any, dict[str, Any]]] = defaultdict(dict)
        self._changes: dict[str, dict[Any, dict[str, Any]]] = defaultdict(dict)
        self._unsynced: list[Path] = []
        self._directories: set[str] = set()
        self._load()

    # -- opening, locking, committing ------------------------------------------------------

    @classmethod
    def open(cls, root: Path, *, readonly: bool = False) -> Store:
        """Open (creating if needed) a data directory; the writer takes an exclusive lock."""
        if readonly:
            if not (root / "db.json").exists() and not (root / "db.journal").exists():
                raise StoreError(f"no maild data in {root}; has the daemon ever run with it?")
            return cls(root, readonly=True)
        try:
            for sub in ("raw", "attachments", "quarantine"):
                (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the data directory {root}: {e.strerror}") from None
        lock_file = _take_lock(root / "maild.lock")
        for leftover in root.glob(".*.tmp"):  # write_atomically's, from a process that died
            leftover.unlink(missing_ok=True)
        try:
            store = cls(root, readonly=False, lock_file=lock_file)
        except BaseException:
            lock_file.close()
            raise
        if store.state("schema_version") is None:
            store.set_state("schema_version", SCHEMA_VERSION)
            store.set_state("next_ticket", FIRST_TICKET_NUMBER)
            store.commit()
        return store

    def _load(self) -> None:
        self._db = TinyDB(self.root / "db.json", storage=_SnapshotStorage)
        self._new.clear()
        self._changes.clear()
        self._journal_ops: list[bytes] = []
        self._recording = False  # replayed changes are not journalled again
        self._dirty = False
        data = self._data()
        self._doc_ids: dict[str, dict[Any, int]] = {t: {} for t in _KEYS}
        self._next_ids: dict[str, int] = {}
        for table, rows in data.items():
            key = _ROW_KEYS.get(table)
            if key and table in _KEYS:
                self._doc_ids[table] = {row[key]: int(doc_id) for doc_id, row in rows.items()}
            self._next_ids[table] = max(map(int, rows), default=0) + 1
        self._replay_db_journal()
        self._recording = True
        messages = data.get("messages", {}).values()
        self._message_ticket: dict[str, int | None] = {
            row["message_id"]: row.get("ticket") for row in messages
        }
        self._message_fingerprint: dict[str, str] = {
            row["message_id"]: row["fingerprint"] for row in messages if row.get("fingerprint")
        }
        self._ticket_parties: dict[int, set[str]] | None = None  # built on first use
        self._auto_replies: dict[str, list[str]] = defaultdict(list)
        for row in data.get("outbox", {}).values():
            self._remember_auto_reply(row)
        self._replay_journal()

    def _data(self) -> dict[str, Any]:
        """The snapshot's tables: {table: {doc_id: row}}, as TinyDB reads them."""
        storage = self._db.storage
        assert isinstance(storage, _SnapshotStorage)
        return storage.data

    def _replay_db_journal(self) -> None:
        """Apply the commits made since the snapshot; a torn last line was never committed."""
        storage = self._db.storage
        assert isinstance(storage, _SnapshotStorage)
        path = self.root / "db.journal"
        try:
            journal = path.read_bytes()
        except FileNotFoundError:
            self._journal_bytes = 0
            return
        good = 0
        while good < len(journal):
            end = journal.find(b"\n", good)
            try:
                if end < 0:
                    raise ValueError("no end of line")
                entry = orjson.loads(journal[good:end])
            except ValueError:
                log.warning(
                    "db.journal: dropping a torn commit at byte %d (a crash mid-write)", good
                )
                if not self.readonly:
                    os.truncate(path, good)
                break
            if entry["seq"] > storage.seq:
                for op in entry["ops"]:
                    self._stage_op(op)
                self._apply()
                storage.seq = entry["seq"]
            good = end + 1
        self._journal_bytes = good

    def _stage_op(self, op: dict[str, Any]) -> None:
        table = op["table"]
        if "docs" in op:
            key = _ROW_KEYS[table]
            self._new[table].update((doc[key], doc) for doc in op["docs"])
        for key, fields in op.get("rows", ()):
            self._changes[table].setdefault(key, {}).update(fields)

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def commit(self) -> None:
        """Make every staged change durable in one atomic write."""
        if self.readonly:
            raise StoreError("this store was opened read-only")
        self._apply()
        self._sync_files()
        storage = self._db.storage
        assert isinstance(storage, _SnapshotStorage)
        if self._journal_ops:
            storage.seq += 1
            line = b'{"seq":%d,"ops":[%b]}\n' % (storage.seq, b",".join(self._journal_ops))
            self._journal_ops.clear()
            _append_durably(self.root / "db.journal", line)
            self._journal_bytes += len(line)
            limit = max(COMPACT_MIN_BYTES, COMPACT_RATIO * storage.size)
            if not storage.size or self._journal_bytes > limit:
                self.compact()
        self._dirty = False
        with contextlib.suppress(FileNotFoundError):
            os.truncate(self.root / "outbox.journal", 0)

    def compact(self) -> None:
        """Write the whole snapshot (atomically) and start the journal afresh.

        A crash between the two leaves journal lines the snapshot already holds; their sequence
        numbers say so, and they are skipped when the store is opened.
        """
        storage = self._db.storage
        assert isinstance(storage, _SnapshotStorage)
        storage.save()
        with contextlib.suppress(FileNotFoundError):
            os.truncate(self.root / "db.journal", 0)
        self._journal_bytes = 0

    @property
    def uncommitted(self) -> bool:
        """Whether anything changed since the last commit."""
        return self._dirty

    def rollback(self) -> None:
        """Forget everything since the last commit (journalled delivery marks survive)."""
        self._load()

    @contextlib.contextmanager
    def batch(self) -> Iterator[Store]:
        """One unit of work: committed if the block finishes, rolled back if it raises."""
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    # -- files -------------------------------------------------------------------------------

    def _sync_files(self) -> None:
        """Make the files this commit refers to durable before the commit itself."""
        if not self._unsynced:
            return
        if _syncfs is not None:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                if _syncfs(fd) != 0:
                    raise OSError(ctypes.get_errno(), "syncfs failed", str(self.root))
            finally:
                os.close(fd)
        else:
            for path in self._unsynced:
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
            for directory in {p.parent for p in self._unsynced}:
                fsync_dir(directory)
        self._unsynced.clear()

    def put_raw(self, raw: bytes) -> str:
        """Keep a message's bytes; they are durable once the commit referring to them is."""
        return self._put_file("raw", raw, ".eml")

    def put_attachment(self, payload: bytes) -> str:
        return self._put_file("attachments", payload, ".bin")

    def put_quarantined(self, raw: bytes | None, record: dict[str, Any]) -> str:
        """Keep unreadable mail with its reason, so an operator can inspect and retry it.

        `raw` is None for mail that was never downloaded (over the size limit on IMAP).
        """
        if raw is None:
            qid, ref = uuid.uuid4().hex, None
        else:
            ref = self._put_file("quarantine", raw, ".eml")
            qid = Path(ref).stem
        if self._get("quarantine", qid) is None:
            self._insert("quarantine", {**record, "id": qid, "raw": ref})
        return qid

    def read_file(self, ref: str) -> bytes:
        """A stored file's bytes by the reference put_raw / put_attachment gave."""
        area = ref.split("/", 1)[0]
        if area not in ("raw", "attachments", "quarantine") or ".." in ref:
            raise ValueError(f"not a stored file: {ref!r}")
        return (self.root / ref).read_bytes()

    def _put_file(self, area: str, data: bytes, suffix: str) -> str:
        """Content-addressed: the same bytes are stored once. Plain strings, not Paths, and the
        fan-out directories remembered: this runs for every message and attachment."""
        digest = hashlib.sha256(data).hexdigest()
        directory = f"{self.root}/{area}/{digest[:2]}"
        ref = f"{area}/{digest[:2]}/{digest}{suffix}"
        path = f"{self.root}/{ref}"
        if os.path.exists(path):
            return ref
        if directory not in self._directories:
            os.makedirs(directory, exist_ok=True)
            self._directories.add(directory)
        with open(f"{path}.tmp", "wb") as f:
            f.write(data)
        os.replace(f"{path}.tmp", path)
        self._unsynced.append(Path(path))
        return ref

    # -- tickets -----------------------------------------------------------------------------

    def allocate_ticket_number(self) -> int:
        number = int(self.state("next_ticket") or FIRST_TICKET_NUMBER)
        self.set_state("next_ticket", number + 1)
        return number

    def add_ticket(self, ticket: dict[str, Any]) -> None:
        self._insert("tickets", ticket)

    def ticket(self, number: int) -> dict[str, Any] | None:
        return self._get("tickets", number)

    def update_ticket(self, number: int, fields: dict[str, Any]) -> None:
        self._update("tickets", number, fields)

    def tickets(self, status: str | None = None, *, archived: bool = False) -> list[dict[str, Any]]:
        """Tickets by number; archived ones (closed long ago) only when asked for."""
        docs = [
            dict(row)
            for row in self._rows("tickets")
            if (status is None or row.get("status") == status)
            and (archived or not row.get("archived_at"))
        ]
        return sorted(docs, key=lambda d: d["number"])

    def iter_tickets(self) -> Iterator[dict[str, Any]]:
        """Every ticket, archived ones included, read-only and uncopied: for reports."""
        yield from self._rows("tickets")

    def tickets_to_check(self, cutoff: str) -> list[dict[str, Any]]:
        """Tickets whose `next_check_at` is at or before `cutoff`; the rest are not copied.

        The SLA sweep runs this over every ticket each minute, so it reads the snapshot
        directly instead of through TinyDB, which builds a Document for every row.
        """
        rows = self._rows("tickets")
        due = [dict(row) for row in rows if (row.get("next_check_at") or "~") <= cutoff]
        return sorted(due, key=lambda d: d["number"])

    # -- messages ----------------------------------------------------------------------------

    def add_message(self, message: dict[str, Any]) -> None:
        """Record a message; its Message-ID becomes known for threading and dedupe at once."""
        if message["message_id"] in self._message_ticket:
            raise StoreError(f"message {message['message_id']} is already stored")
        self._message_ticket[message["message_id"]] = message.get("ticket")
        if message.get("fingerprint"):
            self._message_fingerprint[message["message_id"]] = message["fingerprint"]
        if self._ticket_parties is not None:
            _note_parties(self._ticket_parties, message)
        self._new["messages"][message["message_id"]] = dict(message)
        self._dirty = True

    def has_message(self, message_id: str) -> bool:
        return message_id in self._message_ticket

    def ticket_of_message(self, message_id: str) -> int | None:
        return self._message_ticket.get(message_id)

    def fingerprint_of_message(self, message_id: str) -> str | None:
        """The content fingerprint a message was stored with; None for maild's own mail and for
        messages stored before fingerprints were kept."""
        return self._message_fingerprint.get(message_id)

    def ticket_parties(self, number: int) -> frozenset[str]:
        """Addresses (lower case) a ticket's mail went between: To and Cc of its messages in
        and out, and the senders of its messages that were not automatic.

        Indexed on first use only: it is asked about mail that names a ticket it may not
        belong on, which most runs never see."""
        if self._ticket_parties is None:
            self._ticket_parties = defaultdict(set)
            for row in self._rows("messages"):
                _note_parties(self._ticket_parties, row)
        return frozenset(self._ticket_parties.get(number, ()))

    def iter_messages(self) -> Iterator[dict[str, Any]]:
        """Every stored message, read-only and uncopied: for scans such as search."""
        yield from self._rows("messages")

    def messages(self, ticket: int | None) -> list[dict[str, Any]]:
        """A ticket's messages; None gives the filtered mail that joined no ticket."""
        return [m for m in self._all("messages") if m.get("ticket") == ticket]

    # -- outbox ------------------------------------------------------------------------------

    def add_outgoing(self, mail: dict[str, Any]) -> None:
        self._insert("outbox", mail)
        self._remember_auto_reply(mail)

    def outgoing(self, status: str | None = None) -> list[dict[str, Any]]:
        """Outgoing mail, only the rows asked for copied: the outbox keeps every mail ever sent
        and is read at every flush."""
        rows = self._rows("outbox")
        return [dict(row) for row in rows if status is None or row.get("status") == status]

    def record_delivery(self, mail_id: str, fields: dict[str, Any]) -> None:
        """Durably note a delivery result at once, without rewriting the whole database."""
        self._update("outbox", mail_id, fields)
        line = json.dumps({"id": mail_id, "fields": fields}, ensure_ascii=False) + "\n"
        with open(self.root / "outbox.journal", "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def auto_replies_since(self, address: str, since: datetime) -> int:
        """How many automatic mails went (or are queued) to an address since a time."""
        cutoff = iso(since)
        return sum(1 for t in self._auto_replies.get(address.lower(), ()) if t >= cutoff)

    def _remember_auto_reply(self, mail: dict[str, Any]) -> None:
        if mail.get("automatic"):
            for address in mail.get("recipients", ()):
                self._auto_replies[address.lower()].append(mail["created_at"])

    def _replay_journal(self) -> None:
        try:
            lines = (self.root / "outbox.journal").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                log.warning("ignoring a torn line at the end of outbox.journal")
                continue
            if entry.get("id") in self._doc_ids["outbox"]:
                self._update("outbox", entry["id"], entry["fields"])

    # -- quarantine and state ----------------------------------------------------------------

    def quarantined(self) -> list[dict[str, Any]]:
        return self._all("quarantine")

    def state(self, key: str) -> Any:
        doc = self._get("state", key)
        return None if doc is None else doc["value"]

    def set_state(self, key: str, value: Any) -> None:
        if self._get("state", key) is None:
            self._insert("state", {"key": key, "value": value})
        else:
            self._update("state", key, {"value": value})

    # -- the staging layer -------------------------------------------------------------------

    def _insert(self, table: str, doc: dict[str, Any]) -> None:
        key = doc[_KEYS[table]]
        if key in self._new[table] or key in self._doc_ids[table]:
            raise StoreError(f"{table} already holds {key!r}")
        self._new[table][key] = dict(doc)
        self._dirty = True

    def _get(self, table: str, key: Any) -> dict[str, Any] | None:
        if key in self._new[table]:
            return dict(self._new[table][key])
        doc_id = self._doc_ids[table].get(key)
        if doc_id is None:
            return None
        doc = self._db.table(table).get(doc_id=doc_id)
        assert isinstance(doc, dict)
        return {**doc, **self._changes[table].get(key, {})}

    def _update(self, table: str, key: Any, fields: dict[str, Any]) -> None:
        self._dirty = True
        if key in self._new[table]:
            self._new[table][key].update(fields)
        elif key in self._doc_ids[table]:
            self._changes[table].setdefault(key, {}).update(fields)
        else:
            raise StoreError(f"{table} holds no {key!r}")

    def _rows(self, table: str) -> Iterable[dict[str, Any]]:
        """The committed-and-staged rows themselves, for scans that copy only what they keep."""
        self._apply()
        return (self._db.storage.read() or {}).get(table, {}).values()

    def _all(self, table: str) -> list[dict[str, Any]]:
        self._apply()
        return [dict(doc) for doc in self._db.table(table).all()]

    def _apply(self) -> None:
        """Write staged inserts and updates into the snapshot's rows, and note them for the
        journal. TinyDB's own insert and update rebuild the whole table each time."""
        data = self._data()
        for table, docs in self._new.items():
            if not docs:
                continue
            rows = data.setdefault(table, {})
            doc_id = self._next_ids.get(table, 1)
            ids = self._doc_ids.get(table)
            for key, doc in docs.items():
                rows[str(doc_id)] = doc
                if ids is not None:
                    ids[key] = doc_id
                doc_id += 1
            self._next_ids[table] = doc_id
            if self._recording:
                self._journal_ops.append(
                    orjson.dumps({"table": table, "docs": list(docs.values())})
                )
            docs.clear()
        for table, changes in self._changes.items():
            if not changes:
                continue
            rows, ids = data[table], self._doc_ids[table]
            for key, fields in changes.items():
                rows[str(ids[key])].update(fields)
            if self._recording:
                op = {"table": table, "rows": list(changes.items())}
                self._journal_ops.append(orjson.dumps(op))
            changes.clear()


def _note_parties(parties: dict[int, set[str]], message: dict[str, Any]) -> None:
    number = message.get("ticket")
    if number is None:
        return
    addresses = [*message.get("to", ()), *message.get("cc", ())]
    if message.get("direction") == "in" and not message.get("automatic"):
        addresses.append(message.get("from") or "")
    parties[number].update(a.lower() for a in addresses if a)


def _take_lock(path: Path) -> Any:
    lock_file = open(path, "a+", encoding="ascii")  # noqa: SIM115 - held open while running
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        pid = lock_file.read().strip() or "unknown"
        lock_file.close()
        raise StoreLocked(
            f"another maild (pid {pid}) is using the data directory {path.parent}; "
            "stop it first, or point [store] path elsewhere",
            int(pid) if pid.isdigit() else None,
        ) from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(str(os.getpid()))
    lock_file.flush()
    return lock_file
