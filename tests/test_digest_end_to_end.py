"""The weekly digest, end to end: a scripted week of customer and agent mail through Dovecot,
`maild once --now T` stepped through it, and the digest captured by aiosmtpd on Monday 09:00
with the figures worked out by hand below. Then: no second copy on a restart, one late copy
after downtime, the monthly edition, and `maild digest --json` agreeing with the mail."""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import maild.editions
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import SmtpCapture
from tests.test_agents_end_to_end import AGENTS_TOML, PASS, agent_mail, only
from tests.test_end_to_end import customer_mail
from tests.test_sla_end_to_end import CST, SLA_TOML, Clockwork, start_clockwork

DIGEST_TOML = """
[digest]
recipients = ["ceo@maild.test"]
language = "en"
weekday = "mon"
hour = 9
timezone = "Asia/Shanghai"
monthly = true

[[digest.lists]]
recipients = ["cto@maild.test", "coo@maild.test"]
language = "zh"
"""


def day(date: str, hour: str) -> str:
    """A moment in Shanghai: day("16", "10:00") is Monday 2026-11-16 10:00."""
    return f"2026-11-{date}T{hour}:00{CST}"


@pytest.fixture
def week(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> Clockwork:
    return start_clockwork(
        dovecot, imap_account, smtp_server, config_file, capsys, SLA_TOML, AGENTS_TOML, DIGEST_TOML
    )


def write(desk: Clockwork, sender: str, subject: str, body: str, **options: str) -> None:
    """A customer's new mail arrives."""
    desk.loop.deliver(customer_mail(sender, subject, body, **options))


def answer(desk: Clockwork, sender: str, mail: email.message.EmailMessage, text: str) -> None:
    """The customer replies to one of our mails."""
    desk.loop.deliver(
        customer_mail(sender, f"Re: {mail['Subject']}", text, In_Reply_To=mail["Message-ID"])
    )


def agent(desk: Clockwork, who: str, ticket: str, text: str) -> None:
    desk.loop.deliver(
        agent_mail(f"{who}@staff.example", f"Re: [#{ticket}] x", text, Authentication_Results=PASS)
    )


def play_week(desk: Clockwork) -> None:
    """Week 2026-W47 (Mon 16 to Sun 22 November, Shanghai). Five tickets:

    MD-1001 wang, urgent (24x7: 2 h / 1 d): alice answers in 30 min, resolves at 2 h, the
      customer confirms and rates it 2 ("too slow").
    MD-1002 li, urgent: bob answers after 3 h (first response missed by 1 h); never resolved:
      resolution missed Tue 10:00 and still running at the week's end.
    MD-1003 zhao, urgent (Traditional Chinese, Big5): alice answers in 1 h, resolves at 2 h;
      the customer is silent, so maild closes it on Sunday 12:00.
    MD-1004 jones, general (office hours 09-18, 8 working hours / 5 working days): alice asks a
      question after 30 min (pending); the customer answers a day later; resolved after 1 more
      hour, not accepted (reopened), resolved again 2 h later, confirmed.
    MD-1005 chen, urgent: Friday 17:00, bob answers Saturday 10:00 (17 h: missed by 15 h);
      resolution missed Saturday 17:00, still running.
    """
    write(
        desk, "王伟 <wang@example.cn>", "支付失败，无法下单", "今天支付失败，页面报错，无法下单。"
    )
    write(
        desk,
        "li@example.com",
        "Payment failed: 支付失败",
        "支付失败 again when paying the invoice, card declined.",
    )
    desk.at(day("16", "10:00"))
    agent(desk, "alice", "MD-1001", "您好，我们正在排查支付接口，请稍候。")
    desk.at(day("16", "10:30"))
    agent(desk, "alice", "MD-1001", "#resolve\n支付接口已修复，请重试。")
    resolution = only(desk.at(day("16", "12:00")), "resolution")
    answer(desk, "wang@example.cn", resolution, "解决了，谢谢！")
    agent(desk, "bob", "MD-1002", "We are looking into the payment failure.")
    survey = only(desk.at(day("16", "13:00")), "survey")
    answer(desk, "wang@example.cn", survey, "2 太慢了 <script>alert(1)</script>")
    desk.at(day("16", "14:00"))

    write(
        desk, "趙先生 <zhao@example.tw>", "支付失敗", "我的帳號支付失敗，無法下單。", charset="big5"
    )
    desk.at(day("17", "10:00"))
    agent(desk, "alice", "MD-1003", "您好，请问是哪张卡？")
    desk.at(day("17", "11:00"))
    agent(desk, "alice", "MD-1003", "#resolve\n已处理，请重试。")
    desk.at(day("17", "12:00"))

    write(
        desk,
        "jones@example.com",
        "Refund not received",
        "I returned the parcel two weeks ago and no refund yet.",
    )
    desk.at(day("18", "09:30"))
    agent(desk, "alice", "MD-1004", "#status pending\nCould you send the return tracking number?")
    question = only(desk.at(day("18", "10:00")), "reply")
    answer(desk, "jones@example.com", question, "Tracking number is RT123.")
    desk.at(day("19", "10:00"))
    agent(desk, "alice", "MD-1004", "#resolve\nThe refund was issued today.")
    resolution = only(desk.at(day("19", "11:00")), "resolution")
    answer(desk, "jones@example.com", resolution, "Still nothing on my card statement.")
    desk.at(day("19", "12:00"))
    agent(desk, "alice", "MD-1004", "#resolve\nThe bank confirms the refund: ref 55.")
    resolution = only(desk.at(day("19", "14:00")), "resolution")
    answer(desk, "jones@example.com", resolution, "yes")
    desk.at(day("19", "15:00"))

    write(
        desk,
        "chen@example.com",
        "Payment failed 支付失败",
        "Checkout says payment failed. 支付失败，无法下单。",
    )
    desk.at(day("20", "17:00"))
    agent(desk, "bob", "MD-1005", "Sorry for the wait, checking now.")
    desk.at(day("21", "10:00"))
    desk.at(day("22", "20:00"))


def digests(mails: list) -> dict[str, email.message.EmailMessage]:
    return {to: msg for kind, to, msg in mails if kind == "digest"}


def test_a_scripted_week_yields_a_digest_with_the_right_figures(week: Clockwork) -> None:
    play_week(week)
    sent = digests(week.at(day("23", "09:00")))
    assert set(sent) == {"ceo@maild.test", "coo@maild.test,cto@maild.test"}
    english, chinese = sent["ceo@maild.test"], sent["coo@maild.test,cto@maild.test"]
    # Four of ten commitments broken: 60 % met.
    assert english["Subject"] == "Weekly support digest 2026-W47: SLA 60% met, 4 breaches"
    assert chinese["Subject"] == "客服周报 2026-W47：SLA 达成 60%，违约 4 单"
    assert english.get_content_type() == "multipart/alternative"
    text = english.get_body(("plain",)).get_content()
    html = english.get_body(("html",)).get_content()
    assert "Opened 5, resolved 3, closed 3, reopened 1" in text
    for ticket in ("MD-1002", "MD-1005"):
        assert ticket in html and ticket in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "支付失败" in html  # the rising topic, Big5 and English mail included
    assert "新建 5，解决 3，关闭 3，重新打开 1" in chinese.get_body(("plain",)).get_content()

    code, out = week.loop.maild("digest", "--week", "2026-W47", "--json",
                                "--now", day("23", "09:01"), capsys=week.capsys)  # fmt: skip
    assert code == 0, out
    figures = json.loads(out)
    assert figures["week"] == "2026-W47"
    assert (figures["opened"], figures["closed"], figures["reopened"]) == (5, 3, 1)
    assert figures["closes"] == {"confirmed": 2, "silence": 1, "agent": 0}
    assert (figures["backlog"], figures["backlog_by_priority"]) == (2, {"urgent": 2})
    assert figures["backlog_age"] == {"<1d": 0, "1-3d": 1, "3-7d": 1, "7-30d": 0, ">30d": 0}
    # First responses 30 min, 3 h, 1 h, 30 working min, 17 h: median 1 h, p90 17 h.
    assert figures["first_response_median_s"] == 3600
    assert figures["first_response_p90_s"] == 17 * 3600
    # Resolutions 2 h, 2 h, 3.5 working hours (30 min + 1 h + 2 h, the pending day paused).
    assert figures["resolution_median_s"] == 7200
    assert figures["resolution_p90_s"] == 3.5 * 3600
    assert figures["sla_compliance"] == 0.6
    breaches = {(b["ticket"], b["commitment"]): b for b in figures["breaches"]}
    assert set(breaches) == {
        ("MD-1002", "first_response"), ("MD-1002", "resolve"),
        ("MD-1005", "first_response"), ("MD-1005", "resolve"),
    }  # fmt: skip
    assert breaches["MD-1002", "first_response"]["overrun_s"] == 3600
    assert breaches["MD-1005", "first_response"]["overrun_s"] == 15 * 3600
    # Still running at the week's end (Monday 00:00): 158 h and 55 h counted, 24 h promised.
    assert breaches["MD-1002", "resolve"]["overrun_s"] == (158 - 24) * 3600
    assert breaches["MD-1005", "resolve"]["overrun_s"] == (55 - 24) * 3600
    assert breaches["MD-1005", "resolve"]["still_open"] is True
    # MD-1002: warning, level 1 for both commitments, level 2 for resolution; MD-1005: the
    # resolution's warning and both levels (its first response was answered before any).
    assert (figures["warnings"], figures["escalations"]) == (3, {"1": 3, "2": 2})
    assert figures["satisfaction_mean"] == 2.0
    assert figures["low_scores"] == [
        {"ticket": "MD-1001", "score": 2, "comment": "太慢了 <script>alert(1)</script>"}
    ]
    agents = {a["agent"]: a for a in figures["agents"]}
    assert (agents["alice"]["handled"], agents["alice"]["first_responses"]) == (3, 3)
    assert agents["alice"]["first_response_median_s"] == 1800
    assert (agents["bob"]["handled"], agents["bob"]["open_assigned"]) == (2, 2)
    top = figures["hot_topics"][0]
    assert (top["term"], top["count"]) == ("支付失败", 4)
    assert top["examples"] == ["MD-1001", "MD-1002", "MD-1003"]

    assert digests(week.at(day("23", "09:05"))) == {}  # a restart never sends it twice
    code, out = week.loop.maild("status", "--json", capsys=week.capsys)
    assert json.loads(out)["next_digest_at"]  # when is unit-tested: this runs on today's clock


def test_a_digest_missed_while_down_goes_out_once_and_the_monthly_edition(
    week: Clockwork,
) -> None:
    week.at(day("16", "10:00"))  # the first run: the first edition due is next Monday's
    week.loop.deliver(customer_mail("li@example.com", "Invoice copy", "Please resend invoice 7."))
    week.at(day("18", "10:00"))
    # Down from Wednesday until Tuesday 1 December: W47 and W48 were both due meanwhile; only
    # the latest goes out, and November's monthly edition with it. The ticket's first response
    # was due Wednesday 18:00 (8 working hours), its resolution Wednesday 25th 10:00 (W48).
    mails = week.at("2026-12-01T10:00:00+08:00")
    subjects = sorted(str(m["Subject"]) for kind, _, m in mails if kind == "digest")
    assert subjects == [
        "Monthly support digest 2026-11: SLA 0% met, 2 breaches",
        "Weekly support digest 2026-W48: SLA 0% met, 1 breach",
        "客服周报 2026-W48：SLA 达成 0%，违约 1 单",
        "客服月报 2026-11：SLA 达成 0%，违约 2 单",
    ]
    assert digests(week.at("2026-12-01T10:05:00+08:00")) == {}


def test_a_failing_digest_holds_back_nothing_else_and_goes_out_next_time(
    week: Clockwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    week.at(day("16", "10:00"))
    real_build = maild.editions.build

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug planted in the digest")

    monkeypatch.setattr(maild.editions, "build", broken)
    write(week, "li@example.com", "Invoice copy", "Please resend invoice 7.")
    mails = week.at(day("23", "09:00"))
    assert [kind for kind, _, _ in mails] == ["ack", "new_ticket"]  # intake went on
    monkeypatch.setattr(maild.editions, "build", real_build)
    sent = digests(week.at(day("23", "09:30")))
    assert set(sent) == {"ceo@maild.test", "coo@maild.test,cto@maild.test"}
