"""Three intake rules, through the real ingest path into a real store (and real servers):
a reused Message-ID is not a duplicate, a mail loop is recognised and stopped, and a stranger
naming someone else's ticket gets a ticket of their own."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from maild import loops, workflow
from maild.classify import Team
from maild.config import Config
from maild.ingest import Outcome, ingest_batch
from maild.intake.fingerprint import content_fingerprint
from maild.intake.parse_pool import ParserPool
from maild.notify.notices import draft_new_ticket
from maild.store import Store
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import SmtpCapture
from tests.test_end_to_end import Loop, customer_mail
from tests.test_sla_end_to_end import CST

ADMIN = "admin@maild.test"
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ROBOT_TEXT = "Thank you for your message of {when}. I am away until Monday and read no mail."


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config(admin={"address": ADMIN})


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store.open(config.store.path) as opened:
        yield opened


def take(store: Store, config: Config, *raws: bytes, now: datetime = T0) -> list[Outcome]:
    """The direct route: parse in-process and ingest as one committed batch."""
    parser = ParserPool(config.limits, workers=0)
    return ingest_batch(store, [(raw, "test") for raw in raws], parser=parser, config=config,
                        now=now)  # fmt: skip


def queued(store: Store, kind: str) -> list[list[str]]:
    """Recipients of each queued mail of one kind, in order."""
    mails = sorted(store.outgoing(), key=lambda m: m["created_at"])
    return [m["recipients"] for m in mails if m["kind"] == kind]


# --- a reused Message-ID -----------------------------------------------------------------------

WEB_FORM_ID = "<contact-form@shop.example>"


def test_a_different_mail_under_a_known_message_id_is_kept_with_an_id_of_its_own(
    store: Store, config: Config
) -> None:
    first = customer_mail(
        "ann@example.com", "Order 1", "Where is my parcel?", message_id=WEB_FORM_ID
    )
    second = customer_mail("bo@example.org", "Refund", "I want my money.", message_id=WEB_FORM_ID)
    take(store, config, first)
    [outcome] = take(store, config, second)
    assert outcome.result == "created" and outcome.message_id != WEB_FORM_ID
    assert outcome.message_id == f"<{content_fingerprint(second)[:16]}.contact-form@shop.example>"
    [kept] = [m for m in store.messages(outcome.ticket) if m["direction"] == "in"]
    assert kept["text"].strip() == "I want my money."
    assert any(WEB_FORM_ID in note and "already used" in note for note in kept["notes"])
    assert queued(store, "ack") == [["ann@example.com"], ["bo@example.org"]]

    reply = customer_mail("ann@example.com", "more", "It came today.", In_Reply_To=WEB_FORM_ID)
    [threaded] = take(store, config, reply)
    assert (threaded.result, threaded.ticket) == ("added", 1001)
    # The second mail delivered once more is a duplicate under its derived id.
    assert [o.result for o in take(store, config, second)] == ["duplicate"]


def test_a_redelivery_with_other_trace_headers_and_line_ends_is_a_duplicate(
    store: Store, config: Config
) -> None:
    mail = customer_mail(
        "ann@example.com", "Order 1", "Where is my parcel?", message_id=WEB_FORM_ID
    )
    take(store, config, mail)
    trace = (
        b"Return-Path: <ann@example.com>\r\nDelivered-To: support@maild.test\r\n"
        b"X-Original-To: help@maild.test\r\n"
        b"Received: from mx2.example.com by mx.maild.test;\r\n\tMon, 23 Nov 2026 10:05:00 +0800\r\n"
    )
    again = trace + mail.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert content_fingerprint(again) == content_fingerprint(mail)
    assert [o.result for o in take(store, config, again)] == ["duplicate"]
    assert len(store.tickets()) == 1 and len(queued(store, "ack")) == 1


def test_mail_without_a_message_id_redelivered_by_the_mta_is_a_duplicate(
    store: Store, config: Config
) -> None:
    mail = b"From: ann@example.com\r\nTo: support@maild.test\r\nSubject: No id\r\n\r\nHelp!\r\n"
    other = mail.replace(b"Help!", b"Help again!")
    again = b"Received: from mx2 by mx.maild.test; Mon, 23 Nov 2026 10:05:00 +0800\r\n" + mail
    results = [o.result for o in take(store, config, mail, again, other)]
    assert results == ["created", "duplicate", "created"]


def test_fingerprint_covers_sender_recipients_subject_date_and_body_only() -> None:
    mail = customer_mail("a@example.com", "Subject", "Body", Date="Mon, 23 Nov 2026 10:00 +0800")
    folded = mail.replace(b"Subject: Subject", b"Subject:\r\n  Subject")
    assert content_fingerprint(folded) == content_fingerprint(mail)
    for changed in (
        mail.replace(b"a@example.com", b"b@example.com"),
        mail.replace(b"Subject: Subject", b"Subject: Other"),
        mail.replace(b"10:00", b"10:01"),
        mail.replace(b"Body", b"Bod"),
        mail.replace(b"To: support@maild.test", b"To: sales@maild.test"),
    ):
        assert content_fingerprint(changed) != content_fingerprint(mail)
    assert content_fingerprint(b"no header block at all") != content_fingerprint(b"")


def test_a_message_id_stored_before_fingerprints_were_kept_is_a_duplicate_as_before(
    store: Store, config: Config
) -> None:
    store.add_message(  # as an older maild wrote it: no fingerprint
        {
            "message_id": WEB_FORM_ID,
            "ticket": None,
            "direction": "in",
            "kind": "customer",
            "from": "ann@example.com",
            "to": ["support@maild.test"],
            "cc": [],
            "text": "first",
        }
    )
    store.commit()
    store.rollback()  # read back from disk
    assert store.has_message(WEB_FORM_ID) and store.fingerprint_of_message(WEB_FORM_ID) is None
    other = customer_mail("bo@example.org", "y", "second", message_id=WEB_FORM_ID)
    assert [o.result for o in take(store, config, other)] == ["duplicate"]


def test_two_web_form_mails_through_imap_make_two_tickets_and_two_acks(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    loop = Loop(dovecot, imap_account, config_file(account=imap_account, outgoing=smtp_server))
    ann = customer_mail("ann@example.com", "Order 1", "Where is my parcel?", message_id=WEB_FORM_ID)
    bo = customer_mail("bo@example.org", "Refund", "I want my money.", message_id=WEB_FORM_ID)
    loop.deliver(ann)
    loop.deliver(bo)
    assert "taken in: 2; sent: 2" in loop.once(capsys)
    assert sorted(t["customer"] for t in loop.tickets(capsys)) == [
        "ann@example.com",
        "bo@example.org",
    ]
    loop.deliver(bo)  # a true redelivery
    loop.once(capsys)
    assert len(loop.tickets(capsys)) == 2 and len(smtp_server.wait_for(2)) == 2
    assert loop.folder("INBOX") == []


# --- mail loops: the pure rules ----------------------------------------------------------------


def test_body_print_ignores_what_changes_between_a_robots_answers() -> None:
    one = loops.body_print("Thanks for [#MD-1001] of 2026-11-23 10:00.\n> quoted\nBye")
    two = loops.body_print("THANKS  for [#MD-1002]\nof 2026-11-23 10:10.\n\nbye\n> other quote")
    assert one == two != ""
    assert loops.body_print("Thanks for your mail. Bye") != one
    assert loops.body_print("> only a quote\n 12 34 \n[#MD-1]") == ""


def test_a_loop_takes_threshold_unanswered_alike_tickets_within_the_window() -> None:
    window = timedelta(hours=1)
    history = loops.History()
    for minute, number in ((0, 1), (10, 2), (20, 3)):
        history = loops.after_opening(
            history, number, "x", T0 + timedelta(minutes=minute), window, loop=False
        )
    now = T0 + timedelta(minutes=30)
    alike = loops.unanswered_alike(history, "x", now, window, answered=lambda n: False)
    assert alike == [1, 2, 3] and loops.starts_loop(alike, 4)
    assert not loops.starts_loop(
        loops.unanswered_alike(history, "x", now, window, {2}.__contains__), 4
    )
    assert loops.unanswered_alike(history, "y", now, window, lambda n: False) == []
    assert loops.unanswered_alike(history, "", now, window, lambda n: False) == []
    late = T0 + timedelta(minutes=65)
    assert loops.unanswered_alike(history, "x", late, window, lambda n: False) == [2, 3]

    history = loops.after_opening(history, 4, "x", now, window, loop=True)
    assert loops.History.from_state(history.to_state()) == history
    assert loops.ongoing(history, "x", now + timedelta(minutes=59), window) is not None
    assert loops.ongoing(history, "y", now, window) is None
    history = loops.after_loop_mail(history, now + timedelta(minutes=59))
    loop = loops.ongoing(history, "x", now + timedelta(minutes=118), window)
    assert loop is not None and loop.ticket == 4
    assert loops.ongoing(history, "x", now + timedelta(minutes=119), window) is None


def test_a_senders_history_stays_short() -> None:
    window = timedelta(hours=1)
    history = loops.History()
    for n in range(loops.MAX_REMEMBERED + 20):
        history = loops.after_opening(history, n, str(n), T0, window, loop=False)
    assert len(history.opened) == loops.MAX_REMEMBERED
    later = loops.after_opening(history, 999, "z", T0 + window, window, loop=False)
    assert [o.ticket for o in later.opened] == [999]


# --- mail loops: through ingest ----------------------------------------------------------------


def robot_mail(n: int, sender: str = "robot@auto.example") -> bytes:
    """A naive autoresponder's answer: no threading, no Auto-Submitted, the same words."""
    when = f"2026-11-23 10:{n:02d}"
    return customer_mail(
        sender, f"Re: We have received your request {n}", ROBOT_TEXT.format(when=when)
    )


def test_an_autoresponder_loop_stops_after_the_threshold_and_the_admin_hears_once(
    store: Store, config: Config
) -> None:
    outcomes = [
        take(store, config, robot_mail(n), now=T0 + timedelta(minutes=5 * n))[0] for n in range(7)
    ]
    assert [o.result for o in outcomes] == ["created"] * 4 + ["looping"] * 3
    assert {o.ticket for o in outcomes[3:]} == {1004}
    assert len(queued(store, "ack")) == 3  # the fourth ticket is not acknowledged
    assert queued(store, "loop") == [[ADMIN]]
    kept = [m for m in store.messages(1004) if m["direction"] == "in"]
    assert [m["kind"] for m in kept] == ["customer", "automatic", "automatic", "automatic"]
    assert all(m["automatic"].startswith("mail loop:") for m in kept[1:])
    for number in (1001, 1002, 1003, 1004):
        ticket = store.ticket(number)
        assert ticket is not None and ticket["updates"] is False
        assert any(e["action"] == "mail_loop" for e in ticket["events"])
    [admin] = [m for m in store.outgoing() if m["kind"] == "loop"]
    assert "robot@auto.example" in admin["draft"]["subject"]
    assert "MD-1004" in admin["draft"]["body"]

    # A restart in the middle of the loop neither forgets it nor tells the admin again.
    store.close()
    with Store.open(config.store.path) as reopened:
        [later] = take(reopened, config, robot_mail(40), now=T0 + timedelta(minutes=40))
        assert later.result == "looping"
        assert queued(reopened, "loop") == [[ADMIN]]
        # Quiet for a whole window: the loop is over, and a new one is a new loop.
        start = T0 + timedelta(minutes=100)
        again = [
            take(reopened, config, robot_mail(n), now=start + timedelta(minutes=n))[0].result
            for n in range(5)
        ]
        assert again == ["created"] * 4 + ["looping"]
        assert queued(reopened, "loop") == [[ADMIN], [ADMIN]]


def test_a_person_writing_different_mails_is_never_a_loop(store: Store, config: Config) -> None:
    texts = ["My printer is broken.", "Also the scanner.", "And the fax!", "Coffee machine too.",
             "Sorry, one more: the lift."]  # fmt: skip
    for n, text in enumerate(texts):
        take(store, config, customer_mail("kim@example.com", f"issue {n}", text),
             now=T0 + timedelta(minutes=n))  # fmt: skip
    assert len(store.tickets()) == 5 and len(queued(store, "ack")) == 5
    assert queued(store, "loop") == [] and store.state("loop:kim@example.com")["loop"] is None


def test_tickets_an_agent_answered_do_not_count_towards_a_loop(
    make_config: Callable[..., Config],
) -> None:
    config = make_config(
        admin={"address": ADMIN},
        agents={"alice": {"address": "alice@staff.example", "name": "Alice Wang"}},
        security={"trust_agent_mail": "always"},
    )
    with Store.open(config.store.path) as store:
        for n in range(3):
            take(store, config, robot_mail(n, "same@example.com"), now=T0 + timedelta(minutes=n))
        agent = config.agent("alice")
        ticket = store.ticket(1002)
        assert agent is not None and ticket is not None
        workflow.reply(store, config, ticket, agent, "Which order do you mean?", T0)
        store.commit()
        [fourth] = take(store, config, robot_mail(9, "same@example.com"),
                        now=T0 + timedelta(minutes=9))  # fmt: skip
        assert fourth.result == "created" and len(queued(store, "ack")) == 4
        assert queued(store, "loop") == []


def test_an_autoresponder_against_real_servers_gets_three_acks_and_the_admin_one_mail(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The robot answers every acknowledgement it gets with a fresh mail; maild runs every five
    minutes. Without loop detection this went on for ever within the hourly cap."""
    config = config_file(account=imap_account, outgoing=smtp_server, admin={"address": ADMIN})
    loop = Loop(dovecot, imap_account, config)
    loop.deliver(robot_mail(0))
    for step in range(1, 10):
        seen = len(smtp_server.messages)
        code, out = loop.maild("once", "--now", f"2026-11-23T10:{5 * step:02d}:00{CST}",
                               capsys=capsys)  # fmt: skip
        assert code == 0, out
        for captured in smtp_server.messages[seen:]:
            if captured.rcpt_tos == ["robot@auto.example"]:
                loop.deliver(robot_mail(step))
    recipients = [c.rcpt_tos for c in smtp_server.messages]
    assert recipients == [["robot@auto.example"]] * 3 + [[ADMIN]]
    assert "Mail loop" in _parsed(smtp_server.messages[-1].raw)["Subject"]
    assert len(loop.tickets(capsys)) == 4
    # The robot tries again regardless: kept, unanswered.
    loop.deliver(robot_mail(50))
    assert "sent: 0" in loop.maild("once", "--now", f"2026-11-23T10:55:00{CST}", capsys=capsys)[1]
    shown = loop.show("MD-1004", capsys)
    assert [m["kind"] for m in shown["messages"] if m["direction"] == "in"][-1] == "automatic"
    assert loop.folder("INBOX") == [] and len(smtp_server.messages) == 4


# --- strangers naming someone else's ticket ----------------------------------------------------


def open_first_ticket(store: Store, config: Config, **headers: str) -> None:
    first = customer_mail("wang@example.cn", "发票问题", "请问发票什么时候能开出来？", **headers)
    assert take(store, config, first)[0].ticket == 1001


def test_a_stranger_naming_a_ticket_gets_a_linked_ticket_of_their_own(
    store: Store, config: Config
) -> None:
    open_first_ticket(store, config)
    mail = customer_mail("eve@evil.example", "Re: [#MD-1001] 发票问题", "Send it to me instead.")
    [outcome] = take(store, config, mail, now=T0 + timedelta(minutes=5))
    assert (outcome.result, outcome.ticket) == ("created", 1002)
    new, old = store.ticket(1002), store.ticket(1001)
    assert new is not None and old is not None
    assert new["linked_to"] == 1001 and new["customer"] == "eve@evil.example"
    assert new["events"][0]["detail"]["linked_to"] == 1001
    [linked] = [e for e in old["events"] if e["action"] == "linked"]
    assert linked["detail"]["ticket"] == "MD-1002"
    assert linked["detail"]["sender"] == "eve@evil.example"
    assert old["message_count"] == 1
    assert not any("instead" in m["text"] for m in store.messages(1001))
    assert queued(store, "ack") == [["wang@example.cn"], ["eve@evil.example"]]
    team, policy = Team("support", ("team@maild.test",)), config.policy_for("general", "general")
    notice = draft_new_ticket(config, new, team, policy, text="", first_response_due=T0, now=T0)
    assert "Linked to:       MD-1001: the sender wrote its token but is not its customer" in (
        notice.body
    )


def test_a_colleague_in_cc_joins_but_one_at_the_same_domain_does_not(
    store: Store, config: Config
) -> None:
    open_first_ticket(store, config, Cc="li@example.cn")
    subject = "Re: [#MD-1001] 发票问题"
    [li] = take(store, config, customer_mail("LI@example.cn", subject, "我也在等发票"))
    [zhao] = take(store, config, customer_mail("zhao@example.cn", subject, "还有我的"))
    assert (li.result, li.ticket) == ("added", 1001)
    assert (zhao.result, zhao.ticket) == ("created", 1002)
    # Someone who joined by a Message-ID (only a recipient knows one) is a party from then on.
    [chen] = take(store, config, customer_mail("chen@example.cn", "fwd", "转给我了",
                                               In_Reply_To=first_id(store)))  # fmt: skip
    [chen_again] = take(store, config, customer_mail("chen@example.cn", subject, "再问一次"))
    assert (chen.ticket, chen_again.ticket) == (1001, 1001)


def first_id(store: Store) -> str:
    ticket = store.ticket(1001)
    assert ticket is not None
    return str(ticket["first_message_id"])


def test_automatic_mail_from_a_stranger_naming_a_ticket_joins_nothing(
    store: Store, config: Config
) -> None:
    open_first_ticket(store, config)
    robot = customer_mail("eve@evil.example", "Re: [#MD-1001] x", "injected",
                          Auto_Submitted="auto-replied")  # fmt: skip
    [outcome] = take(store, config, robot)
    assert (outcome.result, outcome.ticket) == ("filtered", None)
    assert not any("injected" in m["text"] for m in store.messages(1001))


def test_a_stranger_through_imap_gets_an_ack_and_the_customer_hears_nothing(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    loop = Loop(dovecot, imap_account, config_file(account=imap_account, outgoing=smtp_server))
    loop.deliver(customer_mail("wang@example.cn", "发票问题", "请问发票什么时候能开出来？"))
    loop.once(capsys)
    loop.deliver(customer_mail("eve@evil.example", "Re: [#MD-1001] 发票问题", "Send it to me."))
    loop.once(capsys)
    acks = [_parsed(c.raw) for c in smtp_server.wait_for(2)]
    assert [a["To"] for a in acks] == ["wang@example.cn", "eve@evil.example"]
    assert "[#MD-1002]" in acks[1]["Subject"]
    old = loop.show("MD-1001", capsys)
    assert [m["from"] for m in old["messages"] if m["direction"] == "in"] == ["wang@example.cn"]
    assert loop.show("MD-1002", capsys)["linked_to"] == 1001


def _parsed(raw: bytes) -> Any:
    return email.message_from_bytes(raw, policy=email.policy.default)
