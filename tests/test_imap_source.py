"""ImapSource against a real Dovecot: TLS modes, fetching, moving, IDLE and dropped connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from maild.intake.imap import FetchedMessage, ImapError, ImapSource
from tests.servers.dovecot import Dovecot, ImapAccount

# Dovecot's own list minus MOVE, IDLE and NAMESPACE: an old server, to reach the fallbacks.
OLD_CAPABILITIES = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+"

OpenSource = Callable[..., ImapSource]


def message(n: int, body: str = "Hello") -> bytes:
    """A small message with 8-bit UTF-8 text, CRLF line ends, as a customer might send."""
    return (
        f"From: 客户 <customer{n}@example.com>\r\n"
        "To: support@example.com\r\n"
        f"Subject: 支付失败 #{n}\r\n"
        f"Message-ID: <m{n}.{time.monotonic_ns()}@example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body} {n}\r\n付款没有成功。\r\n"
    ).encode()


@pytest.fixture
def open_source(imap_account: ImapAccount) -> Iterator[OpenSource]:
    """Connect ImapSources to the test's account with config overrides; all closed afterwards."""
    sources: list[ImapSource] = []

    def open_(max_bytes: int = 1_000_000, **overrides: object) -> ImapSource:
        source = ImapSource(imap_account.imap_config(**overrides), max_bytes=max_bytes)
        sources.append(source)
        source.connect()
        return source

    yield open_
    for source in sources:
        source.close()


@pytest.fixture(scope="module", params=["UIDPLUS", ""], ids=["uidplus", "no-uidplus"])
def old_dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """A server without MOVE, IDLE or NAMESPACE, with and without UIDPLUS."""
    with Dovecot(capabilities=f"{OLD_CAPABILITIES} {request.param}".strip()) as server:
        yield server


@pytest.fixture(scope="module")
def prefixed_dovecot() -> Iterator[Dovecot]:
    """Every folder under "INBOX.", as on Courier and some Cyrus set-ups."""
    with Dovecot(prefix="INBOX.") as server:
        yield server


def append_all(dovecot: Dovecot, account: ImapAccount, raws: list[bytes]) -> list[int]:
    return [dovecot.append(account.username, account.password, raw) for raw in raws]


def flags(dovecot: Dovecot, account: ImapAccount, uid: int) -> tuple[bytes, ...]:
    client = dovecot.client(account.username, account.password)
    try:
        client.select_folder("INBOX", readonly=True)
        return client.get_flags([uid])[uid]
    finally:
        client.logout()


def folders(dovecot: Dovecot, account: ImapAccount) -> tuple[set[str], set[str]]:
    """(all folders, subscribed folders) as the server names them."""
    client = dovecot.client(account.username, account.password)
    try:
        listed = {name for _, _, name in client.list_folders()}
        subscribed = {name for _, _, name in client.list_sub_folders()}
    finally:
        client.logout()
    return listed, subscribed


def later(seconds: float, action: Callable[[], object]) -> threading.Thread:
    """Run `action` on another thread after `seconds`, as another client would act."""
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


def test_plain_connect_creates_and_subscribes_folders(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource
) -> None:
    source = open_source()
    listed, subscribed = folders(dovecot, imap_account)
    # Dovecot's maildir layout uses "." between levels and refuses "/" in names.
    assert {"maild.processed", "maild.quarantine"} <= listed
    assert {"maild.processed", "maild.quarantine"} <= subscribed
    assert {"IDLE", "MOVE", "UIDPLUS"} <= source.capabilities()


def test_connect_returns_uidvalidity_stable_across_connections(open_source: OpenSource) -> None:
    first = open_source().connect()
    assert first > 0
    assert open_source().connect() == first


def test_starttls_with_the_test_ca(imap_account: ImapAccount, open_source: OpenSource) -> None:
    source = open_source(tls="starttls", port=imap_account.port)
    assert source.uids() == []


def test_implicit_tls_with_the_test_ca(imap_account: ImapAccount, open_source: OpenSource) -> None:
    source = open_source(tls="ssl", port=imap_account.tls_port)
    assert source.uids() == []


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_tls_without_the_ca_fails_verification(imap_account: ImapAccount, tls: str) -> None:
    port = imap_account.tls_port if tls == "ssl" else imap_account.port
    source = ImapSource(imap_account.imap_config(tls=tls, port=port, ca_file=None), max_bytes=1)
    with pytest.raises(ImapError, match="certificate"):
        source.connect()


def test_wrong_password_is_an_imap_error(imap_account: ImapAccount) -> None:
    config = imap_account.imap_config(password="not-the-password")
    with pytest.raises(ImapError, match=r"login as .*AUTHENTICATIONFAILED") as failure:
        ImapSource(config, max_bytes=1).connect()
    assert "not-the-password" not in str(failure.value)


def test_refused_connection_is_an_imap_error(imap_account: ImapAccount) -> None:
    config = imap_account.imap_config(port=1)
    with pytest.raises(ImapError, match="connect"):
        ImapSource(config, max_bytes=1).connect()


def test_calls_before_connect_are_imap_errors(imap_account: ImapAccount) -> None:
    with pytest.raises(ImapError, match="not connected"):
        ImapSource(imap_account.imap_config(), max_bytes=1).uids()


def test_fetch_returns_exact_bytes_and_leaves_mail_unseen(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource
) -> None:
    raws = [message(1), message(2)]
    uids = append_all(dovecot, imap_account, raws)
    source = open_source()
    assert source.uids() == uids
    expected = [FetchedMessage(uid, len(raw), raw) for uid, raw in zip(uids, raws, strict=True)]
    assert list(source.fetch(uids)) == [expected]
    assert all(b"\\Seen" not in flags(dovecot, imap_account, uid) for uid in uids)


def test_oversize_message_is_listed_but_not_downloaded(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource
) -> None:
    small, big = message(1), message(2, body="x" * 5000)
    uids = append_all(dovecot, imap_account, [small, big])
    [batch] = open_source(max_bytes=1000).fetch(uids)
    assert batch == [
        FetchedMessage(uids[0], len(small), small),
        FetchedMessage(uids[1], len(big), None),
    ]


def test_fetch_splits_into_batches_in_uid_order(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource
) -> None:
    raws = [message(n) for n in range(7)]
    uids = append_all(dovecot, imap_account, raws)
    batches = list(open_source(batch_size=3).fetch(list(reversed(uids))))
    assert [[m.uid for m in batch] for batch in batches] == [uids[:3], uids[3:6], uids[6:]]
    assert [m.raw for batch in batches for m in batch] == raws


def test_message_expunged_meanwhile_comes_back_empty(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource
) -> None:
    raw = message(1)
    [uid] = append_all(dovecot, imap_account, [raw])
    source = open_source()
    other = dovecot.client(imap_account.username, imap_account.password)
    other.select_folder("INBOX")
    other.delete_messages([uid])
    other.uid_expunge([uid])
    other.logout()
    # Dovecot still knows the size from its view of the folder, but the body is gone: the
    # response lacks BODY[] altogether (imapclient #334, #564).
    assert list(source.fetch([uid])) == [[FetchedMessage(uid, len(raw), None)]]


def test_move_to_processed_folder(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource
) -> None:
    raws = [message(1), message(2), message(3)]
    uids = append_all(dovecot, imap_account, raws)
    source = open_source()
    source.move(uids[:2], "maild/processed")
    assert source.uids() == uids[2:]
    user, password = imap_account.username, imap_account.password
    assert dovecot.folder_messages(user, password, "INBOX") == raws[2:]
    assert dovecot.folder_messages(user, password, "maild.processed") == raws[:2]


def test_move_without_move_capability_copies_and_expunges(old_dovecot: Dovecot) -> None:
    account = old_dovecot.new_account()
    raws = [message(1), message(2)]
    uids = append_all(old_dovecot, account, raws)
    source = ImapSource(account.imap_config(), max_bytes=1_000_000)
    source.connect()
    try:
        assert "MOVE" not in source.capabilities()
        source.move(uids[:1], "maild/quarantine")
        assert source.uids() == uids[1:]
    finally:
        source.close()
    client = old_dovecot.client(account.username, account.password)
    try:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1  # expunged, not hidden
    finally:
        client.logout()
    user, password = account.username, account.password
    assert old_dovecot.folder_messages(user, password, "maild.quarantine") == raws[:1]


def test_folder_names_follow_the_servers_namespace_prefix(prefixed_dovecot: Dovecot) -> None:
    account = prefixed_dovecot.new_account()
    raw = message(1)
    [uid] = append_all(prefixed_dovecot, account, [raw])
    source = ImapSource(account.imap_config(), max_bytes=1_000_000)
    source.connect()
    try:
        source.move([uid], "maild/processed")
    finally:
        source.close()
    listed, _ = folders(prefixed_dovecot, account)
    assert {"INBOX.maild.processed", "INBOX.maild.quarantine"} <= listed
    user, password = account.username, account.password
    assert prefixed_dovecot.folder_messages(user, password, "INBOX.maild.processed") == [raw]


def test_idle_reports_mail_appended_by_another_client(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource
) -> None:
    source = open_source()
    later(0.3, lambda: append_all(dovecot, imap_account, [message(1)]))
    started = time.monotonic()
    assert source.wait_for_mail(10, threading.Event()) is True
    assert time.monotonic() - started < 2.5
    assert len(source.uids()) == 1


def test_wait_sees_mail_announced_before_idle_began(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource
) -> None:
    """An EXISTS that came with another command's reply is not repeated by IDLE."""
    uids = append_all(dovecot, imap_account, [message(1)])
    source = open_source()
    assert source.uids() == uids
    append_all(dovecot, imap_account, [message(2)])
    list(source.fetch(uids))  # the reply carries "* 2 EXISTS"
    started = time.monotonic()
    assert source.wait_for_mail(10, threading.Event()) is True
    assert time.monotonic() - started < 0.5


def test_idle_ends_quietly_when_time_is_up(open_source: OpenSource) -> None:
    source = open_source()
    started = time.monotonic()
    assert source.wait_for_mail(0.4, threading.Event()) is False
    assert 0.35 < time.monotonic() - started < 1.5
    assert source.uids() == []  # IDLE was ended properly: the connection still works


@pytest.mark.parametrize("idle", [True, False])
def test_wait_returns_promptly_when_stopped(open_source: OpenSource, idle: bool) -> None:
    source = open_source(idle=idle)
    stop = threading.Event()
    later(0.2, stop.set)
    started = time.monotonic()
    assert source.wait_for_mail(30, stop) is False
    assert time.monotonic() - started < 1.6
    assert source.uids() == []


def test_without_idle_the_wait_is_a_poll_interval(old_dovecot: Dovecot) -> None:
    account = old_dovecot.new_account()
    source = ImapSource(account.imap_config(), max_bytes=1)
    source.connect()
    try:
        assert "IDLE" not in source.capabilities()
        started = time.monotonic()
        assert source.wait_for_mail(0.3, threading.Event()) is True
        assert time.monotonic() - started >= 0.3
    finally:
        source.close()


@pytest.mark.parametrize(
    ("how", "error"),
    [("kill_sessions", "lost during IDLE"), ("kick", "closed the session: Server shutting down")],
)
def test_connection_lost_during_idle_raises(
    dovecot: Dovecot, imap_account: ImapAccount, open_source: OpenSource, how: str, error: str
) -> None:
    """Killed: no BYE, imapclient #565's silent spin. Kicked: BYE first, as on shutdown."""
    source = open_source()
    later(0.3, lambda: getattr(dovecot, how)(imap_account.username))
    started = time.monotonic()
    with pytest.raises(ImapError, match=error):
        source.wait_for_mail(10, threading.Event())
    assert time.monotonic() - started < 2.5
    with pytest.raises(ImapError, match="not connected"):
        source.uids()
    source.connect()  # what the service loop does next, after its back-off
    assert source.uids() == []
