"""Hot topics and near-duplicate clusters, on hand-built tickets: Chinese segmented (Simplified
and Traditional counted together), English stemmed, boilerplate and numbers never a topic."""

from __future__ import annotations

from maild.topics import Document, clusters, hot_topics, terms


def doc(number: int, subject: str, body: str = "", customer: str | None = None) -> Document:
    return Document(f"MD-{number}", customer or f"c{number}@example.com", subject, body)


def week(*subjects: str, first: int = 1) -> list[Document]:
    return [doc(first + i, subject) for i, subject in enumerate(subjects)]


def test_a_rising_chinese_topic_comes_first_with_count_baseline_change_and_examples() -> None:
    current = [
        doc(101, "支付失败", "今天下单时支付失败了。"),
        doc(102, "还是支付失败", "信用卡支付失败，请处理。"),
        doc(103, "订单问题", "付款页面显示支付失败。"),
        doc(104, "支付失败怎么办", ""),
        doc(105, "发票抬头", "请修改发票抬头。"),
    ]
    before = [week("支付失败"), week("发票抬头"), week("发票抬头"), week()]
    [top, *rest] = hot_topics(current, before)
    # 4 tickets now; 1 ticket in four weeks before: baseline 0.25, change 3.75 → 3.8.
    assert (top.term, top.count, top.baseline, top.change) == ("支付失败", 4, 0.25, 3.8)
    assert top.examples == ("MD-101", "MD-102", "MD-103")
    assert all(t.term not in ("支付", "失败") for t in rest)  # the phrase stands for its words


def test_traditional_and_simplified_count_as_one_and_boilerplate_never_shows() -> None:
    current = [
        doc(1, "帳號無法登入", "您好，我的帳號無法登入，謝謝！"),
        doc(2, "账号无法登录", "你好，账号无法登录，麻烦尽快处理，谢谢"),
        doc(3, "账号登录不了", "您好 请问账号为什么登录不了？谢谢您"),
    ]
    found = {t.term: t.count for t in hot_topics(current, [])}
    assert found.get("账号") == 3
    for boilerplate in ("您好", "你好", "谢谢", "麻烦", "请问", "問題", "问题"):
        assert boilerplate not in found


def test_english_inflections_are_one_topic_shown_as_customers_wrote_it() -> None:
    current = [
        doc(1, "Refund please", "I want my refund."),
        doc(2, "Where are my refunds?", "Two refunds are missing."),
        doc(3, "Refunded twice?", "You refunded the wrong card. Refunds take long."),
    ]
    [top] = [t for t in hot_topics(current, []) if t.term.startswith("refund")]
    assert top.count == 3
    assert top.term == "refunds"  # the form written most this week


def test_numbers_addresses_links_tokens_quotes_and_signatures_are_not_words() -> None:
    found = terms(
        doc(
            1,
            "Re: [#MD-1042] order 88231 failed",
            "Order 88231 failed, see https://shop.example.com/o/88231 or write bob@corp.example\n"
            "> quoted history about invoices\n"
            "-- \nBob Builder, Acme Widgets\n",
        )
    )
    assert "order fail" in found or "fail" in found
    for absent in (
        "88231",
        "md",
        "1042",
        "https",
        "shop",
        "bob",
        "corp",
        "invoic",
        "acm",
        "widget",
    ):
        assert not any(absent in term for term in found), absent


def test_a_steady_topic_is_not_listed_and_the_order_is_deterministic() -> None:
    steady = ["Login error", "Login error", "Login error"]
    current = week(*steady, "Printer jam", "Printer jam", "Printer jam")
    before = [week(*steady), week(*steady), week(*steady), week(*steady)]
    found = hot_topics(current, before)
    assert [t.term for t in found] == [t.term for t in hot_topics(current, before)]
    terms_found = {t.term for t in found}
    assert "printer jam" in terms_found
    assert not terms_found & {"login", "error", "login error"}


def test_fewer_than_three_tickets_is_not_a_topic_and_the_limit_holds() -> None:
    assert hot_topics(week("Printer jam", "Printer jam"), []) == []
    many = [doc(i, f"topic{chr(97 + i % 12)}word gadget{chr(97 + i % 12)}") for i in range(48)]
    assert len(hot_topics(many, [], limit=5)) == 5
    assert hot_topics([], []) == []


def test_mixed_chinese_and_english_mail() -> None:
    current = [
        doc(1, "App 闪退", "升级后 app 一打开就闪退 crash"),
        doc(2, "闪退", "The app crashes, 一直闪退"),
        doc(3, "app crash 闪退", ""),
    ]
    found = {t.term: t.count for t in hot_topics(current, [])}
    assert found.get("闪退") == 3  # a support word jieba's dictionary lacks, kept whole


def test_the_same_outage_from_many_customers_is_one_cluster() -> None:
    outage = [
        doc(1, "Cloud sync fails with error SYNC-503", "Cloud sync fails since this morning."),
        doc(2, "cloud sync failing, SYNC-503", "Our cloud sync fails every time."),
        doc(3, "Cloud sync fails (503)", "cloud sync fails again"),
        doc(4, "Sync fails: cloud", "The cloud sync fails for all users."),
    ]
    others = [
        doc(5, "Invoice address change", "Please change our billing address."),
        doc(6, "Password reset mail missing", "The reset mail never arrives."),
    ]
    [cluster] = clusters([*outage[:2], others[0], *outage[2:], others[1]])
    assert cluster.tickets == ("MD-1", "MD-2", "MD-3", "MD-4")
    assert cluster.customers == 4
    assert cluster.label == "Cloud sync fails with error SYNC-503"


def test_one_customer_writing_three_times_is_not_a_cluster_of_many() -> None:
    same = [doc(i, "Cloud sync fails", "cloud sync fails", customer="one@example.com")
            for i in range(3)]  # fmt: skip
    assert clusters(same) == []
    assert [c.customers for c in clusters(same, min_customers=1)] == [1]
    assert clusters([]) == []
