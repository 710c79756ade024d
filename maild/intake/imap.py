"""The IMAP source: list, download and move mail in one folder of one mailbox.

The only module in maild that imports imapclient. It knows nothing of tickets or the store: the
service loop decides which UIDs are new, stores them, and only then asks for them to be moved.
Every network or protocol failure surfaces as `ImapError`, after which the connection is closed
and the caller reconnects with back-off.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from imapclient import DELETED, IMAPClient

from maild.config import ImapConfig

log = logging.getLogger("maild.imap")

IDLE_CYCLE = 30.0
"""Longest single IDLE; ending it (DONE) also proves the connection still answers."""
STOP_CHECK = 1.0
"""Longest an IDLE wait goes without looking at the stop event."""
FAST_RETURN = 0.5
"""An empty idle_check that returns within this fraction of its timeout is suspect (#565)."""
FAST_RETURNS_DEAD = 3
"""That many suspect returns in a row mean the connection is gone."""

# socket.timeout, ssl.SSLError and ConnectionError are OSErrors; every imapclient and imaplib
# exception derives from imaplib.IMAP4.error.
_FAILURES = (OSError, imaplib.IMAP4.error)


@dataclass(frozen=True)
class FetchedMessage:
    """One message as listed by the server.

    `raw` is None when the message is larger than the limit (not downloaded) or was expunged by
    someone else meanwhile; `size` tells the two apart (0 when it vanished before it was sized).
    """

    uid: int
    size: int
    raw: bytes | None


class ImapError(Exception):
    """Talking to the IMAP server failed; the connection is closed, reconnect with back-off."""


class ImapSource:
    """One connection to the intake folder. Not thread-safe: use it from one thread."""

    def __init__(self, config: ImapConfig, *, max_bytes: int) -> None:
        self._config = config
        self._max_bytes = max_bytes
        self._client: IMAPClient | None = None
        self._highest_uid = 0
        self._prefix = ""
        self._delimiter: str | None = None

    @property
    def _where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def connect(self, *, create_folders: bool = True) -> int:
        """Log in, create the folders maild moves mail to, select the intake folder.

        Returns the folder's UIDVALIDITY: when it changes, UIDs seen before mean nothing.
        `create_folders=False` only looks (for `maild check`).
        """
        self.close()
        self._highest_uid = 0
        config = self._config
        with self._guard("connect"):
            self._client = client = self._open()
        with self._guard(f"login as {config.username}"):
            client.login(config.username, config.password)
        with self._guard("folder setup"):
            self._learn_naming()
            for folder in (config.processed_folder, config.quarantine_folder):
                if folder and create_folders:
                    self._ensure_folder(folder)
            selected = client.select_folder(
                self._mailbox(config.folder), readonly=not create_folders
            )
        uidvalidity = int(selected[b"UIDVALIDITY"])
        log.info(
            "connected to %s as %s; %s holds %d message(s), UIDVALIDITY %d",
            self._where,
            config.username,
            config.folder,
            selected.get(b"EXISTS", 0),
            uidvalidity,
        )
        return uidvalidity

    def close(self) -> None:
        """Log out if still connected; never raises (the connection may already be dead)."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception as e:  # imaplib has already closed the socket by the time this raises
            log.debug("IMAP logout from %s failed: %s", self._where, _describe(e))

    def capabilities(self) -> set[str]:
        """What the server offers after login, upper-case (e.g. {"IDLE", "MOVE", ...})."""
        with self._guard("CAPABILITY"):
            return {c.decode("ascii").upper() for c in self._connected().capabilities()}

    def uids(self) -> list[int]:
        """UIDs of all messages in the intake folder not flagged \\Deleted, ascending."""
        with self._guard("SEARCH"):
            found = sorted(int(uid) for uid in self._connected().search(["NOT", "DELETED"]))
        self._highest_uid = max([self._highest_uid, *found])
        return found

    def fetch(self, uids: Sequence[int]) -> Iterator[list[FetchedMessage]]:
        """Download `uids` in batches of `batch_size`, one list per batch, in UID order.

        Sizes are asked for first so an oversize message is never downloaded. BODY.PEEK keeps
        \\Seen off, so a mail client watching the same mailbox still sees the mail as new.
        """
        ordered = sorted(uids)
        step = self._config.batch_size
        for start in range(0, len(ordered), step):
            yield self._fetch_batch(ordered[start : start + step])

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move `uids` from the intake folder to `folder` (a config name such as "maild/processed").

        Without MOVE this is COPY, \\Deleted and UID EXPUNGE; a server without UIDPLUS only has
        a plain EXPUNGE, which also removes messages another client flagged \\Deleted.
        """
        if not uids:
            return
        mailbox = self._mailbox(folder)
        with self._guard(f"move to {mailbox}"):
            client = self._connected()
            if client.has_capability("MOVE"):
                client.move(uids, mailbox)
            else:
                client.copy(uids, mailbox)
                client.add_flags(uids, [DELETED])
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()
        log.info("moved %d message(s) to %s", len(uids), mailbox)

    def wait_for_mail(self, seconds: float, stop: threading.Event) -> bool:
        """Block up to `seconds` until new mail may have arrived or `stop` is set.

        True means "look now": new mail arrived since the last `uids()`, or (without IDLE) the
        poll interval passed. False means `stop` was set or the IDLE wait ended with no news.
        """
        if not (self._config.idle and "IDLE" in self.capabilities()):
            return not stop.wait(seconds)
        if self._arrived_since_listing():
            return True
        return self._idle(time.monotonic() + seconds, stop)

    def _open(self) -> IMAPClient:
        """Connect with the configured TLS mode; certificates are always verified."""
        config = self._config
        if config.tls == "none":
            return IMAPClient(config.host, config.port, ssl=False, timeout=config.timeout)
        if config.tls == "starttls":
            client = IMAPClient(config.host, config.port, ssl=False, timeout=config.timeout)
            try:
                client.starttls(self._tls_context())
            except BaseException:
                _shutdown(client)
                raise
            return client
        return IMAPClient(
            config.host,
            config.port,
            ssl=True,
            ssl_context=self._tls_context(),
            timeout=config.timeout,
        )

    def _tls_context(self) -> ssl.SSLContext:
        ca_file = self._config.ca_file
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def _learn_naming(self) -> None:
        """Find the server's hierarchy delimiter and personal prefix for `_mailbox`."""
        client = self._connected()
        personal = client.namespace().personal if client.has_capability("NAMESPACE") else None
        if personal:
            self._prefix, self._delimiter = personal[0]
            return
        listed = client.list_folders("", "")
        delimiter = listed[0][1] if listed else None
        self._prefix, self._delimiter = "", delimiter.decode() if delimiter else None

    def _mailbox(self, name: str) -> str:
        """A config folder name ("/" between levels) as this server spells it.

        Dovecot's default maildir layout, for one, uses "." and refuses "/" in a name.
        """
        if name.upper() == "INBOX" or not self._delimiter:
            return name
        mailbox = name.replace("/", self._delimiter)
        if not mailbox.startswith(self._prefix):
            mailbox = self._prefix + mailbox
        return mailbox

    def _ensure_folder(self, name: str) -> None:
        client = self._connected()
        mailbox = self._mailbox(name)
        if client.folder_exists(mailbox):
            return
        client.create_folder(mailbox)
        client.subscribe_folder(mailbox)
        log.info("created IMAP folder %s", mailbox)

    def _fetch_batch(self, uids: list[int]) -> list[FetchedMessage]:
        with self._guard("FETCH"):
            client = self._connected()
            sizes = {
                uid: int(data[b"RFC822.SIZE"])
                for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()
                if b"RFC822.SIZE" in data
            }
            wanted = [uid for uid, size in sizes.items() if size <= self._max_bytes]
            bodies = client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
        for uid in sorted(sizes.keys() - set(wanted)):
            log.info("UID %d is %d bytes, over the %d-byte limit", uid, sizes[uid], self._max_bytes)
        return [
            FetchedMessage(uid, sizes.get(uid, 0), bodies.get(uid, {}).get(b"BODY[]"))
            for uid in uids
        ]

    def _arrived_since_listing(self) -> bool:
        """New mail announced in the reply to an earlier command, which IDLE won't repeat."""
        with self._guard("SEARCH"):
            found = self._connected().search(["UID", f"{self._highest_uid + 1}:*"])
        return any(uid > self._highest_uid for uid in found)  # n:* always holds the top UID

    def _idle(self, deadline: float, stop: threading.Event) -> bool:
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._idle_cycle(min(IDLE_CYCLE, remaining), stop):
                return True
        return False

    def _idle_cycle(self, length: float, stop: threading.Event) -> bool:
        """One IDLE ... DONE. A failure skips DONE: the connection is dropped anyway."""
        with self._guard("IDLE"):
            client = self._connected()
            client.idle()
            news = self._watch(client, time.monotonic() + length, stop)
            _, responses = client.idle_done()
        return news or _has_news(responses)

    def _watch(self, client: IMAPClient, until: float, stop: threading.Event) -> bool:
        """Poll IDLE responses in short steps until news, `until`, or `stop`.

        imapclient #565: on a dead connection idle_check returns [] at once, forever, without
        raising. A live one waits out its timeout or returns something, so several fast empty
        returns in a row mean the connection is gone.
        """
        fast = 0
        while not stop.is_set():
            timeout = min(STOP_CHECK, until - time.monotonic())
            if timeout <= 0:
                break
            started = time.monotonic()
            responses = client.idle_check(timeout)
            _raise_on_bye(responses, self._where)
            if _has_news(responses):
                return True
            quick = not responses and time.monotonic() - started < FAST_RETURN * timeout
            fast = fast + 1 if quick else 0
            if fast >= FAST_RETURNS_DEAD:
                raise ImapError(f"IMAP connection to {self._where} lost during IDLE")
        return False

    def _connected(self) -> IMAPClient:
        if self._client is None:
            raise ImapError(f"not connected to IMAP server {self._where}")
        return self._client

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn any network or protocol failure into ImapError and drop the connection."""
        try:
            yield
        except ImapError:
            self._drop()
            raise
        except _FAILURES as e:
            self._drop()
            raise ImapError(f"IMAP {action} failed ({self._where}): {_describe(e)}") from e

    def _drop(self) -> None:
        """Close the socket without LOGOUT: after a failure the server may never answer."""
        client, self._client = self._client, None
        if client is not None:
            _shutdown(client)


def _has_news(responses: list[Any]) -> bool:
    """EXISTS, or RECENT above 0 (Dovecot sends "* 0 RECENT" after an expunge)."""
    for response in responses:
        if len(response) == 2 and isinstance(response[0], int):
            count, kind = response
            if kind == b"EXISTS" or (kind == b"RECENT" and count > 0):
                return True
    return False


def _raise_on_bye(responses: list[Any], where: str) -> None:
    for response in responses:
        if response and response[0] == b"BYE":
            said = b" ".join(part for part in response[1:] if isinstance(part, bytes))
            raise ImapError(
                f"IMAP server {where} closed the session: {said.decode(errors='replace')}"
            )


def _shutdown(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):
        client.shutdown()


def _describe(error: BaseException) -> str:
    """A one-line reason a person can act on, without imaplib's bytes reprs."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate verification failed: {error.verify_message} "
            "(if the server uses a private CA, set imap.ca_file)"
        )
    if isinstance(error, TimeoutError):
        return "no answer in time (see imap.timeout)"
    if not isinstance(error, imaplib.IMAP4.error) or not error.args:
        return str(error) or type(error).__name__
    text = error.args[0]
    if isinstance(text, bytes):
        return text.decode(errors="replace")
    text = str(text)
    # imapclient re-raises some server replies as str(bytes): "b'[AUTHENTICATIONFAILED] ...'"
    if len(text) > 2 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        return text[2:-1]
    return text
