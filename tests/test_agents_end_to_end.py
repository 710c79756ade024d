"""Working tickets by email, end to end: customers and agents write through Dovecot, maild runs
`once --now T`, aiosmtpd captures every mail. Hostile paths included: a customer's '#close', a
forged agent address, a two-year-old ticket, a survey answered twice."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import SmtpCapture
from tests.test_end_to_end import customer_mail
from tests.test_sla_end_to_end import CST, SLA_TOML, Clockwork, start_clockwork

AGENTS_TOML = """
[agents.alice]
address = "alice@staff.example"
name = "Alice Wang"
team = "support"

[agents.bob]
address = "bob@staff.example"
name = "Bob Li"
team = "support"

[security]
trust_agent_mail = "authenticated"
authserv_id = "mx.maild.test"
"""

PASS = "mx.maild.test; dkim=pass header.d=staff.example; spf=pass smtp.mailfrom=staff.example"
T0 = f"2026-11-23T10:00:00{CST}"


def at(hour: str) -> str:
    """A moment on Monday 2026-11-23 in Shanghai, e.g. at("10:30")."""
    return f"2026-11-23T{hour}:00{CST}"


def agent_mail(sender: str, subject: str, body: str, **headers: str) -> bytes:
    return customer_mail(sender, subject, body, **headers)


@pytest.fixture
def desk(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> Clockwork:
    return start_clockwork(
        dovecot, imap_account, smtp_server, config_file, capsys, SLA_TOML, AGENTS_TOML
    )


def open_ticket(desk: Clockwork, sender: str = "王伟 <wang@example.cn>") -> None:
    desk.loop.deliver(customer_mail(sender, "发票问题", "请问发票什么时候能开出来？"))
    kinds = desk.kinds(T0)
    assert ("ack", sender.split("<")[-1].rstrip(">")) in kinds


def only(mails: list, kind: str):
    [found] = [m for k, _, m in mails if k == kind]
    return found


def test_agent_reply_is_relayed_trimmed_and_stops_the_first_response_clock(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "Alice Wang <alice@staff.example>",
            "RE: [#MD-1001] New general ticket: 发票问题",
            "您好，发票已在开具中，明天寄出。\n\n-- \nAlice Wang\nSupport team\n\n"
            "-----Original Message-----\nFrom: Test Support\n> 请问发票什么时候能开出来？\n",
            Authentication_Results=PASS,
        )
    )
    [(kind, to, relay)] = desk.at(at("10:30"))
    assert (kind, to) == ("reply", "wang@example.cn")
    assert relay["From"].addresses[0].addr_spec == "support@maild.test"
    assert "Alice Wang" in relay["From"].addresses[0].display_name
    assert relay["Auto-Submitted"] == "no"
    assert relay["In-Reply-To"] and "[#MD-1001]" in relay["Subject"]
    text = relay.get_body().get_content()
    assert "发票已在开具中，明天寄出。" in text
    assert "Original Message" not in text and "Support team" not in text

    shown = desk.show("MD-1001", at("10:31"))
    assert (shown["status"], shown["assignee"]) == ("open", "alice")
    first = shown["sla"]["clocks"][0]
    assert (first["commitment"], first["state"]) == ("first_response", "met")
    assert any(e["action"] == "agent_reply" for e in shown["events"])
    # The first-response clock stopped: no warning at 6 working hours (16:00) any more.
    assert [k for k, _ in desk.kinds(at("16:30"))] == []


def test_agent_commands_in_english_and_chinese_with_receipt_and_internal_note(
    desk: Clockwork,
) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "bob@staff.example",
            "Re: [#MD-1001] New general ticket",
            "#优先级 紧急\n#指派 alice\n#frobnicate\n#comment the customer is a reseller\n"
            "do not tell them about the discount\n",
            Authentication_Results=PASS,
        )
    )
    mails = desk.at(at("10:30"))
    assert [(k, to) for k, to, _ in mails if k != "page"] == [("receipt", "bob@staff.example")]
    receipt = only(mails, "receipt").get_content()
    assert "✓ assigned to alice" in receipt and "✗ unknown command '#frobnicate'" in receipt
    assert "#指派" in receipt  # the list of commands
    assert "Not all done" in only(mails, "receipt")["Subject"]
    shown = desk.show("MD-1001", at("10:31"))
    assert (shown["priority"], shown["assignee"]) == ("urgent", "alice")
    [note] = [e for e in shown["events"] if e["action"] == "comment"]
    assert "reseller" in note["detail"]["text"] and "discount" in note["detail"]["text"]
    # Now urgent (2 h from 10:00) and Alice's: the warning at 11:30 goes to her, not the team.
    assert ("warning", "alice@staff.example") in desk.kinds(at("11:31"))
    for captured in desk.smtp.messages:
        if captured.rcpt_tos == ["wang@example.cn"]:
            assert b"discount" not in captured.raw and b"reseller" not in captured.raw


def test_resolve_confirm_close_survey_and_a_survey_answered_twice(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example",
            "Re: [#MD-1001] New general ticket",
            "#解决\n发票已经寄出，快递单号 SF123。",
            Authentication_Results=PASS,
        )
    )
    mails = desk.at(at("11:00"))
    resolution = only(mails, "resolution")
    text = resolution.get_body().get_content()
    assert "SF123" in text and "解决了" in text and "http" not in text  # confirm by reply only
    assert only(mails, "receipt")  # the agent's receipt

    desk.loop.deliver(
        customer_mail(
            "wang@example.cn",
            f"回复：{resolution['Subject']}",
            "解决了，谢谢！",
            In_Reply_To=resolution["Message-ID"],
        )
    )
    mails = desk.at(at("12:00"))
    assert sorted(k for k, _, _ in mails) == ["closed", "survey"]
    survey = only(mails, "survey")
    shown = desk.show("MD-1001", at("12:01"))
    assert (shown["status"], shown["confirmed"]) == ("closed", True)

    for answer, hour in (("5 很满意，速度很快", "13:00"), ("1", "14:00")):
        desk.loop.deliver(
            customer_mail(
                "wang@example.cn",
                f"Re: {survey['Subject']}",
                answer,
                In_Reply_To=survey["Message-ID"],
            )
        )
        assert desk.kinds(at(hour)) == []  # no reopen, no review for the second answer
    shown = desk.show("MD-1001", at("14:01"))
    assert (shown["status"], shown["satisfaction"]) == ("closed", 5)
    assert [e["action"] for e in shown["events"]].count("survey_repeated") == 1


def test_not_confirmed_reopens_and_silence_closes_after_five_days(desk: Clockwork) -> None:
    open_ticket(desk)
    resolve = "#resolve\nPlease try again now."
    desk.loop.deliver(
        agent_mail("alice@staff.example", "Re: [#MD-1001] x", resolve, Authentication_Results=PASS)
    )
    resolution = only(desk.at(at("11:00")), "resolution")
    desk.loop.deliver(
        customer_mail(
            "wang@example.cn",
            f"Re: {resolution['Subject']}",
            "还是不行，报错依旧。",
            In_Reply_To=resolution["Message-ID"],
        )
    )
    desk.at(at("11:30"))
    assert desk.show("MD-1001", at("11:31"))["status"] == "open"

    desk.loop.deliver(
        agent_mail("alice@staff.example", "Re: [#MD-1001] x", resolve, Authentication_Results=PASS)
    )
    desk.at(at("12:00"))
    assert desk.kinds(f"2026-11-28T11:59:00{CST}") == []  # not yet five days
    mails = desk.at(f"2026-11-28T12:01:00{CST}")
    assert sorted(k for k, _, _ in mails) == ["closed", "survey"]
    assert "一直未收到您的回复" in only(mails, "closed").get_body().get_content()
    shown = desk.show("MD-1001", f"2026-11-28T12:02:00{CST}")
    assert (shown["status"], shown["confirmed"]) == ("closed", False)


def test_low_score_opens_a_review_with_the_team_lead(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example",
            "Re: [#MD-1001] x",
            "#close\nThe invoice was sent today; I am closing this.",
            Authentication_Results=PASS,
        )
    )
    mails = desk.at(at("11:00"))
    # The words first, then the closing note (worded for an agent's close) and the survey.
    assert [k for k, _, _ in mails] == ["reply", "closed", "survey", "receipt"]
    closed = only(mails, "closed").get_body().get_content()
    assert "已关闭" in closed and "一直未收到" not in closed and "感谢您的确认" not in closed
    survey = only(mails, "survey")
    desk.loop.deliver(
        customer_mail(
            "wang@example.cn",
            f"Re: {survey['Subject']}",
            "2 太慢了，等了一整天",
            In_Reply_To=survey["Message-ID"],
        )
    )
    mails = desk.at(at("12:00"))
    assert [(k, to) for k, to, _ in mails] == [("review", "lead@maild.test")]
    assert "太慢了" in only(mails, "review").get_content()
    shown = desk.show("MD-1001", at("12:01"))
    assert shown["satisfaction"] == 2


def test_status_by_email_lists_only_the_senders_open_tickets(desk: Clockwork) -> None:
    desk.loop.deliver(customer_mail("wang@example.cn", "发票问题", "发票什么时候开？"))
    desk.loop.deliver(customer_mail("wang@example.cn", "无法登录", "登录报错"))
    desk.loop.deliver(customer_mail("alice@other.example", "Refund", "Where is my refund?"))
    desk.at(T0)
    desk.loop.deliver(customer_mail("wang@example.cn", "状态", ""))
    mails = desk.at(at("10:05"))
    [(kind, to, status)] = mails
    assert (kind, to) == ("status", "wang@example.cn")
    text = status.get_body().get_content()
    assert "MD-1001" in text and "MD-1002" in text and "MD-1003" not in text
    assert "首次答复" in text  # the next promised time
    assert len(desk.loop.tickets(desk.capsys)) == 3  # no ticket for the question


def test_a_customers_hash_close_is_just_text(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        customer_mail("wang@example.cn", "Re: [#MD-1001] 发票问题", "#close\n#priority urgent")
    )
    assert desk.kinds(at("10:30")) == []
    shown = desk.show("MD-1001", at("10:31"))
    assert (shown["status"], shown["priority"]) == ("new", "general")


@pytest.mark.parametrize(
    "results",
    [
        None,  # no Authentication-Results at all
        "mx.attacker.example; dkim=pass header.d=staff.example",  # someone else's verdict
        "mx.maild.test; dkim=fail header.d=staff.example; spf=softfail smtp.mailfrom=staff.example",
    ],
)
def test_a_forged_agent_address_is_a_customer_message_and_the_agent_is_told(
    desk: Clockwork, results: str | None
) -> None:
    open_ticket(desk)
    headers = {"Authentication_Results": results} if results else {}
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example", "Re: [#MD-1001] x", "#close\nWe refund you 1000 yuan.", **headers
        )
    )
    mails = desk.at(at("10:30"))
    assert [(k, to) for k, to, _ in mails] == [("untrusted", "alice@staff.example")]
    shown = desk.show("MD-1001", at("10:31"))
    assert shown["status"] == "new" and shown["assignee"] is None
    assert [m["kind"] for m in shown["messages"] if m["direction"] == "in"][-1] == "customer"


def test_reopen_within_thirty_days_and_a_new_linked_ticket_after(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail("alice@staff.example", "Re: [#MD-1001] x", "#close", Authentication_Results=PASS)
    )
    desk.at(at("11:00"))
    desk.loop.deliver(customer_mail("wang@example.cn", "Re: [#MD-1001] 发票问题", "又出问题了"))
    desk.at(f"2026-12-10T10:00:00{CST}")
    assert desk.show("MD-1001", f"2026-12-10T10:01:00{CST}")["status"] == "open"

    desk.loop.deliver(
        agent_mail("alice@staff.example", "Re: [#MD-1001] x", "#close", Authentication_Results=PASS)
    )
    desk.at(f"2026-12-10T11:00:00{CST}")
    # Archived after 90 days: gone from the list, still found by search.
    desk.at(f"2027-03-11T11:00:00{CST}")
    assert desk.loop.tickets(desk.capsys) == []
    code, out = desk.loop.maild("tickets", "search", "发票", "--json", capsys=desk.capsys)
    assert code == 0 and [t["id"] for t in json.loads(out)] == ["MD-1001"]
    # Two years on, a reply opens a new ticket linked to the old one.
    desk.loop.deliver(customer_mail("wang@example.cn", "Re: [#MD-1001] 发票问题", "还是发票的事"))
    kinds = desk.kinds(f"2028-12-10T10:00:00{CST}")
    assert ("ack", "wang@example.cn") in kinds
    shown = desk.show("MD-1002", f"2028-12-10T10:01:00{CST}")
    assert shown["linked_to"] == 1001
    old = desk.show("MD-1001", f"2028-12-10T10:01:00{CST}")
    assert old["status"] == "closed"


def test_cli_reply_assign_resolve_search_and_export(desk: Clockwork, tmp_path: Path) -> None:
    open_ticket(desk)
    reply = tmp_path / "reply.txt"
    reply.write_text("您好，我们正在处理。", encoding="utf-8")
    now = ("--now", at("10:10"))
    for args in (
        ("reply", "MD-1001", "--as", "bob", "--file", str(reply), *now),
        ("assign", "MD-1001", "alice", *now),
        ("comment", "MD-1001", "called the customer", *now),
        ("resolve", "MD-1001", "--note", "已开具发票", *now),
    ):
        code, out = desk.loop.maild("tickets", *args, capsys=desk.capsys)
        assert code == 0, out
    mails = desk.at(at("10:11"))
    assert sorted(k for k, _, _ in mails) == ["reply", "resolution"]
    shown = desk.show("MD-1001", at("10:12"))
    assert (shown["assignee"], shown["status"]) == ("alice", "resolved")
    actors = {e["action"]: e["actor"] for e in shown["events"]}
    assert actors["comment"].startswith("cli:") and actors["agent_reply"] == "bob@staff.example"

    code, out = desk.loop.maild("tickets", "search", "發票", capsys=desk.capsys)  # Traditional
    assert code == 0 and "MD-1001" in out
    code, out = desk.loop.maild("tickets", "export", "--format", "csv", capsys=desk.capsys)
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert (row["id"], row["assignee"], row["status"]) == ("MD-1001", "alice", "resolved")
    code, out = desk.loop.maild("tickets", "export", capsys=desk.capsys)
    assert json.loads(out.splitlines()[0])["customer"] == "wang@example.cn"
    for since, count in (("2026-11-23", 1), ("2026-11-24", 0)):
        code, out = desk.loop.maild("tickets", "export", "--since", since, capsys=desk.capsys)
        assert code == 0 and len(out.splitlines()) == count


def test_waiting_on_the_customer_pauses_until_they_answer(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example",
            "Re: [#MD-1001] x",
            "#status pending\nCould you send us the order number?",
            Authentication_Results=PASS,
        )
    )
    mails = desk.at(at("10:30"))
    assert sorted(k for k, _, _ in mails) == ["receipt", "reply"]
    relay = only(mails, "reply")
    assert "order number" in relay.get_body().get_content()
    shown = desk.show("MD-1001", at("10:31"))
    assert shown["status"] == "pending"
    assert [c["state"] for c in shown["sla"]["clocks"]] == ["met", "paused"]
    # Days pass without updates or escalations while we wait on the customer.
    assert desk.kinds(f"2026-11-27T10:00:00{CST}") == []
    desk.loop.deliver(
        customer_mail(
            "wang@example.cn",
            f"Re: {relay['Subject']}",
            "订单号 8848",
            In_Reply_To=relay["Message-ID"],
        )
    )
    desk.at(f"2026-11-27T10:05:00{CST}")
    shown = desk.show("MD-1001", f"2026-11-27T10:06:00{CST}")
    assert shown["status"] == "open"
    assert [c["state"] for c in shown["sla"]["clocks"]] == ["met", "running"]


def test_merge_sends_later_mail_to_the_surviving_ticket(desk: Clockwork) -> None:
    desk.loop.deliver(customer_mail("wang@example.cn", "发票问题", "发票什么时候开？"))
    desk.loop.deliver(customer_mail("wang@example.cn", "发票", "再问一下发票"))
    desk.at(T0)
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example", "Re: [#MD-1002] x", "#merge MD-1001", Authentication_Results=PASS
        )
    )
    assert [k for k, _ in desk.kinds(at("10:30"))] == ["receipt"]  # no mail to the customer
    desk.loop.deliver(customer_mail("wang@example.cn", "Re: [#MD-1002] 发票", "还有吗？"))
    desk.at(at("11:00"))
    merged = desk.show("MD-1002", at("11:01"))
    surviving = desk.show("MD-1001", at("11:01"))
    assert merged["status"] == "closed"
    assert not any("还有吗" in m["text"] for m in merged["messages"])
    assert any("还有吗" in m["text"] for m in surviving["messages"])
    assert any(e["action"] == "merged" for e in surviving["events"])


def test_an_agents_attachment_reaches_the_customer_but_not_the_signature_logo(
    desk: Clockwork,
) -> None:
    open_ticket(desk)
    reply = EmailMessage()
    reply["From"] = "Alice Wang <alice@staff.example>"
    reply["To"] = "support@maild.test"
    reply["Subject"] = "Re: [#MD-1001] New general ticket"
    reply["Message-ID"] = make_msgid(domain="staff.example")
    reply["Authentication-Results"] = PASS
    reply.set_content("发票见附件。")
    reply.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="发票-8848.pdf"
    )
    reply.add_attachment(
        b"\x89PNG logo",
        maintype="image",
        subtype="png",
        filename="image001.png",
        disposition="inline",
        cid="<logo@x>",
    )
    desk.loop.deliver(reply.as_bytes())
    [(kind, _, relay)] = desk.at(at("10:30"))
    assert kind == "reply"
    files = [(p.get_filename(), p.get_content()) for p in relay.iter_attachments()]
    assert files == [("发票-8848.pdf", b"%PDF-1.4 invoice")]
    assert "发票见附件" in relay.get_body(preferencelist=("plain",)).get_content()


def test_only_the_customer_confirms_and_a_forged_yes_changes_nothing(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example",
            "Re: [#MD-1001] x",
            "#resolve\nDone.",
            Authentication_Results=PASS,
        )
    )
    desk.at(at("11:00"))
    for sender in ("alice@staff.example", "stranger@example.org"):  # forged agent, a stranger
        desk.loop.deliver(customer_mail(sender, "Re: [#MD-1001] 发票问题", "yes"))
    kinds = desk.kinds(at("11:30"))
    assert ("untrusted", "alice@staff.example") in kinds and (
        "closed",
        "wang@example.cn",
    ) not in kinds
    assert desk.show("MD-1001", at("11:31"))["status"] == "resolved"


def test_resolve_summary_and_text_both_reach_the_customer(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example",
            "Re: [#MD-1001] x",
            "#resolve sent by courier\nDear Wang, tracking number SF123456.",
            Authentication_Results=PASS,
        )
    )
    mails = desk.at(at("11:00"))
    assert sorted(k for k, _, _ in mails) == ["receipt", "resolution"]  # one mail to Wang
    text = only(mails, "resolution").get_body().get_content()
    assert "sent by courier" in text and "SF123456" in text


def test_closed_tickets_a_thank_you_and_a_new_mail_starting_with_a_number(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example",
            "Re: [#MD-1001] x",
            "#close\nClosing.",
            Authentication_Results=PASS,
        )
    )
    desk.at(at("11:00"))
    desk.loop.deliver(customer_mail("wang@example.cn", "Re: [#MD-1001] 发票问题", "谢谢！"))
    desk.at(at("11:30"))
    assert desk.show("MD-1001", at("11:31"))["status"] == "closed"  # politeness, not a problem
    # Not a reply to the survey: "1 more thing" is a problem report, not a score of 1.
    desk.loop.deliver(
        customer_mail(
            "wang@example.cn", "Re: [#MD-1001] 发票问题", "1 more thing: the invoice title is wrong"
        )
    )
    desk.at(at("12:00"))
    shown = desk.show("MD-1001", at("12:01"))
    assert (shown["status"], shown["satisfaction"]) == ("open", None)


def test_an_agent_mail_without_a_ticket_opens_nothing(desk: Clockwork) -> None:
    desk.loop.deliver(
        agent_mail("alice@staff.example", "Quick question", "#take", Authentication_Results=PASS)
    )
    [(kind, to, mail)] = desk.at(T0)
    assert (kind, to) == ("lost", "alice@staff.example")
    assert "names no ticket" in mail.get_content()
    assert desk.loop.tickets(desk.capsys) == []


def test_a_status_subject_over_a_real_report_opens_a_ticket(desk: Clockwork) -> None:
    desk.loop.deliver(
        customer_mail(
            "shop@example.com",
            "Status",
            "Your status page has shown HTTP 500 since 9am and our shop is down.\nPlease help!",
        )
    )
    assert ("ack", "shop@example.com") in desk.kinds(T0)


def test_reopening_an_archived_ticket_brings_it_back(desk: Clockwork) -> None:
    open_ticket(desk)
    desk.loop.deliver(
        agent_mail(
            "alice@staff.example",
            "Re: [#MD-1001] x",
            "#close\nClosing.",
            Authentication_Results=PASS,
        )
    )
    desk.at(at("11:00"))
    desk.at(f"2027-03-01T10:00:00{CST}")  # archived
    assert desk.loop.tickets(desk.capsys) == []
    code, _ = desk.loop.maild(
        "tickets", "reopen", "MD-1001", "--now", f"2027-03-01T10:05:00{CST}", capsys=desk.capsys
    )
    assert code == 0
    [ticket] = desk.loop.tickets(desk.capsys)
    assert (ticket["id"], ticket["status"], ticket["confirmed"]) == ("MD-1001", "open", False)


OUTLOOK_ZH_HTML = """<html><body><div>王先生您好，<br>密码已重置，请用临时密码登录。</div>
<div><br></div><div>Alice</div>
<div style="border-top:solid #E1E1E1 1.0pt">
<p><b>发件人:</b> Test Support &lt;support@maild.test&gt;<br>
<b>发送时间:</b> 2026年11月23日 10:00<br><b>收件人:</b> team@maild.test<br>
<b>主题:</b> [#MD-1001] New general ticket: 发票问题</p></div>
<p>A new ticket has arrived for team support. internal-only-line</p></body></html>"""

GMAIL_TEXT = """Hi Wang, the invoice went out this morning.

On Mon, 23 Nov 2026 at 10:00, Test Support <support@maild.test> wrote:
> A new ticket has arrived for team support. internal-only-line
> Classified by: billing
"""

FOXMAIL_TEXT = """发票已寄出，请查收。

------------------ 原始邮件 ------------------
发件人: "Test Support"<support@maild.test>;
发送时间: 2026年11月23日(星期一) 上午10:00
主题: [#MD-1001] New general ticket
A new ticket has arrived for team support. internal-only-line
"""


@pytest.mark.parametrize(
    ("html", "body", "kept"),
    [
        (True, OUTLOOK_ZH_HTML, "密码已重置，请用临时密码登录"),
        (False, GMAIL_TEXT, "the invoice went out this morning"),
        (False, FOXMAIL_TEXT, "发票已寄出，请查收"),
    ],
    ids=["outlook-zh-html", "gmail", "foxmail"],
)
def test_agent_replies_from_real_clients_reach_the_customer_without_their_history(
    desk: Clockwork, html: bool, body: str, kept: str
) -> None:
    open_ticket(desk)
    reply = EmailMessage()
    reply["From"] = "Alice Wang <alice@staff.example>"
    reply["To"] = "support@maild.test"
    reply["Subject"] = "答复: [#MD-1001] New general ticket: 发票问题"
    reply["Message-ID"] = make_msgid(domain="staff.example")
    reply["Authentication-Results"] = PASS
    reply.set_content(body, subtype="html" if html else "plain")
    desk.loop.deliver(reply.as_bytes())
    [(kind, to, relay)] = desk.at(at("10:30"))
    assert (kind, to) == ("reply", "wang@example.cn")
    text = relay.get_body().get_content()
    assert kept in text
    assert "internal-only-line" not in text and "support@maild.test" not in text
