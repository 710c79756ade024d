"""Classification: the shipped rules in Chinese and English, custom rules, and team routing."""

from collections.abc import Sequence

import pytest

from maild.classify import (
    CLASSIFIED_CHARS,
    DEFAULT_RULES,
    Classification,
    Rule,
    Team,
    classify,
    normalise,
    team_for,
)

SUPPORT = Team("support", ("support-team@example.com",), lead="lead@example.com")
BILLING = Team("billing", ("billing-team@example.com",), categories=("billing",))
TRUST = Team("trust", ("trust@example.com",), categories=("sensitive",))
TEAMS = (BILLING, SUPPORT, TRUST)


def run(
    subject: str = "",
    body: str = "",
    *,
    sender: str = "customer@example.com",
    recipients: Sequence[str] = ("support@example.com",),
    rules: Sequence[Rule] = DEFAULT_RULES,
    teams: Sequence[Team] = TEAMS,
) -> Classification:
    return classify(
        rules, teams, subject=subject, body=body, sender=sender, recipients=list(recipients)
    )


# --- the shipped rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "category", "matched"),
    [
        ("系统崩溃了", "incident", "outage: '系统崩溃' in the subject"),
        ("账号无法登录", "incident", "outage: '无法登录' in the subject"),
        ("订单支付失败", "billing", "payment: '支付失败' in the subject"),
        ("服务器宕机", "incident", "outage: '宕机' in the subject"),
        ("Major outage in EU", "incident", "outage: 'outage' in the subject"),
        ("Payment failed twice", "billing", "payment: 'payment failed' in the subject"),
        ("Data loss after upgrade", "incident", "outage: 'data loss' in the subject"),
        ("Security question", "incident", "outage: 'security' in the subject"),
    ],
)
def test_urgent_out_of_the_box(subject: str, category: str, matched: str) -> None:
    found = run(subject, "请尽快处理，谢谢")
    assert found == Classification(
        "urgent", category, "billing" if category == "billing" else "support", (matched,), False
    )


def test_keyword_in_the_body_says_so() -> None:
    found = run("Help", "Since this morning we see an outage on every node.")
    assert found.priority == "urgent"
    assert found.matched == ("outage: 'outage' in the body",)


@pytest.mark.parametrize(
    ("text", "rule", "word", "complaint"),
    [
        ("我们已经联系了律师", "legal-privacy-press", "律师", False),
        ("我要投诉你们的客服", "complaint", "投诉", True),
        ("你们泄露了我的隐私", "legal-privacy-press", "隐私", False),
        ("We are preparing a lawsuit", "legal-privacy-press", "lawsuit", False),
        ("Request under GDPR article 15", "legal-privacy-press", "gdpr", False),
        ("I am a journalist at the Times", "legal-privacy-press", "journalist", False),
        ("This is a formal complaint", "complaint", "complaint", True),
        ("We will sue you", "legal-privacy-press", "will sue", False),
    ],
)
def test_sensitive_topics(text: str, rule: str, word: str, complaint: bool) -> None:
    found = run("Hello", text)
    assert found == Classification(
        "important", "sensitive", "trust", (f"{rule}: {word!r} in the body",), complaint
    )


@pytest.mark.parametrize(
    "text",
    [
        "I have an issue with my account",
        "Issues with the export, tissue paper",
        "We pursue this further",
        "Reissued certificate",
    ],
)
def test_english_keywords_match_whole_words_only(text: str) -> None:
    assert run(text, text) == Classification("general", "general", "support", (), False)


def test_full_width_and_upper_case_match() -> None:
    found = run("ＯＵＴＡＧＥ in ＥＵ-ＷＥＳＴ", "")
    assert found.priority == "urgent"
    assert found.category == "incident"
    assert found.matched == ("outage: 'outage' in the subject",)
    assert run("", "PAYMENT FAILED").matched == ("payment: 'payment failed' in the body",)
    assert normalise("ＯＵＴＡＧＥ Ｇｄｐｒ １２３") == "outage gdpr 123"


@pytest.mark.parametrize(
    ("text", "priority", "category", "matched"),
    [
        ("关于GDPR合规的问题", "important", "sensitive", "legal-privacy-press: 'gdpr' in the body"),
        ("今天payment failed了", "urgent", "billing", "payment: 'payment failed' in the body"),
        ("服务器outage已经两小时", "urgent", "incident", "outage: 'outage' in the body"),
    ],
)
def test_english_keywords_inside_chinese_text(
    text: str, priority: str, category: str, matched: str
) -> None:
    """Chinese is written without spaces, English words included: no space is needed."""
    found = run("问题", text)
    assert (found.priority, found.category, found.matched) == (priority, category, (matched,))


def test_typographic_apostrophe_matches() -> None:
    found = run("I can’t log in", "")  # U+2019, as most mail programs type it
    assert found.priority == "urgent"
    assert found.matched == ('outage: "can\'t log in" in the subject',)


def test_highest_priority_wins_and_first_category_wins() -> None:
    found = run("投诉：系统崩溃三次", "")
    assert found == Classification(
        "urgent",  # the outage makes it urgent
        "sensitive",  # and the complaint, listed first among the shipped rules, routes it
        "trust",
        ("complaint: '投诉' in the subject", "outage: '系统崩溃' in the subject"),
        True,
    )
    # A lower-priority rule listed first still loses on priority.
    found = run("Refund please, the app is broken", "")
    assert (found.priority, found.category) == ("important", "technical")
    assert found.matched == (
        "errors: 'broken' in the subject",
        "billing: 'refund' in the subject",
    )


@pytest.mark.parametrize(
    ("subject", "priority", "matched"),
    [
        ("帳號無法登入", "urgent", "outage: '无法登入' in the subject"),
        ("系統崩潰了", "urgent", "outage: '系统崩溃' in the subject"),
        ("付款失敗", "urgent", "payment: '付款失败' in the subject"),
        ("我要投訴", "important", "complaint: '投诉' in the subject"),
    ],
)
def test_traditional_chinese_matches_the_simplified_keywords(
    subject: str, priority: str, matched: str
) -> None:
    """Big5 customers write Traditional characters; the keywords are Simplified."""
    found = run(subject, "")
    assert (found.priority, found.matched) == (priority, (matched,))


def test_custom_rule_before_the_defaults_wins_the_category() -> None:
    vip = Rule(name="vip", priority="important", category="vip", from_domains=("bigcorp.com",))
    rules = (vip, *DEFAULT_RULES)
    found = run("Outage!", "", sender="cto@bigcorp.com", rules=rules)
    assert found == Classification(
        "urgent",
        "vip",
        "support",  # no team lists "vip"
        ("vip: sender domain bigcorp.com", "outage: 'outage' in the subject"),
        False,
    )
    found = run("Invoice for May", "", sender="cto@bigcorp.com", rules=rules)
    assert (found.priority, found.category) == ("important", "vip")
    assert found.matched == ("vip: sender domain bigcorp.com", "billing: 'invoice' in the subject")


@pytest.mark.parametrize(
    ("sender", "matches"),
    [
        ("a@bigcorp.com", True),
        ("a@eu.bigcorp.com", True),
        ("A@Mail.EU.BigCorp.COM", True),
        ("a@notbigcorp.com", False),
        ("a@bigcorp.com.evil.net", False),
        ("bigcorp.com@evil.net", False),
    ],
)
def test_from_domains_match_the_domain_and_its_subdomains(sender: str, matches: bool) -> None:
    vip = Rule(name="vip", priority="important", from_domains=("bigcorp.com",))
    found = run("Hello", "", sender=sender, rules=(vip,))
    expected = (f"vip: sender domain {sender.lower().rpartition('@')[2]}",) if matches else ()
    assert found.matched == expected
    assert found.priority == ("important" if matches else "general")


def test_from_domains_with_keywords_needs_both() -> None:
    rule = Rule(name="vip-down", priority="urgent", from_domains=("bigcorp.com",), text=("slow",))
    rules = (rule,)
    assert run("It is slow", "", sender="a@bigcorp.com", rules=rules).matched == (
        "vip-down: 'slow' in the subject",
    )
    assert run("It is slow", "", sender="a@other.com", rules=rules).matched == ()
    assert run("Hello", "", sender="a@bigcorp.com", rules=rules).matched == ()


def test_to_rule_on_the_recipient_address() -> None:
    desk = Rule(name="billing-desk", category="billing", to=("billing@example.com",))
    rules = (desk, *DEFAULT_RULES)
    found = run("Hello", "", recipients=["someone@else.com", "Billing@Example.COM"], rules=rules)
    assert found == Classification(
        "general", "billing", "billing", ("billing-desk: written to billing@example.com",), False
    )
    assert run("Hello", "", recipients=["support@example.com"], rules=rules).matched == ()
    # The recipient address, not the sender's.
    assert run("Hello", "", sender="billing@example.com", rules=rules).matched == ()


def test_regex_rule_on_subject_and_body() -> None:
    order = Rule(name="order", priority="important", regex=r"order\s*#?\d{6}\b")
    found = run("Where is my parcel", "About ORDER #123456, please", rules=(order,))
    assert found == Classification(
        "important",
        "general",
        "support",
        (r"order: /order\s*#?\d{6}\b/ matched 'order #123456'",),
        False,
    )
    assert run("Order #12345", "", rules=(order,)).matched == ()
    long = Rule(name="long", category="x", regex=r"a{50}")
    assert run("", "a" * 60, rules=(long,)).matched == (f"long: /a{{50}}/ matched {'a' * 40!r}",)


def test_subject_and_body_keywords_look_only_where_told() -> None:
    rule = Rule(name="r", priority="important", subject=("refund",), body=("invoice",))
    rules = (rule,)
    assert run("Refund", "", rules=rules).matched == ("r: 'refund' in the subject",)
    assert run("", "refund", rules=rules).matched == ()
    assert run("", "The invoice", rules=rules).matched == ("r: 'invoice' in the body",)
    assert run("Invoice", "", rules=rules).matched == ()


def test_plain_mail_stays_general() -> None:
    found = run("A question about my account", "Hello, how do I change my email address?")
    assert found == Classification("general", "general", "support", (), False)


# --- routing -------------------------------------------------------------------------------


def test_team_for_routes_by_category_then_support_then_first() -> None:
    assert team_for("billing", TEAMS) == "billing"
    assert team_for("sensitive", TEAMS) == "trust"
    assert team_for("incident", TEAMS) == "support"
    assert team_for("incident", (BILLING, TRUST)) == "billing"  # no 'support': the first
    assert team_for("sensitive", (BILLING, TRUST)) == "trust"
    assert team_for("general", ()) is None
    found = run("支付失败", "", teams=())
    assert (found.category, found.team) == ("billing", None)


def test_only_the_top_of_a_long_mail_is_read() -> None:
    """A keyword buried past CLASSIFIED_CHARS (quoted history, a pasted log) does not count."""
    found = run("hello", "x" * CLASSIFIED_CHARS + " outage")
    assert (found.priority, found.matched) == ("general", ())
    found = run("hello", "outage " + "x" * CLASSIFIED_CHARS)
    assert found.priority == "urgent"
