"""Looking after a data directory: backup and restore, quarantine and outbox repair, format
versions. Pure functions over a Store or paths; the command line prints what they return.

A backup is taken while the daemon runs, without its lock. That works because of how the store
writes (see maild.store): files under raw/, attachments/ and quarantine/ are named by their
content and never change, and are durable before the commit that refers to them; the database
is a snapshot (`db.json`, replaced by rename) plus an append-only journal of the commits since.
So the database is read first, and checked to be one consistent moment, and the files after it:
every file the copied database refers to already exists by then.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

import maild.store
from maild.clock import iso, parse_iso
from maild.config import Config
from maild.ingest import _ANSWERABLE, Outcome, ingest
from maild.intake.parse_pool import parse_or_error
from maild.sla import DONE_STATUSES
from maild.store import Store, StoreError, StoreLocked, _take_lock, fsync_dir
from maild.tickets import event

DB_FILES = ("db.json", "db.journal", "outbox.journal")
AREAS = ("raw", "attachments", "quarantine")  # content-addressed, never rewritten
_CONTENT_NAME = re.compile(r"[0-9a-f]{64}\.(?:eml|bin)")
OUTBOX_STATUSES = ("pending", "sent", "failed")
RETRIED_KEY = "quarantine-retried:"  # + the quarantine id: the last retry's outcome


class DataCareError(Exception):
    """An operation on the data directory was refused or failed; the message says why."""


class BackupError(DataCareError):
    pass


class RestoreError(DataCareError):
    pass


class QuarantineError(DataCareError):
    pass


class OutboxError(DataCareError):
    pass


class VersionError(DataCareError):
    """The data is in a format this maild cannot use as it is (newer, or unknown)."""


# -- backup ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Database:
    """One consistent moment of the database files, as bytes to put in the archive."""

    snapshot: bytes | None  # db.json; None when there is none yet
    journal: bytes  # complete commits only
    outbox: bytes  # delivery marks made since the last of those commits
    seq: int  # the last commit the copy holds


def backup(root: Path, target: Path, *, tries: int = 10, pause: float = 0.05) -> dict[str, Any]:
    """Write a .tar.gz of the data directory at `target`, safe to run beside the daemon.

    The archive appears only when complete (temp file, fsync, rename): a backup cut short never
    leaves a truncated archive under the name a restore would use. It is readable only by its
    owner, as it holds every customer's mail. The copied database is opened before the rename,
    so a backup that exists is one that loads.

    Returns {tickets, messages, files, bytes, seq, missing}: `missing` lists files the
    database refers to that were not in the data directory (empty unless it is damaged).
    """
    if not (root / "db.json").exists() and not (root / "db.journal").exists():
        raise BackupError(f"no maild data in {root}: nothing to back up")
    database = _read_database(root, tries, pause)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".maild-backup-", dir=target.parent) as scratch:
        counts, referenced = _check_database(Path(scratch), database)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            with tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as tar:
                stamp = time.time()
                for name, data in zip(DB_FILES, _database_files(database), strict=True):
                    if data is not None:
                        _add_bytes(tar, name, data, stamp)
                copied = set(_add_content_files(tar, root))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return {
        **counts,
        "files": len(copied),
        "bytes": target.stat().st_size,
        "seq": database.seq,
        "missing": sorted(referenced - copied),
    }


def _read_database(root: Path, tries: int, pause: float) -> _Database:
    """The database files as of one moment, re-read while the daemon changes them under us.

    A copy is consistent when nothing was committed from the first read to the last check:
    db.json still the same file, db.journal still the size read, and its lines continuing the
    snapshot's sequence. The outbox journal is read between the journal and that check, because
    a commit folds its delivery marks into a journal line and then empties it: read against an
    older journal it could lose a mark (a sent mail would be sent again after a restore), read
    against a newer one it could undo one.
    """
    problem = ""
    for attempt in range(tries):
        if attempt:
            time.sleep(pause)
        before = _identity(root / "db.json")
        snapshot = _read_or_none(root / "db.json")
        journal = _read_or_none(root / "db.journal") or b""
        outbox = _read_or_none(root / "outbox.journal") or b""
        journal_now = _identity(root / "db.journal")
        if _identity(root / "db.json") != before or (journal_now or (0, 0, 0))[1] != len(journal):
            problem = "the daemon committed while the database was being read"
            continue
        if snapshot is None and not journal:
            problem = "db.json and db.journal disappeared while being read"
            continue
        snapshot_seq = _snapshot_seq(root, snapshot)
        kept, seq, problem = _committed_lines(journal, snapshot_seq)
        if problem:
            continue
        return _Database(snapshot, kept, _complete_lines(outbox), seq)
    raise BackupError(
        f"could not read a consistent copy of the database in {root} in {tries} tries "
        f"({problem}); try again, or stop the daemon for the backup"
    )


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What tells a replaced or changed file apart: inode, size and modification time."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _snapshot_seq(root: Path, snapshot: bytes | None) -> int:
    """The last journal line a snapshot holds; a snapshot that did not change while read and
    still does not parse is damage a retry cannot mend."""
    if snapshot is None:
        return 0
    try:
        data = orjson.loads(snapshot)
        return int(data.get("_journal_seq", 0))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
        raise BackupError(f"{root / 'db.json'} is damaged ({e}); it cannot be backed up") from None


def _committed_lines(journal: bytes, snapshot_seq: int) -> tuple[bytes, int, str]:
    """The journal's committed lines, the last commit they reach, and what is wrong if they do
    not continue the snapshot (a compaction between reading the two).

    A last line without its newline is a commit being written (or cut off by a crash): it was
    never committed, and is left out. A complete line that does not parse is dropped with all
    after it, as opening the store does. Lines the snapshot already holds (a compaction cut
    short before emptying the journal) are kept: opening skips them.
    """
    last, good, pos = snapshot_seq, 0, 0
    while pos < len(journal):
        end = journal.find(b"\n", pos)
        if end < 0:
            break
        try:
            seq = int(orjson.loads(journal[pos:end])["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            break
        if seq > last + 1:
            return b"", last, f"journal line {seq} does not follow commit {last}"
        last = max(last, seq)
        pos = good = end + 1
    return journal[:good], last, ""


def _complete_lines(data: bytes) -> bytes:
    """Up to the last newline: a mark being appended as we read is not one yet."""
    return data[: data.rfind(b"\n") + 1]


def _database_files(database: _Database) -> tuple[bytes | None, bytes | None, bytes | None]:
    """db.json, db.journal, outbox.journal as they go into the archive (None: left out)."""
    return database.snapshot, database.journal or None, database.outbox or None


def _check_database(scratch: Path, database: _Database) -> tuple[dict[str, int], set[str]]:
    """Open the copied database as a store: it loads, and it says which files it needs."""
    for name, data in zip(DB_FILES, _database_files(database), strict=True):
        if data is not None:
            (scratch / name).write_bytes(data)
    try:
        with Store.open(scratch, readonly=True) as copy:
            return _counts(copy), _referenced_files(copy)
    except (StoreError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise BackupError(f"the copied database does not load: {e!r}") from None


def _counts(store: Store) -> dict[str, int]:
    return {
        "tickets": len(store.tickets(archived=True)),
        "messages": sum(1 for _ in store.iter_messages()),
    }


def _referenced_files(store: Store) -> set[str]:
    """Every stored file the database names: messages, their attachments, quarantined mail and
    attachments of queued mail."""
    refs: set[str] = set()
    for message in store.iter_messages():
        if message.get("raw"):
            refs.add(message["raw"])
        refs.update(a["stored_as"] for a in message.get("attachments") or () if "stored_as" in a)
    refs.update(q["raw"] for q in store.quarantined() if q.get("raw"))
    for mail in store.outgoing():
        draft = mail.get("draft") or {}
        refs.update(a["stored_as"] for a in draft.get("attachments") or () if "stored_as" in a)
    return refs


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, stamp: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(stamp), 0o600
    tar.addfile(info, io.BytesIO(data))


def _add_content_files(tar: tarfile.TarFile, root: Path) -> Iterator[str]:
    """Copy raw/, attachments/ and quarantine/; yields each file's reference as it is added.

    Only names the store makes (area/xx/<sha256>.eml|.bin) are taken: a half-written `.tmp`
    is not a stored file yet, and nothing else belongs there.
    """
    for ref in _content_files(root):
        try:
            f = open(root / ref, "rb")  # noqa: SIM115 - closed below; may vanish first
        except FileNotFoundError:
            continue
        with f:
            info = tar.gettarinfo(arcname=ref, fileobj=f)
            if not info.isreg():
                continue
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, f)
        yield ref


def _content_files(root: Path) -> Iterator[str]:
    for area in AREAS:
        base = root / area
        if not base.is_dir():
            continue
        for fan in sorted(os.scandir(base), key=lambda e: e.name):
            if not (len(fan.name) == 2 and fan.is_dir(follow_symlinks=False)):
                continue
            for entry in sorted(os.scandir(fan.path), key=lambda e: e.name):
                if _is_content_name(fan.name, entry.name) and entry.is_file(follow_symlinks=False):
                    yield f"{area}/{fan.name}/{entry.name}"


def _is_content_name(fan: str, name: str) -> bool:
    return bool(_CONTENT_NAME.fullmatch(name)) and name[:2] == fan


# -- restore -----------------------------------------------------------------------------------


def restore(archive: Path, root: Path) -> dict[str, Any]:
    """Unpack a backup into an empty (or new) data directory; returns {tickets, messages,
    files, bytes}.

    Never over existing data, and never while a maild runs there: the directory's lock is held
    throughout, so a daemon started meanwhile refuses to start. The archive is trusted for
    nothing: only the names a backup contains are accepted (no absolute paths, no '..', no
    links or devices), and every content-addressed file is checked against its name.

    Everything is unpacked and the database opened and compacted into one db.json in a
    scratch directory first; the files then move into place and db.json last, in one rename.
    A restore cut short therefore leaves no database (run it again), never part of one.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RestoreError(f"cannot create the data directory {root}: {e.strerror}") from None
    try:
        lock = _take_lock(root / "maild.lock")
    except StoreLocked as e:
        raise RestoreError(f"{e}; a restore needs the daemon stopped") from None
    try:
        present = [name for name in DB_FILES if (root / name).exists()]
        if present:
            raise RestoreError(
                f"{root} already holds maild data ({', '.join(present)}): restore into an empty "
                "or new directory, then point [store] path at it"
            )
        scratch = Path(tempfile.mkdtemp(prefix=".restore-", dir=root))
        try:
            files, size = _unpack(archive, scratch)
            _compact_copy(scratch)
            _move_into_place(scratch, root)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        lock.close()
    with Store.open(root, readonly=True) as store:
        return {**_counts(store), "files": files, "bytes": size}


def _unpack(archive: Path, scratch: Path) -> tuple[int, int]:
    """Extract a backup's members into `scratch`, refusing anything a backup does not hold;
    returns (content files, bytes written)."""
    files = size = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = _member_parts(member)
                if parts is None:
                    continue  # a directory: made as its files need it
                source = tar.extractfile(member)
                if source is None:
                    raise RestoreError(f"{archive}: cannot read the member {member.name!r}")
                path = scratch.joinpath(*parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with source, open(path, "wb") as out:
                    while chunk := source.read(2**20):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
                if len(parts) == 3:
                    if digest.hexdigest() != parts[2].partition(".")[0]:
                        raise RestoreError(
                            f"{archive}: {member.name} does not match its checksum; "
                            "the backup is damaged"
                        )
                    files += 1
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise RestoreError(f"{archive} cannot be read as a maild backup: {e}") from None
    except OSError as e:
        raise RestoreError(f"cannot unpack {archive} into {scratch.parent}: {e}") from None
    if not (scratch / "db.json").exists() and not (scratch / "db.journal").exists():
        raise RestoreError(f"{archive} holds no maild database: not a maild backup")
    return files, size


def _member_parts(member: tarfile.TarInfo) -> list[str] | None:
    """A member's path inside the data directory, None for a directory, or RestoreError.

    An allowlist rather than a blocklist: a database file at the top, or area/xx/<sha256>.ext
    below; links, devices and fifos are never taken, whatever their name.
    """
    name = member.name
    if name.startswith("/") or "\\" in name or "\0" in name:
        raise RestoreError(f"refusing the archive member {name!r}: not a relative path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise RestoreError(f"refusing the archive member {name!r}: it leads outside")
    if member.isdir():
        if parts[:1] in ([], *([a] for a in AREAS)) and len(parts) <= 2:
            return None
        raise RestoreError(f"refusing the archive member {name!r}: not part of a maild backup")
    if not member.isreg():
        kind = "a link" if member.issym() or member.islnk() else "a device or fifo"
        raise RestoreError(f"refusing the archive member {name!r}: it is {kind}")
    if len(parts) == 1 and parts[0] in DB_FILES:
        return parts
    if len(parts) == 3 and parts[0] in AREAS and _is_content_name(parts[1], parts[2]):
        return parts
    raise RestoreError(f"refusing the archive member {name!r}: not part of a maild backup")


def _compact_copy(scratch: Path) -> None:
    """Open the unpacked database as its writer and fold journal and marks into db.json:
    proof that it loads, and one file to move into place."""
    try:
        with Store.open(scratch) as store:
            store.commit()  # replayed delivery marks become a commit; outbox.journal empties
            store.compact()
    except (StoreError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise RestoreError(f"the backup's database does not load: {e!r}") from None
    (scratch / "db.journal").unlink(missing_ok=True)
    (scratch / "outbox.journal").unlink(missing_ok=True)


def _move_into_place(scratch: Path, root: Path) -> None:
    """The stored files first (a daemon that never sees db.json never reads them), then the
    database in one rename."""
    for area in AREAS:
        source = scratch / area
        if not source.is_dir():
            continue
        target = root / area
        if not target.exists():
            os.rename(source, target)
            continue
        for fan in os.scandir(source):
            (target / fan.name).mkdir(exist_ok=True)
            for entry in os.scandir(fan.path):
                os.replace(entry.path, target / fan.name / entry.name)
    os.sync()  # one call for every file and rename: all durable before the database appears
    os.replace(scratch / "db.json", root / "db.json")
    fsync_dir(root)


# -- quarantine --------------------------------------------------------------------------------


def quarantine_list(store: Store) -> list[dict[str, Any]]:
    """Quarantined mail, oldest first, with what the last retry did.

    `status` is "quarantined" until a retry takes the mail in ("retried"); `retried` is the
    last retry's record or None.
    """
    rows = []
    for record in sorted(store.quarantined(), key=lambda r: (r.get("received_at") or "", r["id"])):
        retried = store.state(RETRIED_KEY + record["id"])
        taken_in = bool(retried) and retried.get("result") != "quarantined"
        rows.append(
            {
                "id": record["id"],
                "received_at": record.get("received_at"),
                "reason": record.get("reason", ""),
                "source": record.get("source", ""),
                "size": record.get("size", 0),
                "has_raw": _has_raw(store, record),
                "status": "retried" if taken_in else "quarantined",
                "retried": retried,
            }
        )
    return rows


def quarantine_show(store: Store, qid: str) -> tuple[dict[str, Any], bytes | None]:
    """One quarantined mail (by id or a unique beginning of it) and its bytes, if kept."""
    record = _pick(store.quarantined(), "id", qid, "quarantined mail", QuarantineError)
    record = {**record, "retried": store.state(RETRIED_KEY + record["id"])}
    raw = store.read_file(record["raw"]) if _has_raw(store, record) else None
    return record, raw


def quarantine_retry(store: Store, config: Config, qid: str, now: datetime) -> Outcome:
    """Take a quarantined mail in again, as it would be taken in now.

    For after a fix: a bug that quarantined it is mended, or a limit raised. The outcome is kept
    under a state key, so quarantine_list shows it. Runs in the caller's store batch, like
    commands.apply: the ticket and the note of the retry commit together. A bug that still
    breaks the ingest raises QuarantineError, and the caller's batch rolls it all back.
    """
    if store.readonly:
        raise QuarantineError("retrying quarantined mail needs the store open for writing")
    record = _pick(store.quarantined(), "id", qid, "quarantined mail", QuarantineError)
    if not _has_raw(store, record):
        raise QuarantineError(
            f"quarantined mail {record['id']} was never downloaded ({record.get('reason')}): "
            "there is nothing to retry; raise the limit and let intake fetch it again"
        )
    raw = store.read_file(record["raw"])
    parsed = parse_or_error(raw, config.limits)
    source = f"{record.get('source') or 'quarantine'} (retried)"
    try:
        outcome = ingest(store, raw, parsed, config=config, now=now, source=source)
    except Exception as e:
        raise QuarantineError(
            f"the retry of {record['id']} failed again: internal error: {type(e).__name__}: {e}"
        ) from e
    store.set_state(
        RETRIED_KEY + record["id"],
        {
            "at": iso(now),
            "result": outcome.result,
            "ticket": outcome.ticket,
            "message_id": outcome.message_id,
            "reason": outcome.reason,
        },
    )
    return outcome


def _has_raw(store: Store, record: dict[str, Any]) -> bool:
    return bool(record.get("raw")) and (store.root / record["raw"]).is_file()


def _pick(
    rows: list[dict[str, Any]],
    key: str,
    wanted: str,
    what: str,
    error: type[DataCareError],
) -> dict[str, Any]:
    """The row whose key is `wanted` or, failing that, the one row it begins: ids are long
    hex strings that people copy from a list."""
    for row in rows:
        if row[key] == wanted:
            return row
    found = [row for row in rows if wanted and str(row[key]).startswith(wanted)]
    if len(found) == 1:
        return found[0]
    if found:
        raise error(f"{len(found)} {what} ids begin with {wanted!r}: give more of it")
    raise error(f"no {what} {wanted!r}")


# -- outbox ------------------------------------------------------------------------------------


def outbox_list(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    """Outgoing mail, oldest first; `status` one of pending, sent, failed (None: all)."""
    if status is not None and status not in OUTBOX_STATUSES:
        raise OutboxError(f"no outbox status {status!r}: one of {', '.join(OUTBOX_STATUSES)}")
    rows = []
    for mail in sorted(store.outgoing(status), key=lambda m: (m["created_at"], m["id"])):
        draft = mail.get("draft") or {}
        rows.append(
            {
                "id": mail["id"],
                "message_id": mail.get("message_id"),
                "ticket": mail.get("ticket"),
                "kind": mail.get("kind"),
                "to": list(mail.get("recipients") or ()),
                "subject": draft.get("subject", ""),
                "status": mail["status"],
                "attempts": mail.get("attempts", 0),
                "created_at": mail["created_at"],
                "next_attempt_at": mail.get("next_attempt_at"),
                "last_error": mail.get("last_error"),
                "sent_at": mail.get("sent_at"),
            }
        )
    return rows


def outbox_retry(store: Store, mail_id: str | None, now: datetime) -> int:
    """Make mail due again now: one mail (failed, or pending and waiting for its next
    attempt), or with None every failed one. Returns how many.

    For after the cause is fixed (a relay's configuration, a full mailbox). Attempts are kept:
    mail past the outbox's two days gets one more attempt, and fails again if that one fails.
    Sent mail is never sent twice. The change is journalled at once, like a delivery result,
    so it needs no commit; the next commit folds it in.
    """
    if store.readonly:
        raise OutboxError("retrying mail needs the store open for writing")
    if mail_id is None:
        chosen = store.outgoing("failed")
    else:
        mail = _pick(store.outgoing(), "id", mail_id, "outgoing mail", OutboxError)
        if mail["status"] == "sent":
            raise OutboxError(f"mail {mail['id']} was sent at {mail.get('sent_at')}: not again")
        chosen = [mail]
    stamp = iso(now)
    for mail in chosen:
        store.record_delivery(mail["id"], {"status": "pending", "next_attempt_at": stamp})
    return len(chosen)


# -- data format versions ----------------------------------------------------------------------


def stored_version(store: Store) -> int:
    """The format the data is in. Every store records it when created; format 1 has been
    recorded since the first release, so a store without it is format 1."""
    value = store.state("schema_version")
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise VersionError(f"the data in {store.root} has an unreadable format version {value!r}")
    return value


def check_version(store: Store) -> int:
    """The stored format, or VersionError when it is newer than this maild (a downgrade): an
    older maild would misread or silently drop what it does not know."""
    version = stored_version(store)
    current = maild.store.SCHEMA_VERSION
    if version > current:
        raise VersionError(
            f"the data in {store.root} is in format {version}, but this maild only knows up to "
            f"format {current}: it was written by a newer maild. Run that version, or restore "
            "a backup taken before the upgrade"
        )
    return version


def migrate(store: Store) -> list[str]:
    """Bring the store up to this maild's format, one step and one commit per version, so an
    interrupted migration resumes where it stopped. Returns a line per step (none when the
    store is current)."""
    version = check_version(store)
    current = maild.store.SCHEMA_VERSION
    if version == current:
        return []
    if store.readonly:
        raise VersionError("migrating needs the store open for writing")
    if store.uncommitted:
        raise VersionError("the store has uncommitted changes: commit them before migrating")
    done = []
    while version < current:
        step = MIGRATIONS.get(version)
        if step is None:
            raise VersionError(f"this maild has no migration from format {version}")
        with store.batch():
            notes = step(store)
            store.set_state("schema_version", version + 1)
        title = (step.__doc__ or step.__name__).strip().splitlines()[0]
        done.append(f"format {version} -> {version + 1}: {title}")
        done += [f"  {note}" for note in notes]
        version += 1
    return done


def _sla_history(store: Store) -> list[str]:
    """tickets get the history SLA clocks read; outbox drafts name a list of recipients.

    Tickets from before the SLA work have no `events`, `updates` or `next_check_at`. Their
    history is rebuilt from what the store holds: opened when created, acknowledged when an
    acknowledgement was queued, and each later message from the customer. The SLA fingerprint
    is cleared so that the daemon computes every next check at its next start.
    """
    by_ticket: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for message in store.iter_messages():
        if message.get("ticket") is not None:
            by_ticket[message["ticket"]].append(message)
    fixed = still_open = 0
    for ticket in store.tickets(archived=True):
        fields: dict[str, Any] = {}
        if "events" not in ticket:
            fields["events"] = _rebuilt_history(ticket, by_ticket.get(ticket["number"], []))
        if "updates" not in ticket:
            fields["updates"] = bool(_ANSWERABLE.fullmatch(ticket.get("customer") or ""))
        if "next_check_at" not in ticket:
            fields["next_check_at"] = None
        if fields:
            store.update_ticket(ticket["number"], fields)
            fixed += 1
            still_open += ticket.get("status") not in DONE_STATUSES
    drafts = 0
    for mail in store.outgoing():
        draft = mail.get("draft")
        if isinstance(draft, dict) and isinstance(draft.get("to"), str):
            store.record_delivery(mail["id"], {"draft": {**draft, "to": [draft["to"]]}})
            drafts += 1
    notes = []
    if fixed:
        store.set_state("sla_fingerprint", None)
        notes.append(f"{fixed} tickets given an SLA history ({still_open} of them open)")
        if still_open:
            notes.append(
                "open tickets this old may be past their SLA already: the daemon's first sweep "
                "warns and escalates for them; close the ones that are done"
            )
    if drafts:
        notes.append(f"{drafts} outbox drafts given a list of recipients")
    return notes


def _rebuilt_history(ticket: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict]:
    """The events ingest would have recorded, from the ticket's stored messages."""
    customer = ticket.get("customer") or ""
    opened = event(parse_iso(ticket["created_at"]), customer, "opened", rules=[], migrated=True)
    later = []
    first_seen = False
    for message in sorted(messages, key=lambda m: m.get("received_at") or ""):
        at = message.get("received_at")
        if not at:
            continue
        if message.get("direction") == "out" and message.get("kind") == "ack":
            later.append(event(parse_iso(at), "maild", "acknowledged"))
        elif message.get("direction") == "in" and message.get("kind") == "customer":
            if first_seen:
                sender = message.get("from") or customer
                wrote = event(
                    parse_iso(at), sender, "customer_message", message_id=message["message_id"]
                )
                later.append(wrote)
            first_seen = True  # the first one opened the ticket
    return [opened, *sorted(later, key=lambda e: e["at"])]


# Step from format N to N + 1. maild.store.SCHEMA_VERSION says which format this maild writes.
MIGRATIONS: dict[int, Callable[[Store], list[str]]] = {1: _sla_history}
