"""Agent mail: trusting it (Authentication-Results), its #commands, and trimming the reply."""

import time
from collections.abc import Sequence

import pytest

from maild.agentmail import (
    VALID_COMMANDS,
    AgentMail,
    Command,
    authenticated_domains,
    canonical_domain,
    read_agent_mail,
    sender_trusted,
    trim_reply,
)
from maild.classify import PRIORITIES

OURS = "mx.example.com"


def domains(*headers: str, authserv_id: str = OURS) -> frozenset[str]:
    return authenticated_domains(list(headers), authserv_id)


# --- 1. Authentication-Results: real-world shapes --------------------------------------------

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@news.example.com header.s=s2048 header.b=AbCd1234;\r\n"
    "       spf=pass (google.com: domain of bounce-42@bounces.example.net designates"
    " 209.85.220.41 as permitted sender) smtp.mailfrom=bounce-42@bounces.example.net;\r\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com"
)

EXCHANGE_ONLINE = (
    "spf=pass (sender IP is 40.107.22.55)\r\n smtp.mailfrom=contoso.com; dkim=pass (signature"
    " was verified)\r\n header.d=contoso.com;dmarc=pass action=none\r\n"
    " header.from=contoso.com;compauth=pass reason=100"
)

OPENDMARC = "mx.example.com; dmarc=pass (p=reject dis=none) header.from=example.org"
OPENDKIM = (
    "mx.example.com;\r\n"
    "\tdkim=pass (2048-bit key; unprotected) header.d=lists.example.net"
    ' header.i=@lists.example.net header.a=rsa-sha256 header.s=mail header.b="AbCdEfGh";\r\n'
    "\tdkim-atps=neutral"
)

RSPAMD = (
    "mx.example.com;\n"
    "\tdkim=pass header.d=example.com header.s=dkim header.b=Ab1Cd2Ef;\n"
    "\tspf=pass (mx.example.com: domain of user@example.com designates 192.0.2.1 as"
    " permitted sender) smtp.mailfrom=user@example.com;\n"
    "\tdmarc=pass (policy=reject) header.from=example.com;\n"
    "\tarc=none"
)


def test_gmail_header_gives_each_methods_domain() -> None:
    assert domains(GMAIL, authserv_id="mx.google.com") == {
        "news.example.com",
        "bounces.example.net",
        "example.com",
    }


def test_gmail_header_is_not_ours_when_we_are_not_google() -> None:
    assert domains(GMAIL) == frozenset()


def test_exchange_online_header_has_no_authserv_id_so_is_never_ours() -> None:
    assert domains(EXCHANGE_ONLINE, authserv_id="contoso.com") == frozenset()
    assert domains(EXCHANGE_ONLINE, authserv_id="spf=pass") == frozenset()


def test_exchange_online_header_above_ours_is_skipped() -> None:
    ours = "mx.example.com; dkim=pass header.d=example.com"
    assert domains(EXCHANGE_ONLINE, ours) == {"example.com"}


def test_exchange_style_properties_under_our_id() -> None:
    """Bare `action=none`, `reason=100` and no space after ';' are read, not rejected."""
    assert domains(f"{OURS}; {EXCHANGE_ONLINE}") == {"contoso.com"}


def test_postfix_milters_only_the_topmost_of_ours_counts() -> None:
    assert domains(OPENDMARC, OPENDKIM) == {"example.org"}
    assert domains(OPENDKIM, OPENDMARC) == {"lists.example.net"}


def test_rspamd_header() -> None:
    assert domains(RSPAMD) == {"example.com"}


def test_dkim_signing_domain_and_identity_both_count() -> None:
    header = "mx.example.com; dkim=pass header.d=example.com header.i=alerts@ops.example.com"
    assert domains(header) == {"example.com", "ops.example.com"}


@pytest.mark.parametrize(
    ("resinfo", "expected"),
    [
        ("spf=pass smtp.mailfrom=example.com", "example.com"),
        ("spf=pass smtp.mailfrom=user@example.com", "example.com"),
        ('spf=pass smtp.mailfrom="john doe"@example.com', "example.com"),
        ("dkim=pass header.i=@example.com", "example.com"),
        ("dkim=pass header.i=user@example.com", "example.com"),
        ("dmarc=pass header.from=example.com", "example.com"),
        ('dmarc=pass header.from="example.com"', "example.com"),
        ("DKIM=PASS Header.D=EXAMPLE.COM", "example.com"),
        ("Spf=Pass SMTP.MailFrom=User@Example.Com", "example.com"),
        ("dkim=pass header.d=example.com.", "example.com"),
        ("dkim/1=pass header.d=example.com", "example.com"),
        ("dkim = pass header.d = example.com", "example.com"),
        ('dkim=pass reason="good sig; 2048 bits" header.d=example.com', "example.com"),
    ],
)
def test_pass_spellings(resinfo: str, expected: str) -> None:
    assert domains(f"mx.example.com; {resinfo}") == {expected}


@pytest.mark.parametrize(
    "result", ["fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"]
)
def test_results_other_than_pass_vouch_for_nothing(result: str) -> None:
    header = (
        f"mx.example.com; dkim={result} header.d=example.com;"
        f" spf={result} smtp.mailfrom=example.com; dmarc={result} header.from=example.com"
    )
    assert domains(header) == frozenset()


def test_only_passing_methods_of_a_mixed_header_count() -> None:
    header = (
        "mx.example.com; dkim=fail (bad signature) header.d=signed.example.com;"
        " spf=softfail smtp.mailfrom=relay.example.com; dmarc=pass header.from=example.com"
    )
    assert domains(header) == {"example.com"}


def test_methods_without_a_domain_property_are_ignored() -> None:
    header = (
        "mx.example.com; iprev=pass policy.iprev=192.0.2.1; auth=pass smtp.auth=alice@x.test;"
        " spf=pass smtp.helo=mail.example.com"
    )
    assert domains(header) == frozenset()


def test_comments_nest_and_hide_everything_inside() -> None:
    header = (
        "mx.example.com (Postfix (v3.8); see dkim=pass header.d=evil.test);"
        " dkim=pass (2048-bit key (rsa); \\) escaped paren) header.d=example.com"
    )
    assert domains(header) == {"example.com"}


def test_folded_lines_and_comments_between_tokens() -> None:
    header = (
        "mx.example.com\r\n (our MX)\r\n 1;\r\n\tdkim\r\n =\r\n pass\r\n\theader.d=(key)example.com"
    )
    assert domains(header) == {"example.com"}


@pytest.mark.parametrize(
    "header",
    [
        "mx.example.com 1; dkim=pass header.d=example.com",
        "MX.Example.COM; dkim=pass header.d=example.com",
        '"mx.example.com"; dkim=pass header.d=example.com',
        "  mx.example.com  ;dkim=pass header.d=example.com;",
    ],
)
def test_authserv_id_spellings(header: str) -> None:
    assert domains(header) == {"example.com"}


def test_our_id_given_in_another_case() -> None:
    header = "mx.example.com; dkim=pass header.d=example.com"
    assert domains(header, authserv_id=" MX.EXAMPLE.COM ") == {"example.com"}


@pytest.mark.parametrize("header", ["mx.example.com; none", "mx.example.com 1; none"])
def test_no_results(header: str) -> None:
    assert domains(header) == frozenset()


# --- forgery ---


def test_forged_header_below_the_real_one_is_ignored() -> None:
    real = "mx.example.com; dkim=none; spf=none smtp.mailfrom=bank.example"
    forged = "mx.example.com; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example"
    assert domains(real, forged) == frozenset()
    assert domains(forged) == {"bank.example"}  # the forged one alone would have passed


def test_forged_pass_under_a_real_fail_is_untrusted() -> None:
    real = "mx.example.com; dkim=fail header.d=example.com; dmarc=fail header.from=example.com"
    forged = "mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"
    assert not sender_trusted("ceo@example.com", [real, forged], OURS)
    assert sender_trusted("ceo@example.com", [forged, real], OURS)


def test_pass_from_another_authserv_id_is_untrusted() -> None:
    theirs = (
        "mail.attacker.test; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"
    )
    assert not sender_trusted("ceo@example.com", [theirs], OURS)
    assert sender_trusted("ceo@example.com", [theirs], "mail.attacker.test")


def test_another_id_above_ours_does_not_lend_its_pass() -> None:
    theirs = "relay.other.test; dkim=pass header.d=example.com"
    ours = "mx.example.com; dkim=fail header.d=example.com"
    assert domains(theirs, ours) == frozenset()


def test_our_id_as_a_prefix_or_suffix_is_not_ours() -> None:
    for other in ("mx.example.com.evil.test", "evilmx.example.com", "mx.example.co"):
        assert domains(f"{other}; dkim=pass header.d=example.com") == frozenset()


# --- malformed input ---


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        "mx.example.com",
        "mx.example.com; dkim=pass (unterminated comment header.d=example.com",
        'mx.example.com; dkim=pass header.d="example.com',
        "mx.example.com; dkim=pass header.d=example.com)",
        "mx.example.com; dkim=pass header.d",
        "mx.example.com; dkim=pass header.d=",
        "mx.example.com; dkim pass header.d=example.com",
        "mx.example.com; dkim=pass header.d=example.com stray",
        "mx.example.com; =pass header.d=example.com",
        "mx.example.com; dkim=pass=pass header.d=example.com",
        "mx.example.com junk words; dkim=pass header.d=example.com",
        "mx.example.com v1; dkim=pass header.d=example.com",
        "mx.example.com; none; dkim=pass header.d=example.com",
        "mx.example.com; dkim=pass header..d=example.com",
        "mx.example.com; dkim=pass header.d=example.com header..x=1",
        "mx.example.com; dkim=pass header.d=example.com (unterminated comment",
        "mx.example.com; dkim=pass header.d=exa mple.com",
    ],
)
def test_malformed_header_of_ours_gives_nothing(header: str) -> None:
    assert domains(header) == frozenset()


def test_malformed_header_above_ours_fails_closed() -> None:
    """We cannot tell whether an unreadable header was ours, so nothing below it is used."""
    assert domains("mx.example.com (broken", "mx.example.com; dkim=pass header.d=example.com") == (
        frozenset()
    )


def test_malformed_header_below_ours_does_not_matter() -> None:
    good = "mx.example.com; dkim=pass header.d=example.com"
    assert domains(good, 'forged (unbalanced "') == {"example.com"}


@pytest.mark.parametrize(
    "value",
    ["mx.example.com; dkim=pass header.d=exa_mple..com", "mx.example.com; dkim=pass header.d=@"],
)
def test_a_value_that_is_no_domain_is_skipped(value: str) -> None:
    assert domains(value) == frozenset()


def test_non_strings_never_raise() -> None:
    bad: Sequence[str] = [None, "mx.example.com; dkim=pass header.d=example.com"]  # type: ignore[list-item]
    assert authenticated_domains(bad, OURS) == frozenset()  # the None might have been ours
    assert authenticated_domains([], OURS) == frozenset()
    assert authenticated_domains(["mx.example.com; dkim=pass header.d=example.com"], "") == (
        frozenset()
    )
    assert not sender_trusted(None, [], OURS)  # type: ignore[arg-type]


def test_a_single_string_is_read_as_one_header() -> None:
    one = "mx.example.com; dkim=pass header.d=example.com"
    assert authenticated_domains(one, OURS) == {"example.com"}


# --- sender_trusted ---

PASS_EXAMPLE = ["mx.example.com; dkim=pass (2048-bit key) header.d=example.com"]


@pytest.mark.parametrize(
    ("sender", "trusted"),
    [
        ("alice@example.com", True),
        ("Alice@EXAMPLE.COM", True),
        ("Alice Agent <alice@example.com>", True),
        ('"Agent, Alice" <alice@example.com.>', True),
        ("alice@evil.example.com", False),
        ("alice@com", False),
        ("alice@example.com.evil.test", False),
        ("alice@notexample.com", False),
        ("alice", False),
        ("", False),
        ("<>", False),
    ],
)
def test_sender_domain_must_match_exactly(sender: str, trusted: bool) -> None:
    assert sender_trusted(sender, PASS_EXAMPLE, OURS) is trusted


def test_pass_for_a_subdomain_does_not_vouch_for_the_parent() -> None:
    headers = ["mx.example.com; dkim=pass header.d=mail.example.com"]
    assert not sender_trusted("alice@example.com", headers, OURS)
    assert sender_trusted("alice@mail.example.com", headers, OURS)


def test_internationalised_domains_compare_as_ascii() -> None:
    headers = ["mx.example.com; dkim=pass header.d=xn--fsqu00a.xn--0zwm56d"]
    assert sender_trusted("张三@例子.测试", headers, OURS)
    assert canonical_domain("例子.测试") == "xn--fsqu00a.xn--0zwm56d"
    assert canonical_domain("Example.COM.") == "example.com"
    assert canonical_domain("bad domain") is None


# --- 2. Commands ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "argument"),
    [
        ("#assign alice", "assign", "alice"),
        ("#指派 alice@example.com", "assign", "alice@example.com"),
        ("#take", "take", ""),
        ("#认领", "take", ""),
        ("#领取", "take", ""),
        ("#priority urgent", "priority", "urgent"),
        ("#priority Important", "priority", "important"),
        ("#优先级 紧急", "priority", "urgent"),
        ("#优先级 重要", "priority", "important"),
        ("#优先级 一般", "priority", "general"),
        ("#優先級 緊急", "priority", "urgent"),
        ("#优先级紧急", "priority", "urgent"),
        ("#优先级：一般", "priority", "general"),
        ("#priority: ＵＲＧＥＮＴ", "priority", "urgent"),
        ("#category billing", "category", "billing"),
        ("#类别 账单", "category", "账单"),
        ("#分类 Billing", "category", "Billing"),
        ("#status pending", "status", "pending"),
        ("#status OPEN", "status", "open"),
        ("#状态 等待", "status", "pending"),
        ("#状态 等待客户", "status", "pending"),
        ("#状态 等待客戶", "status", "pending"),
        ("#状态 处理中", "status", "open"),
        ("#status open", "status", "open"),
        ("#resolve", "resolve", ""),
        ("#resolve replaced the DNS record", "resolve", "replaced the DNS record"),
        ("#解决 已更换 DNS 记录", "resolve", "已更换 DNS 记录"),
        ("#close", "close", ""),
        ("#关闭", "close", ""),
        ("#reopen", "reopen", ""),
        ("#重开", "reopen", ""),
        ("#重新打开", "reopen", ""),
        ("#merge MD-12", "merge", "MD-12"),
        ("#合并 MD-12", "merge", "MD-12"),
        ("#ASSIGN Bob", "assign", "Bob"),
        ("＃assign bob", "assign", "bob"),
        ("＃指派 小王", "assign", "小王"),
        ("   \t#close", "close", ""),
        ("\u3000#take", "take", ""),
        ("#take   ", "take", ""),
    ],
)
def test_each_command(line: str, name: str, argument: str) -> None:
    assert read_agent_mail(f"{line}\nHello") == AgentMail(
        (Command(name, argument, line),), (), "Hello", ""
    )


def test_priority_values_are_the_ones_classify_knows() -> None:
    got = {
        read_agent_mail(f"#priority {value}").commands[0].argument
        for value in ("urgent", "important", "general", "紧急", "重要", "一般")
    }
    assert got == set(PRIORITIES)


def test_commands_then_reply() -> None:
    text = (
        "\n\n#take\n#priority urgent\n\n#状态 等待客户\n"
        "Hi Bob,\n\nWe are on it. #1 priority.\n#close\n\nAlice\n\n"
    )
    assert read_agent_mail(text) == AgentMail(
        (
            Command("take", "", "#take"),
            Command("priority", "urgent", "#priority urgent"),
            Command("status", "pending", "#状态 等待客户"),
        ),
        (),
        "Hi Bob,\n\nWe are on it. #1 priority.\n#close\n\nAlice",
        "",
    )


def test_no_commands_means_all_reply() -> None:
    text = "  Hello Bob,\r\nuse the #general channel.\r\n"
    assert read_agent_mail(text) == AgentMail((), (), "  Hello Bob,\nuse the #general channel.", "")


@pytest.mark.parametrize(
    "first",
    ["#1 issue is fixed", "# Heading", "## Summary", "#\tTabbed", "#", "＃１ issue", "#!shebang"],
)
def test_hash_not_followed_by_a_letter_is_text(first: str) -> None:
    assert read_agent_mail(f"#take\n{first}\nmore") == AgentMail(
        (Command("take", "", "#take"),), (), f"{first}\nmore", ""
    )


def test_commands_only_count_at_the_top() -> None:
    mail = read_agent_mail("Thanks for waiting.\n#close\n#assign bob")
    assert mail == AgentMail((), (), "Thanks for waiting.\n#close\n#assign bob", "")


def test_comment_swallows_everything_after_it() -> None:
    text = "#assign bob\n#comment customer is angry\nsecond line\n#close\n\nHello customer\n"
    assert read_agent_mail(text) == AgentMail(
        (
            Command("assign", "bob", "#assign bob"),
            Command("comment", "", "#comment customer is angry"),
        ),
        (),
        "",
        "customer is angry\nsecond line\n#close\n\nHello customer",
    )


def test_chinese_comment_on_its_own_line() -> None:
    assert read_agent_mail("#备注\n\n  客户很急\n请回电") == AgentMail(
        (Command("comment", "", "#备注"),), (), "", "客户很急\n请回电"
    )


def test_glued_chinese_comment() -> None:
    assert read_agent_mail("＃备注：只给同事看").note == "只给同事看"


def test_comment_after_errors_keeps_them() -> None:
    assert read_agent_mail("#foo\n#comment x") == AgentMail(
        (Command("comment", "", "#comment x"),), ("unknown command '#foo'",), "", "x"
    )


def test_errors_one_line_each() -> None:
    text = (
        "#assign\n#foo bar\n#priority 超急\n#status closed\n#take now\n#merge\n"
        "#指派\n#优先级\n#commentary\nHello"
    )
    assert read_agent_mail(text) == AgentMail(
        (),
        (
            "missing argument: '#assign' needs AGENT",
            "unknown command '#foo'",
            "bad value '超急' for '#priority': use urgent/紧急, important/重要, general/一般",
            "bad value 'closed' for '#status': use pending/等待/等待客户, open/处理中",
            "'#take' takes no argument, but got 'now'",
            "missing argument: '#merge' needs TICKET",
            "missing argument: '#指派' needs AGENT",
            "missing argument: '#优先级' needs one of urgent/紧急, important/重要, general/一般",
            "unknown command '#commentary'",
        ),
        "Hello",
        "",
    )


def test_unknown_command_is_not_copied_into_the_reply() -> None:
    assert read_agent_mail("#urgent\n#take\nHi") == AgentMail(
        (Command("take", "", "#take"),), ("unknown command '#urgent'",), "Hi", ""
    )


def test_unknown_full_width_command_is_named_with_a_plain_hash() -> None:
    assert read_agent_mail("＃ｆｏｏ").errors == ("unknown command '#ｆｏｏ'",)


def test_empty_and_blank_mail() -> None:
    assert read_agent_mail("") == AgentMail((), (), "", "")
    assert read_agent_mail("\n \n\t\n") == AgentMail((), (), "", "")
    assert read_agent_mail("#close\n\n") == AgentMail((Command("close", "", "#close"),), (), "", "")


@pytest.mark.parametrize(
    "name",
    [
        "#assign", "#take", "#priority", "#category", "#status", "#resolve", "#close", "#reopen",
        "#merge", "#comment", "#指派", "#认领", "#领取", "#优先级", "#类别", "#分类", "#状态",
        "#解决", "#关闭", "#重开", "#重新打开", "#合并", "#备注",
        "urgent/紧急", "important/重要", "general/一般", "pending/等待/等待客户", "open/处理中",
    ],
)  # fmt: skip
def test_help_lists_every_command_and_value(name: str) -> None:
    assert name in VALID_COMMANDS


def test_help_has_one_line_per_command() -> None:
    lines = VALID_COMMANDS.splitlines()
    assert [line.split()[0] for line in lines if line.startswith("  #")] == [
        "#assign", "#take", "#priority", "#category", "#status", "#resolve", "#close", "#reopen",
        "#merge", "#comment",
    ]  # fmt: skip


# --- 3. trim_reply ----------------------------------------------------------------------------

GMAIL_REPLY = """\
Hi Bob,

The refund went out today; see #4 in the FAQ.

Alice

On Mon, 23 Nov 2026 at 10:00, Bob Customer <bob@example.com> wrote:

> Where is my refund?
>
> Bob
>
"""


def test_gmail_top_post() -> None:
    assert trim_reply(GMAIL_REPLY) == (
        "Hi Bob,\n\nThe refund went out today; see #4 in the FAQ.\n\nAlice"
    )


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 23 Nov 2026 at 10:00, Bob Customer with a long name <\nbob@example.com> wrote:",
        "On Mon, 23 Nov 2026 at 10:00, Bob Customer <bob@example.com>\nwrote:",
        "On 23 Nov 2026, at 10:00, Bob <bob@example.com> wrote:",
        "On 11/23/26 10:00 AM, Bob Customer wrote:",
        "张三 <zhangsan@example.cn> 于2026年11月23日周一 10:00写道：",
        "张三 <zhangsan@example.cn> 于2026年11月23日周一\n10:00写道：",
        "在 2026年11月23日 10:00，张三 <zhangsan@example.cn> 写道：",
        "在 2026年11月23日 10:00，张三 <\nzhangsan@example.cn> 写道：",
        "在 2026年11月23日，上午10:00，張三 <zhangsan@example.tw> 寫道:",
    ],
)
def test_attribution_lines(attribution: str) -> None:
    text = f"Done, see below.\nAlice\n\n{attribution}\n\n> old text\n> more\n"
    assert trim_reply(text) == "Done, see below.\nAlice"


def test_attribution_without_quotes_below_it() -> None:
    text = "Fixed.\n\nOn Mon, 23 Nov 2026 at 10:00, Bob <bob@example.com> wrote:\nold text\n"
    assert trim_reply(text) == "Fixed."


OUTLOOK_REPLY = """\
Hello,

Your account is unlocked.

Regards,
Alice
Support team

________________________________
From: Bob Customer <bob@example.com>
Sent: Monday, November 23, 2026 10:00 AM
To: Support <support@example.com>
Cc: Carol <carol@example.com>
Subject: [#MD-12] locked out

I cannot log in.
"""


def test_outlook_header_block() -> None:
    assert trim_reply(OUTLOOK_REPLY) == (
        "Hello,\n\nYour account is unlocked.\n\nRegards,\nAlice\nSupport team"
    )


def test_outlook_bold_header_block_without_rule() -> None:
    text = (
        "Unlocked.\r\n\r\n*From:* Bob <bob@example.com>\r\n*Sent:* Monday, November 23, 2026\r\n"
        "*To:* Support\r\n*Subject:* locked out\r\n\r\nI cannot log in.\r\n"
    )
    assert trim_reply(text) == "Unlocked."


def test_outlook_mac_header_block_with_date() -> None:
    text = "Unlocked.\n\nFrom: Bob <bob@example.com>\nDate: Monday, 23 November 2026 at 10:00\n"
    text += "To: Support <support@example.com>\nSubject: locked out\n\nI cannot log in."
    assert trim_reply(text) == "Unlocked."


def test_outlook_original_message() -> None:
    text = (
        "Please try again now.\n\nAlice\n\n-----Original Message-----\n"
        "From: Bob <bob@example.com>\nSent: Monday, November 23, 2026 10:00 AM\n"
        "Subject: locked out\n\nI cannot log in."
    )
    assert trim_reply(text) == "Please try again now.\n\nAlice"


OUTLOOK_ZH_REPLY = """\
您好，

已为您解锁账号。

客服 小王

________________________________
发件人: 张三 <zhangsan@example.cn>
发送时间: 2026年11月23日 10:00
收件人: 客服 <support@example.com>
主题: [#MD-12] 无法登录

我无法登录。
"""


def test_outlook_chinese_header_block() -> None:
    assert trim_reply(OUTLOOK_ZH_REPLY) == "您好，\n\n已为您解锁账号。\n\n客服 小王"


def test_outlook_traditional_chinese_header_block() -> None:
    text = (
        "已解鎖。\n\n寄件者: 張三 <z@example.tw>\n寄件日期: 2026年11月23日 上午 10:00\n"
        "收件者: 客服\n主旨: 無法登入\n\n我無法登入。"
    )
    assert trim_reply(text) == "已解鎖。"


FOXMAIL_REPLY = """\
您好，问题已解决。



------------------ 原始邮件 ------------------
发件人: "张三"<zhangsan@example.cn>;
发送时间: 2026年11月23日(星期一) 上午10:00
收件人: "support"<support@example.com>;
主题: 无法登录

我无法登录。
"""


def test_foxmail_original_message() -> None:
    assert trim_reply(FOXMAIL_REPLY) == "您好，问题已解决。"


def test_outlook_chinese_original_message() -> None:
    assert trim_reply("好的。\n-----原始邮件-----\n发件人: 张三") == "好的。"


APPLE_IOS_REPLY = (
    "Thanks, fixed.\n\nSent from my iPhone\n\n"
    "> On 23 Nov 2026, at 10:00, Bob <bob@example.com> wrote:\n> \n> It is broken.\n"
)


def test_apple_ios_quoted_attribution() -> None:
    assert trim_reply(APPLE_IOS_REPLY) == "Thanks, fixed."


APPLE_MAC_REPLY = """\
Thanks, fixed.

Alice

> On 23 Nov 2026, at 10:00, Bob <bob@example.com> wrote:
>
> It is broken.
>> On 22 Nov 2026, at 09:00, Alice <alice@example.com> wrote:
"""


def test_apple_mac_reply() -> None:
    assert trim_reply(APPLE_MAC_REPLY) == "Thanks, fixed.\n\nAlice"


THUNDERBIRD_TOP_POST = (
    "Answer is yes.\n\n-- \nAlice Agent\nSupport team | Example Ltd\n\n"
    "On 23/11/2026 10:00, Bob Customer wrote:\n> Can I upgrade?\n"
)


def test_thunderbird_top_post_with_signature() -> None:
    assert trim_reply(THUNDERBIRD_TOP_POST) == "Answer is yes."


THUNDERBIRD_BOTTOM_POST = (
    "On 23/11/2026 10:00, Bob Customer wrote:\n> My printer is on fire.\n> \n> Bob\n\n"
    "Please unplug it first.\n\n-- \nAlice Agent\n"
)


def test_thunderbird_bottom_post_keeps_the_answer_and_its_quote() -> None:
    assert trim_reply(THUNDERBIRD_BOTTOM_POST) == (
        "> My printer is on fire.\n> \n> Bob\n\nPlease unplug it first."
    )


def test_interleaved_quotes_followed_by_own_text_are_kept() -> None:
    text = "> Is it down?\nYes, since 10:00.\n\n> When back?\nBy noon.\n\n> Thanks\n> Bob\n"
    assert trim_reply(text) == "> Is it down?\nYes, since 10:00.\n\n> When back?\nBy noon."


@pytest.mark.parametrize("separator", ["-- ", "--", "--  "])
def test_signature_separator(separator: str) -> None:
    text = f"Fixed in 2.1.\n\nAlice\n{separator}\nAlice Agent\n+86 10 1234 5678\n"
    assert trim_reply(text) == "Fixed in 2.1.\n\nAlice"


def test_dashes_that_are_not_a_separator_stay() -> None:
    text = "Run it with --force.\n--verbose helps too\n -- \na -- b\n---\ndone"
    assert trim_reply(text) == text


@pytest.mark.parametrize(
    "trailer",
    [
        "Sent from my iPhone",
        "Sent from my iPad",
        "Sent from my Samsung Galaxy smartphone.",
        "Get Outlook for iOS",
        "Sent from Mail for Windows",
        "发自我的iPhone",
        "发自我的 iPad",
        "發自我的 iPhone",
        "从我的 iPhone 发送",
        "发自网易邮箱大师",
    ],
)
def test_device_trailers(trailer: str) -> None:
    assert trim_reply(f"OK, done.\n\n{trailer}\n") == "OK, done."
    quoted = f"OK, done.\n\n{trailer}\n\nOn 23 Nov 2026, at 10:00, Bob <b@x.test> wrote:\n> hi"
    assert trim_reply(quoted) == "OK, done."


def test_device_trailer_in_the_middle_stays() -> None:
    text = "Sent from my iPhone\nis what your mail says; please send from the laptop."
    assert trim_reply(text) == text


def test_plain_text_is_kept_apart_from_trailing_whitespace() -> None:
    text = (
        "\n\nLine one\n\n    indented code\n\nMy colleague wrote:\nFrom: our billing team  \n \n\n"
    )
    assert trim_reply(text) == (
        "Line one\n\n    indented code\n\nMy colleague wrote:\nFrom: our billing team"
    )


@pytest.mark.parametrize(
    ("prose", "attribution"),
    [
        ("On Monday 3 servers failed.", "On 23 Nov 2026, at 10:00, Bob <b@x.test> wrote:"),
        ("在 2026年我们换了机房。", "在 2026年11月23日 10:00，张三 <z@x.cn> 写道："),
    ],
)
def test_prose_line_above_an_attribution_is_kept(prose: str, attribution: str) -> None:
    assert trim_reply(f"{prose}\n{attribution}\n> q") == prose


def test_prose_starting_with_on_is_not_an_attribution() -> None:
    text = "On Monday we deploy the fix.\nIt wrote: nothing to the log."
    assert trim_reply(text) == text


@pytest.mark.parametrize(
    "quoted",
    [
        "> -----Original Message-----\n> From: x",
        "> 在 2026年11月23日 10:00，张三 <z@x.cn> 写道：\n> 旧问题",
        ">> On 22 Nov 2026, at 09:00, Alice <alice@example.com> wrote:\n>> old",
    ],
)
def test_quoted_markers_do_not_cut(quoted: str) -> None:
    assert trim_reply(f"{quoted}\nMy answer.\n") == f"{quoted}\nMy answer."


def test_nothing_written() -> None:
    assert trim_reply("") == ""
    assert trim_reply("> only quoted\n> text\n") == ""
    assert trim_reply("-----Original Message-----\nFrom: Bob\nhello") == ""
    assert trim_reply("On Mon, 23 Nov 2026 at 10:00, Bob <b@x.test> wrote:\n> hi\n") == ""


def test_crlf_becomes_lf() -> None:
    assert trim_reply("a\r\nb\r\n\r\n> q\r\n") == "a\nb"


def test_a_huge_line_is_not_a_problem() -> None:
    """'.*\\d.*' backtracks quadratically: unbounded, these take minutes."""
    lines = ["On " + "1" * 40_000 + " wrot", "1" * 40_000 + "写道", "On 1" + " " * 40_000 + "x"]
    started = time.perf_counter()
    for text in lines:
        assert trim_reply(f"{text}\nwrote:") == f"{text}\nwrote:"
    assert time.perf_counter() - started < 1.0


def test_trim_then_read_commands() -> None:
    text = (
        "#resolve 已更换硬盘\n您好，硬盘已更换。\n\n发自我的iPhone\n\n"
        "在 2026年11月23日 10:00，张三 <z@x.cn> 写道：\n> 坏了"
    )
    assert read_agent_mail(trim_reply(text)) == AgentMail(
        (Command("resolve", "已更换硬盘", "#resolve 已更换硬盘"),), (), "您好，硬盘已更换。", ""
    )
