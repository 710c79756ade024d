"""The digest as mail: a real MIME message (HTML with a plain-text alternative), every section
present in both, customer text escaped, no images, scripts or remote content, zh and en."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from maild.config import DigestList
from maild.notify.compose import to_mime
from maild.notify.digest import draft_digest, render
from maild.report import to_json
from tests.digest_fixtures import HOSTILE, REPORTED_AT, sample_report

SECTIONS = ("glance", "figures", "sla", "volume", "backlog", "times", "satisfaction",
            "complainants", "topics", "agents")  # fmt: skip


class _Sections(HTMLParser):
    """The text of each <td id=…> section, and every tag and attribute seen."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []
        self._current: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        found = dict(attrs).get("id")
        if tag == "td" and found:
            self._current, self._depth = found, 0
            self.text[found] = ""
        elif tag == "td" and self._current:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._current:
            if self._depth == 0:
                self._current = None
            else:
                self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._current:
            self.text[self._current] += data


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return sample_report(tmp_path_factory.mktemp("digest"))


def mail(sample: tuple, language: str) -> EmailMessage:
    report, config = sample
    rendered = render(report, config, language)
    recipients = DigestList(("ceo@maild.test", "cto@maild.test"), language)
    raw = to_mime(draft_digest(config, rendered, recipients, REPORTED_AT))
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def sections(message: EmailMessage) -> _Sections:
    parser = _Sections()
    parser.feed(message.get_body(("html",)).get_content())
    return parser


def test_the_figures_of_the_sample_week(sample: tuple) -> None:
    figures = to_json(sample[0])
    # Three payment tickets met both commitments; chen's missed both; the billing one met both.
    assert (figures["opened"], figures["closed"], figures["backlog"]) == (5, 4, 1)
    assert figures["sla"]["first_response"] == {"met": 4, "missed": 1, "compliance": 0.8}
    assert [(b["ticket"], b["commitment"]) for b in figures["breaches"]] == [
        ("MD-1008", "resolve"),
        ("MD-1008", "first_response"),
    ]  # the longest overrun first
    assert figures["closes"] == {"confirmed": 3, "silence": 0, "agent": 1}
    assert figures["hot_topics"][0]["term"] == "支付失败"
    assert figures["hot_topics"][0]["count"] == 4
    assert figures["clusters"][0]["customers"] >= 3


def test_mime_structure_headers_and_both_parts(sample: tuple) -> None:
    message = mail(sample, "en")
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["To"] == "ceo@maild.test, cto@maild.test"
    assert message["X-Maild-Ticket"] is None
    assert message["Subject"] == "Weekly support digest 2026-W47: SLA 80% met, 2 breaches"
    assert message.get_body(("html",)).get_content_charset() == "utf-8"
    text = message.get_body(("plain",)).get_content()
    for heading in ("At a glance", "Service commitments", "Volume", "Backlog",
                    "Response and resolution times", "Customer satisfaction",
                    "Repeated complainants", "Hot topics", "Agent load"):  # fmt: skip
        assert f"== {heading} ==" in text


def test_every_section_of_the_html_says_what_it_should(sample: tuple) -> None:
    found = sections(mail(sample, "en"))
    assert list(found.text) == list(SECTIONS)
    text = found.text
    assert "First response, p90" in text["figures"] and "↑" in text["figures"]
    assert "MD-1008" in text["sla"] and "still open" in text["sla"]
    assert "Opened 5, resolved 3, closed 4" in text["volume"]
    assert "closed at the period's end: 1." in text["backlog"]
    assert "30 min" in text["times"]
    assert "MD-1009" in text["satisfaction"] and HOSTILE in text["satisfaction"]
    assert "angry@example.com" in text["complainants"]
    assert "支付失败" in text["topics"] and "MD-1005" in text["topics"]
    assert "Alice Wang" in text["agents"] and "Bob Li" in text["agents"]
    assert "支付失败" in text["glance"]  # the rising topic is a headline note


def test_customer_text_is_escaped_and_nothing_is_fetched_or_run(sample: tuple) -> None:
    message = mail(sample, "en")
    html = message.get_body(("html",)).get_content()
    assert "&lt;script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    found = sections(message)
    assert not found.tags & {"script", "img", "svg", "style", "link", "iframe", "object"}
    assert not [a for a in found.attributes if a[0] in ("src", "href") or a[0].startswith("on")]
    assert HOSTILE in message.get_body(("plain",)).get_content()  # plain text stays verbatim


def test_chinese_edition(sample: tuple) -> None:
    message = mail(sample, "zh")
    assert message["Subject"] == "客服周报 2026-W47：SLA 达成 80%，违约 2 单"
    assert message["Content-Language"] == "zh-CN"
    text = sections(message).text
    assert "新建 5，解决 3，关闭 4" in text["volume"]
    assert "仍未完成" in text["sla"]
    assert "热点问题" in text["topics"]


def test_an_empty_week_still_reads_well(tmp_path: Path) -> None:
    from maild.periods import parse_period
    from maild.report import build
    from maild.store import Store
    from tests.digest_fixtures import SHANGHAI, digest_config

    config = digest_config(tmp_path)
    with Store.open(tmp_path) as store:
        report = build(store, config, parse_period("2026-W47", SHANGHAI), REPORTED_AT)
    rendered = render(report, config, "en")
    assert rendered.subject == (
        "Weekly support digest 2026-W47: no SLA commitment decided, 0 tickets opened"
    )
    assert "No commitment was broken." in rendered.text
    assert "No topic rose enough to report." in rendered.text


def test_a_bad_week_is_capped_so_mail_clients_show_all_of_it(sample: tuple) -> None:
    report, config = sample
    breach = report.metrics.breaches[0]
    many = [replace(breach, ticket_id=f"MD-{9000 + n}") for n in range(400)]
    metrics = replace(report.metrics, breaches=many)
    rendered = render(replace(report, metrics=metrics), config, "en")
    assert "MD-9024" in rendered.html and "MD-9025" not in rendered.html  # the first 25
    assert "…and 375 more: maild digest --json lists them all." in rendered.text
    assert len(rendered.html.encode()) < 100_000  # Gmail clips mail from about 102 KB
