"""Commitments kept on time, end to end: Dovecot in, `maild once --now T` stepped through time,
every mail captured by aiosmtpd and checked: who got what, at which step, and never twice."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import maild.sweep
from maild.cli import main
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import SmtpCapture
from tests.test_end_to_end import Loop, customer_mail

SLA_TOML = """
[teams.support]
address = "team@maild.test"
lead = "lead@maild.test"
categories = ["general", "incident", "technical"]

[teams.care]
address = ["care1@maild.test", "care2@maild.test"]
lead = "care-lead@maild.test"
categories = ["sensitive"]

[escalation]
warn_at = 0.75
levels = [ { after = "0m", to = ["manager@maild.test"] },
           { after = "2h", to = ["director@maild.test"] } ]
page = ["oncall@maild.test"]

[calendars.office]
timezone = "Asia/Shanghai"
days = "mon-fri"
hours = "09:00-18:00"
holidays = "CN"

[complaints]
complaints = 2
within = "7d"
"""

CST = "+08:00"


class Clockwork:
    """Steps `maild once --now` through time and hands out the mails each step sent."""

    def __init__(self, loop: Loop, smtp: SmtpCapture, capsys: pytest.CaptureFixture[str]) -> None:
        self.loop, self.smtp, self.capsys = loop, smtp, capsys
        self.seen = 0

    def at(self, when: str) -> list[tuple[str, str, email.message.EmailMessage]]:
        """Run one cycle as of `when`; the new mails as (kind, recipients, message)."""
        code, out = self.loop.maild("once", "--now", when, capsys=self.capsys)
        assert code == 0, out
        sent = int(out.split("sent: ")[1].split(",")[0])
        captured = self.smtp.wait_for(self.seen + sent)[self.seen :]
        self.seen += sent
        assert len(self.smtp.messages) == self.seen, "more mail than the cycle reported"
        mails = []
        for c in captured:
            msg = email.message_from_bytes(c.raw, policy=email.policy.default)
            mails.append((_kind(msg), ",".join(sorted(c.rcpt_tos)), msg))
        return mails

    def show(self, ticket: str, when: str) -> dict:
        code, out = self.loop.maild("tickets", "show", ticket, "--json", "--now", when,
                                    capsys=self.capsys)  # fmt: skip
        assert code == 0, out
        return json.loads(out)

    def kinds(self, when: str) -> list[tuple[str, str]]:
        return sorted((kind, to) for kind, to, _ in self.at(when))


def _kind(msg: email.message.EmailMessage) -> str:
    subject = str(msg["Subject"])
    for marker, kind in (
        ("support digest", "digest"),
        ("客服周报", "digest"),
        ("客服月报", "digest"),
        ("We have received", "ack"),
        ("我们已收到", "ack"),
        ("Update on your request", "update"),
        ("处理进展", "update"),
        ("New ", "new_ticket"),
        ("PAGE", "page"),
        ("at risk", "warning"),
        ("escalation level", "escalation"),
        ("Repeated complaints", "complaints"),
        ("not trusted", "untrusted"),
        ("Not all done", "receipt"),
        ("Not done:", "lost"),
        ("Done:", "receipt"),
        ("Resolved:", "resolution"),
        ("已解决：", "resolution"),
        ("Closed:", "closed"),
        ("已关闭：", "closed"),
        ("How did we do", "survey"),
        ("满意度回访", "survey"),
        ("Low satisfaction", "review"),
        ("Your open requests", "status"),
        ("您的工单进度", "status"),
        ("Re: ", "reply"),
        ("回复：", "reply"),
    ):
        if marker in subject:
            return kind
    raise AssertionError(f"unexpected mail: {subject}")


def start_clockwork(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    *extra_toml: str,
) -> Clockwork:
    """A loop configured with the tables of the test config plus these TOML texts."""
    path = config_file(
        account=imap_account,
        outgoing=smtp_server,
        support={"timezone": "Asia/Shanghai"},
    )
    path.write_text("".join([path.read_text(encoding="utf-8"), *extra_toml]), encoding="utf-8")
    return Clockwork(Loop(dovecot, imap_account, path), smtp_server, capsys)


@pytest.fixture
def clockwork(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> Clockwork:
    return start_clockwork(dovecot, imap_account, smtp_server, config_file, capsys, SLA_TOML)


def test_urgent_ticket_warnings_escalations_and_updates_each_once_on_time(
    clockwork: Clockwork,
) -> None:
    clockwork.loop.deliver(
        customer_mail(
            "王伟 <wang@example.cn>", "系统崩溃", "今天上午系统崩溃了，所有人都无法登录。"
        )
    )
    opened = clockwork.at(f"2026-11-23T10:00:00{CST}")
    assert sorted((k, to) for k, to, _ in opened) == [
        ("ack", "wang@example.cn"),
        ("new_ticket", "team@maild.test"),
        ("page", "oncall@maild.test"),
    ]
    ack = next(m for k, _, m in opened if k == "ack")
    assert "2小时内，2026-11-23 12:00 (UTC+08:00) 前" in ack.get_body().get_content()
    assert "系统崩溃" in next(m for k, _, m in opened if k == "new_ticket").get_content()

    # Urgent: first response within 2 h on the 24x7 calendar; warning at 75 % = 1 h 30.
    assert clockwork.kinds(f"2026-11-23T11:29:00{CST}") == []
    assert clockwork.kinds(f"2026-11-23T11:31:00{CST}") == [("warning", "team@maild.test")]
    assert clockwork.kinds(f"2026-11-23T11:45:00{CST}") == []
    # Breach at 12:00: level 1 to the team lead and level 1's list; the 2-hourly update is due.
    assert clockwork.kinds(f"2026-11-23T12:01:00{CST}") == [
        ("escalation", "lead@maild.test,manager@maild.test"),
        ("update", "wang@example.cn"),
    ]
    assert clockwork.kinds(f"2026-11-23T12:02:00{CST}") == []  # nothing twice
    # Level 2, 2 h after the breach; the next update 2 h after the last one (12:01).
    assert clockwork.kinds(f"2026-11-23T13:59:00{CST}") == []
    step = clockwork.at(f"2026-11-23T14:05:00{CST}")
    assert sorted((k, to) for k, to, _ in step) == [
        ("escalation", "director@maild.test"),
        ("update", "wang@example.cn"),
    ]
    escalation = next(m for k, _, m in step if k == "escalation")
    text = escalation.get_content()
    assert "overdue by 2 h 5 min" in text and "level 2 of 2" in text
    assert "warning" not in text.split("History:")[0]
    assert "notice first_response warning" in text and "opened" in text
    update = next(m for k, _, m in step if k == "update")
    assert update["In-Reply-To"] and update["Auto-Submitted"] == "auto-generated"
    text = update.get_body().get_content()
    assert "2026-11-23 16:05 (UTC+08:00)" in text  # when they hear from us next
    assert "很抱歉" in text and "12:00" not in text  # a broken promise is not repeated

    # maild was down for the night: one update (not five), and the resolution warning at 75 %
    # of 1 day (18 h after opening: 04:00), each once.
    assert clockwork.kinds(f"2026-11-24T05:00:00{CST}") == [
        ("update", "wang@example.cn"),
        ("warning", "team@maild.test"),
    ]
    assert clockwork.kinds(f"2026-11-24T05:00:30{CST}") == []

    shown = clockwork.show("MD-1001", f"2026-11-24T05:00:30{CST}")
    assert shown["priority"] == "urgent" and shown["category"] == "incident"
    assert shown["rules"] == ["outage: '系统崩溃' in the subject"]
    first, resolve = shown["sla"]["clocks"]
    assert (first["commitment"], first["state"]) == ("first_response", "running")
    assert first["due_at"] == "2026-11-23T04:00:00+00:00"
    assert (resolve["due_at"], resolve["state"]) == ("2026-11-24T02:00:00+00:00", "running")
    actions = [e["action"] for e in shown["events"]]
    assert actions.count("notice") == 4 and actions.count("update_sent") == 3


def test_general_ticket_runs_on_office_hours_and_follows_a_priority_change(
    clockwork: Clockwork,
) -> None:
    # Friday 17:00 in Shanghai: 8 working hours of first response end Monday 16:00.
    clockwork.loop.deliver(customer_mail("alice@example.com", "Question", "How do I export?"))
    opened = clockwork.kinds(f"2026-11-27T17:00:00{CST}")
    assert opened == [("ack", "alice@example.com"), ("new_ticket", "team@maild.test")]

    # The weekend and the nights are not counted, and no update goes out at night.
    for moment in ("2026-11-27T23:00:00", "2026-11-28T10:00:00", "2026-11-30T08:59:00"):
        assert clockwork.kinds(moment + CST) == []
    # Warning at 6 working hours: Monday 14:00. Breach Monday 16:00. Update after one working
    # day (9 h) from Friday 17:00: Monday 17:00.
    assert clockwork.kinds(f"2026-11-30T14:01:00{CST}") == [("warning", "team@maild.test")]
    assert clockwork.kinds(f"2026-11-30T16:01:00{CST}") == [
        ("escalation", "lead@maild.test,manager@maild.test")
    ]
    assert clockwork.kinds(f"2026-11-30T17:01:00{CST}") == [("update", "alice@example.com")]

    # The agent makes it important (4 h and 3 days, round the clock). Counted that way the first
    # response broke on Friday 21:00: level 1 went out already, level 2 (+2 h) is due now. The
    # 3-day resolution broke at 17:00 today: its warning and level 1 are due too.
    code, out = clockwork.loop.maild(
        "tickets", "priority", "MD-1001", "important", "--now", f"2026-11-30T17:30:00{CST}",
        capsys=clockwork.capsys,
    )  # fmt: skip
    assert code == 0 and "general -> important" in out
    assert clockwork.kinds(f"2026-11-30T17:31:00{CST}") == [
        ("escalation", "director@maild.test"),
        ("escalation", "lead@maild.test,manager@maild.test"),
        ("warning", "team@maild.test"),
    ]
    assert clockwork.kinds(f"2026-11-30T17:32:00{CST}") == []
    shown = clockwork.show("MD-1001", f"2026-11-30T17:32:00{CST}")
    assert shown["sla"]["policy"] == "important"
    change = next(e for e in shown["events"] if e["action"] == "priority")
    assert change["detail"] == {"from": "general", "to": "important"}
    assert change["actor"].startswith("cli:")


def test_repeated_complaints_alert_the_team_lead_once_per_window(clockwork: Clockwork) -> None:
    for n, day in enumerate(("2026-11-23", "2026-11-24", "2026-11-25")):
        clockwork.loop.deliver(
            customer_mail("zhao@corp.example", f"投诉第{n + 1}次", "我要投诉，服务太差了。")
        )
        sent = clockwork.at(f"{day}T10:00:00{CST}")
        alerts = [(k, to) for k, to, _ in sent if k == "complaints"]
        if n == 1:
            assert alerts == [("complaints", "care-lead@maild.test")]
            text = next(m for k, _, m in sent if k == "complaints").get_content()
            assert "MD-1001" in text and "MD-1002" in text
        else:
            assert alerts == []
        assert ("new_ticket", "care1@maild.test,care2@maild.test") in [(k, to) for k, to, _ in sent]


def test_priority_override_of_a_missing_ticket_is_a_clear_error(
    clockwork: Clockwork, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", clockwork.loop.config, "tickets", "priority", "MD-4242", "urgent"])
    assert code == 1 and "no ticket 4242" in capsys.readouterr().err
    code = main(["--config", clockwork.loop.config, "tickets", "priority", "MD-4242", "highest"])
    assert code == 1 and "not a priority" in capsys.readouterr().err


def test_changed_sla_settings_reach_tickets_already_open(clockwork: Clockwork) -> None:
    clockwork.loop.deliver(customer_mail("alice@example.com", "Question", "How do I export?"))
    assert len(clockwork.at(f"2026-11-23T10:00:00{CST}")) == 2  # ack, team notice
    # The admin tightens general first response from 8 h to 1 h and restarts maild: the
    # warning at 45 min is due although the ticket's next check was stored for 16:00.
    config = Path(clockwork.loop.config)
    config.write_text(
        config.read_text(encoding="utf-8") + '[sla.general]\nfirst_response = "1h"\n',
        encoding="utf-8",
    )
    assert clockwork.kinds(f"2026-11-23T10:46:00{CST}") == [("warning", "team@maild.test")]


def test_a_failing_notice_holds_back_only_its_ticket(
    clockwork: Clockwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug while composing one ticket's warning must not stop the other tickets' mail."""
    for sender in ("a@example.com", "b@example.com"):
        clockwork.loop.deliver(customer_mail(sender, "Outage", "Everything is down"))
    clockwork.at(f"2026-11-23T10:00:00{CST}")
    real = maild.sweep.draft_alert

    def broken(config: object, ticket: dict, *args: object, **kwargs: object) -> object:
        if ticket["number"] == 1001:
            raise RuntimeError("planted bug")
        return real(config, ticket, *args, **kwargs)

    monkeypatch.setattr(maild.sweep, "draft_alert", broken)
    mails = clockwork.at(f"2026-11-23T11:31:00{CST}")
    assert [(k, m["Subject"].split("]")[0]) for k, _, m in mails] == [("warning", "[#MD-1002")]
    monkeypatch.setattr(maild.sweep, "draft_alert", real)
    assert clockwork.kinds(f"2026-11-23T11:40:00{CST}") == []  # not before RETRY_AFTER
    mails = clockwork.at(f"2026-11-23T11:47:00{CST}")
    assert [(k, m["Subject"].split("]")[0]) for k, _, m in mails] == [("warning", "[#MD-1001")]
