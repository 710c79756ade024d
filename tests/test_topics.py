"""Hot topics and near-duplicate clusters: hand-built tickets with hand-counted answers."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from maild.topics import (
    BODY_CHARS,
    Cluster,
    Document,
    HotTopic,
    clusters,
    hot_topics,
    terms,
)

ROOT = Path(__file__).resolve().parent.parent
_numbers = itertools.count(1)


def ticket(subject: str, body: str = "", customer: str | None = None) -> Document:
    """A ticket with the next id; a new customer unless one is named."""
    number = next(_numbers)
    return Document(f"MD-{number}", customer or f"customer{number}@example.com", subject, body)


def ids(documents: list[Document]) -> tuple[str, ...]:
    return tuple(d.ticket_id for d in documents)


def listed(topics: list[HotTopic]) -> list[str]:
    return [t.term for t in topics]


# --- what a ticket's terms are ---------------------------------------------------------------


def test_terms_are_words_and_phrases_of_what_the_customer_wrote() -> None:
    found = terms(ticket("支付失败", "您好，我昨天下单，支付失败了，麻烦帮忙处理。谢谢！"))
    assert found == {"支付", "失败", "支付 失败", "下单"}


def test_traditional_and_full_width_read_as_simplified_and_plain() -> None:
    assert terms(ticket("帳號異常")) == terms(ticket("账号异常")) == {"账号", "异常", "账号 异常"}
    assert terms(ticket("ＬＯＧＩＮ　ＥＲＲＯＲ")) == terms(ticket("login error"))
    assert terms(ticket("無法登入")) == {"登录"}  # the Taiwan word is the mainland word


def test_english_words_count_by_stem() -> None:
    stems = [terms(ticket(s)) for s in ("refund", "Refunds", "refunded", "REFUNDING")]
    assert all(found == {"refund"} for found in stems)


def test_stop_words_and_boilerplate_are_not_terms() -> None:
    assert terms(ticket("您好", "您好，麻烦帮忙看一下这个问题，谢谢！急急急")) == frozenset()
    assert terms(ticket("Hello", "Hi team, please help, I have an issue/problem. Thanks")) == set()
    assert (
        terms(ticket("Re: Fwd: 回复: 请问", "Dear Sir, kindly advise ASAP. Best regards")) == set()
    )


def test_numbers_links_addresses_and_ticket_tokens_are_not_terms() -> None:
    found = terms(
        ticket(
            "Re: [#MD-1042] 订单 20240501123 invoice",
            "See https://shop.example.com/orders/123?id=9 or www.example.org, write to "
            "alice.smith@example.com, file invoice_2024.pdf, order #A12345, version v2.3.1, "
            "打开 report.xlsx 查看发票",
        )
    )
    assert found == {"订单", "invoic", "write", "file", "order", "version", "打开", "发票"}


def test_quoted_history_signatures_and_footers_are_not_read() -> None:
    body = "发票开错了\n> 支付失败\n＞ 退款\n-- \n张三 支付失败\n"
    assert terms(ticket("", body)) == {"发票"}
    outlook = "Invoice wrong\n\n-----Original Message-----\nFrom: us\nrefund delayed"
    assert terms(ticket("", outlook)) == {"invoic", "wrong", "invoic wrong"}
    gmail = "Invoice wrong\nOn Mon, 6 May 2024 at 10:00, Support <s@example.com> wrote:\nrefund"
    assert terms(ticket("", gmail)) == {"invoic", "wrong", "invoic wrong"}
    signed = "Invoice wrong\n\nThanks,\nRobert Paulson\nAcme Trading\n\nSent from my iPhone"
    assert terms(ticket("", signed)) == {"invoic", "wrong", "invoic wrong"}


def test_only_the_top_of_the_body_is_read() -> None:
    padding = "账号 " * (BODY_CHARS // 3)
    assert "退款" not in terms(ticket("", padding + "退款"))
    assert "退款" in terms(ticket("", "退款 " + padding))


def test_phrases_do_not_span_punctuation_stop_words_lines_or_the_subject_end() -> None:
    assert terms(ticket("login, error")) == {"login", "error"}
    assert terms(ticket("login is error")) == {"login", "error"}
    assert terms(ticket("", "账号\n异常")) == {"账号", "异常"}
    assert terms(ticket("login", "error")) == {"login", "error"}
    wrapped = terms(ticket("", "the login\nerror"))  # English mail is wrapped: still one phrase
    assert "login error" in wrapped
    assert "doubl charg" in terms(ticket("double-charged"))


# --- hot topics ------------------------------------------------------------------------------


def quiet_week(*subjects: str) -> list[Document]:
    """A previous week with three invoice tickets (every week has them) and whatever else."""
    return [ticket("发票抬头"), ticket("开发票"), ticket("发票"), *(ticket(s) for s in subjects)]


def test_a_chinese_topic_rising_comes_first_with_its_figures() -> None:
    failing = [
        ticket("支付失败", "您好，我昨天下单，支付失败了，麻烦帮忙处理。谢谢！"),
        ticket("付款时支付失败", "页面提示支付失败，订单号 202405011234。"),
        ticket("支付失败怎么办"),
        ticket("急！支付失败", "刚才支付失败，钱被扣了吗？"),
    ]
    current = [ticket("发票"), failing[0], ticket("发票抬头"), *failing[1:], ticket("开发票")]
    previous = [quiet_week("支付失败"), quiet_week(), quiet_week("退款"), quiet_week()]
    topics = hot_topics(current, previous)
    assert (
        topics[0]
        == HotTopic(
            term="支付失败",
            count=4,
            baseline=0.25,
            change=3.8,  # 4 - 0.25 = 3.75
            examples=ids(failing[:3]),
        )
    )
    # 支付 and 失败 are in the same four tickets: one topic, not three. 发票 is there every week.
    assert listed(topics) == ["支付失败"]


def test_traditional_and_simplified_tickets_are_one_topic() -> None:
    current = [
        ticket("帳號異常", "我的帳號異常"),
        ticket("账号异常"),
        ticket("帳號異常了"),
        ticket("账号异常", "账号异常，怎么回事"),
    ]
    [topic] = hot_topics(current, [])
    assert (topic.term, topic.count, topic.examples) == ("账号异常", 4, ids(current[:3]))


def test_english_inflections_are_one_topic_shown_as_customers_wrote_it() -> None:
    current = [
        ticket("Where is my refund"),
        ticket("Refunds missing", "Two refunds are missing."),
        ticket("Not refunded yet"),
        ticket("Refunds?"),
    ]
    [topic] = hot_topics(current, [[ticket("refund")]])
    # refunds is written three times, refund and refunded once each.
    assert (topic.term, topic.count, topic.baseline, topic.change) == ("refunds", 4, 1.0, 3.0)


def test_mixed_chinese_and_english_mail() -> None:
    current = [
        ticket("ＡＰＰ闪退", "App闪退了，crash on start"),
        ticket("app 闪退"),
        ticket("Our APP闪退 again", "The app crashes on start."),
        ticket("Login error 登录报错"),
        ticket("login error", "登录报错"),
        ticket("登录报错", "login error"),
    ]
    topics = hot_topics(current, [])
    assert [(t.term, t.count) for t in topics] == [
        ("app闪退", 3),
        ("login error", 3),
        ("登录报错", 3),
    ]


def test_the_score_rewards_absolute_and_relative_rises() -> None:
    new = [ticket("退款到账慢") for _ in range(4)]  # 4 against 0: scores 4.0
    grown = [ticket("发票") for _ in range(12)]  # 12 against 6: scores 6 / √7 ≈ 2.3
    more = [ticket("物流") for _ in range(9)]  # 9 against 6: scores 3 / √7 ≈ 1.1
    previous = [[ticket("发票") for _ in range(6)] + [ticket("物流") for _ in range(6)]] * 4
    topics = hot_topics([*grown, *more, *new], previous)
    assert [(t.term, t.count, t.baseline) for t in topics] == [
        ("退款到账", 4, 0.0),  # 退款 + 到账: one phrase, as 退款到账 has all of both words' tickets
        ("发票", 12, 6.0),
        ("物流", 9, 6.0),
    ]


def test_a_stable_or_falling_term_is_not_listed() -> None:
    week = [ticket("发票"), ticket("发票"), ticket("发票"), ticket("物流"), ticket("物流")]
    falling = [*week[:3], *(ticket("物流") for _ in range(6))]
    assert (
        hot_topics(week, [week, week, falling, week]) == []
    )  # 发票: 3 against 3, 物流: 2 against 3


def test_a_word_with_its_own_tickets_is_listed_beside_its_phrase() -> None:
    failed = [ticket("支付失败") for _ in range(3)]
    other = [ticket("支付 方式"), ticket("支付 页面"), ticket("支付 金额")]
    topics = hot_topics([*failed, *other], [])
    assert [(t.term, t.count) for t in topics] == [("支付", 6), ("支付失败", 3)]


def test_overlapping_phrases_are_one_topic() -> None:
    # 微信 支付 失败: all five terms are in the same tickets. 失败, first of the equals
    # alphabetically, gives its place to 支付失败, which then stands for 微信支付 as well.
    current = [
        ticket("微信支付失败"),
        ticket("微信支付失败了"),
        ticket("微信 支付失败"),
        ticket("发票"),
    ]
    assert listed(hot_topics(current, [])) == ["支付失败"]


def test_with_no_history_everything_frequent_is_rising() -> None:
    current = [ticket("退款") for _ in range(3)] + [ticket("发票") for _ in range(2)]
    assert [(t.term, t.baseline, t.change) for t in hot_topics(current, [])] == [("退款", 0.0, 3.0)]


WORDS = ["invoice", "refund", "login", "password", "shipping", "coupon", "printer", "router"]


def test_the_limit_is_respected() -> None:
    current = [ticket(word) for word in WORDS for _ in range(3)]
    assert len(hot_topics(current, [])) == len(WORDS)
    assert len(hot_topics(current, [], limit=3)) == 3
    assert hot_topics(current, [], limit=0) == []


def test_ties_are_broken_by_count_then_alphabetically() -> None:
    counts = {"router": 5, "printer": 4, "coupon": 4, "invoice": 3}
    current = [ticket(word) for word, n in counts.items() for _ in range(n)]
    expected = ["router", "coupon", "printer", "invoice"]
    assert listed(hot_topics(current, [])) == expected
    assert listed(hot_topics(current[::-1], [])) == expected


def test_the_same_answer_in_any_process(tmp_path: Path) -> None:
    """Sets are ordered by string hashes, which differ between processes."""
    script = (
        "from maild.topics import Document, hot_topics, clusters\n"
        "words = ['invoice', 'refund', 'login', 'password', 'shipping', 'coupon', '支付失败']\n"
        "docs = [Document(f'MD-{i}', f'c{i % 5}@x', w + ' ' + words[i % 3], '')\n"
        "        for i, w in enumerate(w for w in words for _ in range(4))]\n"
        "print(hot_topics(docs, [docs[:9]]), clusters(docs, min_customers=2))\n"
    )
    answers = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(answers) == 1 and "HotTopic" in answers.pop()


def test_no_tickets_no_topics() -> None:
    assert hot_topics([], []) == []
    assert hot_topics([], [[ticket("退款")] * 3]) == []
    assert hot_topics([ticket(""), ticket("", "")], [[], []]) == []
    assert terms(ticket("", "")) == frozenset()


# --- near-duplicate clusters -----------------------------------------------------------------


def test_one_outage_reported_in_different_words_is_one_cluster() -> None:
    outage_zh = [
        ticket("系统崩溃 无法登录后台", "今天上午系统崩溃，后台登录页面报错。"),
        ticket("系統崩潰，無法登入後台", "系統崩潰了，後台登入頁面報錯！"),  # Traditional
        ticket("后台登录页面报错", "系统崩溃，后台打不开"),
        ticket("急！系统崩溃", "后台登录页面报错，系统崩溃"),
    ]
    outage_en = [
        ticket("Dashboard crashed", "The dashboard crashed, login page error."),
        ticket("dashboard crashes", "Dashboard crashes on the login page with an error"),
        ticket("Login page error", "dashboard crash again"),
        ticket("URGENT: dashboard crash", "login page error after the dashboard crash"),
    ]
    unrelated = [
        ticket("发票抬头写错了", "请重新开发票"),
        ticket("退款什么时候到账"),
        ticket("Refund for order", "I want a refund for my order"),
        ticket("Change my password", "How do I change the password?"),
        ticket("物流太慢", "快递一周还没到"),
    ]
    everything = [*unrelated[:2], *outage_zh[:2], *outage_en[:2], *unrelated[2:], *outage_zh[2:]]
    everything += outage_en[2:]
    assert clusters(everything) == [
        Cluster(label="系统崩溃 无法登录后台", tickets=ids(outage_zh), customers=4),
        Cluster(label="Dashboard crashed", tickets=ids(outage_en), customers=4),
    ]


def test_a_cluster_needs_enough_customers() -> None:
    same = "Printer offline", "The printer shows offline again"
    one_customer = [ticket(*same, customer="bob@example.com") for _ in range(3)]
    two_more = [ticket(*same, customer=c) for c in ("ann@example.com", "cy@example.com")]
    assert clusters(one_customer) == []
    assert clusters(one_customer, min_customers=1) == [
        Cluster("Printer offline", ids(one_customer), 1)
    ]
    assert clusters([*one_customer, *two_more]) == [
        Cluster("Printer offline", ids([*one_customer, *two_more]), 3)
    ]


def test_the_largest_cluster_comes_first_and_labels_are_one_short_line() -> None:
    long_subject = "Printer offline\tagain " + "and again " * 10
    small = [ticket(long_subject, "printer offline") for _ in range(3)]
    large = [ticket("支付失败", "支付失败") for _ in range(4)]
    found = clusters([*small, *large])
    assert [c.tickets for c in found] == [ids(large), ids(small)]
    assert len(found[1].label) == 80 and found[1].label.endswith("…")
    assert found[1].label.startswith("Printer offline again and again")


def test_unrelated_or_empty_tickets_do_not_cluster() -> None:
    unrelated = [ticket(word) for word in WORDS]
    empty = [ticket("您好", "谢谢！") for _ in range(4)]  # nothing but boilerplate: no terms
    assert clusters([*unrelated, *empty]) == []
    assert clusters([]) == []


@pytest.mark.parametrize(("extra", "joined"), [(5, True), (6, False)])
def test_near_duplicates_share_at_least_half_their_terms(extra: int, joined: bool) -> None:
    # 5 terms (invoic, printer, coupon, invoic printer, printer coupon), all in the other ticket,
    # which has `extra` more words: similarity 5/10 = 0.5 joins, 5/11 does not.
    more = ", ".join(["laptop", "router", "modem", "scanner", "toner", "mouse"][:extra])
    first, second = ticket("invoice printer coupon"), ticket(f"invoice printer coupon, {more}")
    assert len(terms(second)) == 5 + extra
    found = clusters([first, second], min_customers=2)
    assert found == ([Cluster("invoice printer coupon", ids([first, second]), 2)] if joined else [])
