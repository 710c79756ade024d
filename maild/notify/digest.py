"""The digest as mail: one view of the report (sections of lines, bars and tables) rendered
twice, as HTML for mail clients and as its plain-text alternative.

Pure. The HTML is what Outlook, Gmail and phones all show: tables for layout, inline styles,
bars drawn as table cells (no images, SVG or scripts). Every value, the customers' own words
included, goes through Jinja2's HTML autoescaping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jinja2

from maild.clock import iso
from maild.config import Config, DigestList
from maild.metrics import AGE_BUCKETS, SCORES, Metrics
from maild.notify.compose import Draft, new_message_id, one_line
from maild.notify.digest_words import FIGURE_NAMES, WORDS
from maild.notify.wording import COMMITMENT_NAMES, PRIORITY_NAMES, moment
from maild.report import Report
from maild.trends import Figure, Note

_html = jinja2.Environment(
    loader=jinja2.PackageLoader("maild.notify", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_text = jinja2.Environment(
    loader=jinja2.PackageLoader("maild.notify", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # plain text: escaping would corrupt it
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

# Caps that keep the mail under ~100 KB (Gmail clips longer mail) in a bad week; the JSON and
# `maild tickets` have the rest.
SHOWN_ROWS = 25
SHOWN_CLUSTERS = 8
SHOWN_IDS = 6
COMMENT_CHARS = 300
TONES = {"better": "#15803d", "worse": "#b91c1c", "": "#475569"}
BAR_COLOURS = {"neutral": "#2563eb", "good": "#16a34a", "bad": "#dc2626", "warn": "#d97706"}


@dataclass(frozen=True)
class Cell:
    text: str
    tone: str = ""  # "better", "worse" or ""
    strong: bool = False


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str
    fraction: float  # 0..1 of the widest bar
    colour: str = BAR_COLOURS["neutral"]


@dataclass
class Section:
    key: str  # stable id, for readers' tools and tests
    title: str
    lines: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    bars: list[list[Bar]] = field(default_factory=list)  # each a chart
    bar_titles: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[Cell]]]] = field(default_factory=list)
    table_titles: list[str] = field(default_factory=list)

    def chart(self, bars: list[Bar], title: str = "") -> None:
        self.bars.append(bars)
        self.bar_titles.append(title)

    def table(self, headers: list[str], rows: list[list[Cell]], title: str = "") -> None:
        self.tables.append((headers, rows))
        self.table_titles.append(title)


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class _Format:
    """Numbers as the reader's language writes them."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.words = WORDS[language]

    def number(self, value: float | None, unit: str) -> str:
        if value is None:
            return self.words["none"]
        if unit == "seconds":
            return self.duration(value)
        if unit == "ratio":
            return self.percent(value)
        if unit == "score":
            return f"{value:.1f}"
        return f"{value:g}" if value != int(value) else str(int(value))

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return self.words["none"]
        if seconds < 3600:
            minutes = round(seconds / 60)
            return f"{minutes}分钟" if self.language == "zh" else f"{minutes} min"
        hours = seconds / 3600
        return f"{hours:.1f}小时" if self.language == "zh" else f"{hours:.1f} h"

    def percent(self, ratio: float | None) -> str:
        if ratio is None:
            return self.words["none"]
        return f"{round(ratio * 100, 1):g}%"  # 60%, 92.5%, 100%


def render(report: Report, config: Config, language: str) -> Rendered:
    """The digest in one language: subject, HTML and the plain-text alternative."""
    fmt = _Format(language)
    words = fmt.words
    m = report.metrics
    period = report.period
    title = words[period.kind]
    zone = config.digest.timezone
    last_day = period.end - timedelta(seconds=1)
    last_day = last_day.astimezone(period.start.tzinfo)
    span = words["span"].format(
        start=f"{period.start:%Y-%m-%d}", end=f"{last_day:%Y-%m-%d}", zone=zone
    )
    sla = m.sla
    if sla.decided:
        subject = words["subject"].format(
            title=title, label=period.label, sla=fmt.percent(sla.rate),
            breaches=len(m.breaches), plural="" if len(m.breaches) == 1 else "es",
        )  # fmt: skip
    else:
        subject = words["subject_none"].format(title=title, label=period.label, opened=m.opened)
    values = {
        "title": f"{title} {period.label}",
        "span": span,
        "so_far": "" if report.complete else words["so_far"].format(
            now=moment(report.generated_at, zone)),
        "sections": _sections(report, fmt),
        "footer": words["footer"].format(now=moment(report.generated_at, zone)),
        "tones": TONES,
        "language": language,
    }  # fmt: skip
    html = _html.get_template("digest.html.j2").render(**values)
    text = _text.get_template("digest.txt.j2").render(**values)
    return Rendered(one_line(subject, 200), html, text)


def _sections(report: Report, fmt: _Format) -> list[Section]:
    return [
        _glance(report, fmt),
        _figures(report.figures, fmt),
        _sla(report.metrics, fmt),
        _volume(report.metrics, fmt),
        _backlog(report.metrics, fmt),
        _times(report.metrics, fmt),
        _satisfaction(report.metrics, fmt),
        _complainants(report.metrics, fmt),
        _topics(report, fmt),
        _agents(report.metrics, fmt),
    ]


def _glance(report: Report, fmt: _Format) -> Section:
    section = Section("glance", fmt.words["glance"])
    section.bullets = [_note(note, fmt) for note in report.notes] or [fmt.words["quiet"]]
    return section


def _note(note: Note, fmt: _Format) -> str:
    words, v = fmt.words, note.values
    if note.kind == "figure":
        return words["note_figure"].format(
            name=FIGURE_NAMES[fmt.language][v["key"]],
            moved=words["rose"] if v["direction"] == "up" else words["fell"],
            before=fmt.number(v["before"], v["unit"]),
            after=fmt.number(v["after"], v["unit"]),
        )
    if note.kind == "breaches_in":
        where = v[v["by"]]
        label = words["category"] if v["by"] == "category" else words["team"]
        where = f"“{where}”{label}" if fmt.language == "zh" else f"{label.lower()} {where}"
        return words["note_breaches_in"].format(count=v["count"], total=v["total"], where=where)
    if note.kind == "topic" and not v["baseline"]:
        return words["note_topic_new"].format(term=v["term"], count=v["count"])
    if note.kind == "topic":
        return words["note_topic"].format(
            term=v["term"], count=v["count"], baseline=f"{v['baseline']:.1f}"
        )
    if note.kind == "cluster":
        return words["note_cluster"].format(**{**v, "label": one_line(v["label"], 80)})
    return words[f"note_{note.kind}"].format(**v)


def _figures(figures: Sequence[Figure], fmt: _Format) -> Section:
    words = fmt.words
    headers = [words["figure"], words["this"], words["last"], words["average"], words["trend"]]
    rows = [
        [
            Cell(FIGURE_NAMES[fmt.language][f.headline.key]),
            Cell(fmt.number(f.value, f.headline.unit), strong=True),
            Cell(fmt.number(f.last, f.headline.unit)),
            Cell(fmt.number(f.average, f.headline.unit)),
            Cell(f.arrow or words["none"], tone=f.verdict),
        ]
        for f in figures
    ]
    section = Section("figures", words["figures"])
    section.table(headers, rows)
    return section


def _sla(m: Metrics, fmt: _Format) -> Section:
    words, names = fmt.words, COMMITMENT_NAMES[fmt.language]
    section = Section("sla", words["sla"])
    chart = []
    for commitment, c in m.compliance.items():
        chart.append(_rate_bar(names[commitment], c.rate, fmt))
    for priority, c in m.compliance_by_priority.items():
        chart.append(_rate_bar(PRIORITY_NAMES[fmt.language][priority], c.rate, fmt))
    if m.sla.decided:
        section.chart(chart, words["rate"])
    headers = [words["commitment"], words["met"], words["missed"], words["rate"]]
    rows = [
        [Cell(names[k]), Cell(str(c.met)), Cell(str(c.missed)), Cell(fmt.percent(c.rate))]
        for k, c in m.compliance.items()
    ]
    rows += [
        [Cell(f"{words['priority']}: {PRIORITY_NAMES[fmt.language][k]}"), Cell(str(c.met)),
         Cell(str(c.missed)), Cell(fmt.percent(c.rate))]
        for k, c in m.compliance_by_priority.items()
    ]  # fmt: skip
    rows.append(
        [Cell(words["overall"], strong=True), Cell(str(m.sla.met)), Cell(str(m.sla.missed)),
         Cell(fmt.percent(m.sla.rate), strong=True)]
    )  # fmt: skip
    section.table(headers, rows)
    if m.breaches:
        # Five columns, so a phone shows it: who and where share one.
        headers = [words["ticket"], words["commitment"], words["where"], words["overrun"],
                   words["state"]]  # fmt: skip
        priorities = PRIORITY_NAMES[fmt.language]
        rows = [
            [Cell(b.ticket_id, strong=True),
             Cell(f"{names[b.commitment]} ({priorities[b.priority]})"),
             Cell(" · ".join(x for x in (b.category, b.team, b.assignee) if x)),
             Cell(fmt.duration(b.overrun_s), tone="worse"),
             Cell(words["still_open"] if b.still_open else words["done"],
                  tone="worse" if b.still_open else "")]
            for b in m.breaches[:SHOWN_ROWS]
        ]  # fmt: skip
        section.table(headers, rows, f"{words['breaches']} ({len(m.breaches)})")
        _more(section, len(m.breaches), fmt)
    else:
        section.lines.append(words["no_breaches"])
    levels = ", ".join(
        words["level"].format(level=level, count=count)
        for level, count in sorted(m.escalations.items())
    )
    escalated = sum(m.escalations.values())
    section.lines.append(
        words["escalations"].format(
            warnings=m.warnings, escalations=f"{escalated} ({levels})" if levels else escalated
        )
    )
    section.lines.append(words["updates"].format(sent=m.updates_sent, on_time=m.updates_on_time))
    return section


def _rate_bar(label: str, rate: float | None, fmt: _Format) -> Bar:
    colour = BAR_COLOURS[
        "good" if rate is None or rate >= 0.95 else "warn" if rate >= 0.8 else "bad"
    ]
    return Bar(label, fmt.percent(rate), rate or 0.0, colour)


def _count_bars(counts: Mapping[str, int], labels: Mapping[str, str] | None = None) -> list[Bar]:
    widest = max(counts.values(), default=0) or 1
    return [
        Bar((labels or {}).get(key, key), str(count), count / widest)
        for key, count in counts.items()
    ]


def _volume(m: Metrics, fmt: _Format) -> Section:
    words = fmt.words
    section = Section("volume", words["volume"])
    section.lines.append(
        words["volume_line"].format(
            opened=m.opened, resolved=m.resolved, closed=m.closed, reopened=m.reopened,
            reopen_rate=fmt.percent(m.reopen_rate), merged=m.merged,
        )
    )  # fmt: skip
    priorities = PRIORITY_NAMES[fmt.language]
    by_priority = {p: m.opened_by_priority[p] for p in priorities if m.opened_by_priority[p]}
    for title, counts, labels in (
        (words["by_priority"], by_priority, priorities),
        (words["by_category"], _ranked(m.opened_by_category), None),
        (words["by_team"], _ranked(m.opened_by_team), None),
    ):
        if counts:
            section.chart(_count_bars(counts, labels), title)
    closes = {words[k]: m.closes[k] for k in ("confirmed", "silence", "agent")}
    if any(closes.values()):
        section.chart(_count_bars(closes), words["closes"])
    return section


def _ranked(counts: Counter[str], limit: int = 12) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])


def _backlog(m: Metrics, fmt: _Format) -> Section:
    words = fmt.words
    section = Section("backlog", words["backlog"])
    section.lines.append(words["backlog_line"].format(count=m.backlog))
    if m.backlog:
        section.chart(
            _count_bars({name: m.backlog_age[name] for name, _ in AGE_BUCKETS}),
            words["backlog_age"],
        )
        priorities = PRIORITY_NAMES[fmt.language]
        counts = {p: m.backlog_by_priority[p] for p in priorities if m.backlog_by_priority[p]}
        section.chart(_count_bars(counts, priorities), words["priority"])
    return section


def _times(m: Metrics, fmt: _Format) -> Section:
    words = fmt.words
    section = Section("times", words["times"])
    section.lines.append(words["times_line"])
    headers = ["", words["tickets"], words["median"], words["p90"]]
    rows = [
        [Cell(words["first_response"]), Cell(str(len(m.first_response_s))),
         Cell(fmt.duration(m.first_response_median_s), strong=True),
         Cell(fmt.duration(m.first_response_p90_s))],
        [Cell(words["resolution"]), Cell(str(len(m.resolution_s))),
         Cell(fmt.duration(m.resolution_median_s), strong=True),
         Cell(fmt.duration(m.resolution_p90_s))],
    ]  # fmt: skip
    section.table(headers, rows)
    return section


def _satisfaction(m: Metrics, fmt: _Format) -> Section:
    words = fmt.words
    section = Section("satisfaction", words["satisfaction"])
    if not m.scores:
        section.lines.append(words["no_ratings"])
        return section
    mean = m.satisfaction_mean
    section.lines.append(
        words["satisfaction_line"].format(responses=len(m.scores), mean=f"{mean:.1f}")
    )
    distribution = m.satisfaction_distribution
    widest = max(distribution.values()) or 1
    bars = [
        Bar("★" * score, str(distribution[score]), distribution[score] / widest,
            BAR_COLOURS["bad" if score <= 2 else "neutral" if score == 3 else "good"])
        for score in reversed(SCORES)
    ]  # fmt: skip
    section.chart(bars, words["score"])
    if m.low_scores:
        headers = [words["ticket"], words["score"], words["low_scores"]]
        rows = [
            [Cell(s.ticket_id, strong=True), Cell(str(s.score), tone="worse"),
             Cell(one_line(s.comment, COMMENT_CHARS) or words["no_comment"])]
            for s in m.low_scores[:SHOWN_ROWS]
        ]  # fmt: skip
        section.table(headers, rows, words["low_scores"])
        _more(section, len(m.low_scores), fmt)
    return section


def _complainants(m: Metrics, fmt: _Format) -> Section:
    words = fmt.words
    section = Section("complainants", words["complainants"])
    if not m.complainants:
        section.lines.append(words["no_complainants"])
        return section
    headers = [words["who"], words["tickets"]]
    rows = [[Cell(c.who, strong=True), Cell(_some(c.tickets))] for c in m.complainants[:SHOWN_ROWS]]
    section.table(headers, rows)
    _more(section, len(m.complainants), fmt)
    return section


def _topics(report: Report, fmt: _Format) -> Section:
    words = fmt.words
    section = Section("topics", words["topics"])
    section.lines.append(words["topics_line"])
    if report.topics:
        headers = [
            words["term"],
            words["count"],
            words["before"],
            words["change"],
            words["examples"],
        ]
        rows = [
            [Cell(t.term, strong=True), Cell(str(t.count)), Cell(f"{t.baseline:.1f}"),
             Cell(f"↑ +{t.change:g}", tone="worse"), Cell(", ".join(t.examples))]
            for t in report.topics
        ]  # fmt: skip
        section.table(headers, rows)
    else:
        section.lines.append(words["no_topics"])
    if report.clusters:
        headers = [words["cluster"], words["customers"], words["tickets"]]
        rows = [
            [Cell(one_line(c.label, 80), strong=True), Cell(str(c.customers)),
             Cell(f"{len(c.tickets)}: {_some(c.tickets)}")]
            for c in report.clusters[:SHOWN_CLUSTERS]
        ]  # fmt: skip
        section.table(headers, rows, words["clusters"])
        _more(section, len(report.clusters), fmt, shown=SHOWN_CLUSTERS)
    else:
        section.lines.append(words["no_clusters"])
    return section


def _some(ticket_ids: Sequence[str]) -> str:
    """The first few ticket ids, and how many more: a cluster of 50 is not 50 ids."""
    shown = ", ".join(ticket_ids[:SHOWN_IDS])
    return shown if len(ticket_ids) <= SHOWN_IDS else f"{shown}, … (+{len(ticket_ids) - SHOWN_IDS})"


def _more(section: Section, total: int, fmt: _Format, shown: int = SHOWN_ROWS) -> None:
    """Say what a capped list left out, and where the rest is."""
    if total > shown:
        section.lines.append(fmt.words["more"].format(count=total - shown))


def _agents(m: Metrics, fmt: _Format) -> Section:
    words = fmt.words
    section = Section("agents", words["agents"])
    if not m.agents:
        section.lines.append(words["no_agents"])
        return section
    headers = [words["assignee"], words["handled"], words["replies"], words["first_responses"],
               words["fr_median"], words["open_assigned"]]  # fmt: skip
    rows = [
        [Cell(a.name, strong=True), Cell(str(a.handled)), Cell(str(a.replies)),
         Cell(str(a.first_responses)), Cell(fmt.duration(a.first_response_median_s)),
         Cell(str(a.open_assigned))]
        for a in m.agents
    ]  # fmt: skip
    section.table(headers, rows)
    return section


def draft_digest(
    config: Config, rendered: Rendered, recipients: DigestList, now: datetime
) -> Draft:
    """The digest as an outgoing mail to one recipient list."""
    support = config.support
    return Draft(
        message_id=new_message_id(support),
        sender=support.address,
        sender_name=support.name,
        to=recipients.recipients,
        subject=rendered.subject,
        body=rendered.text,
        html=rendered.html,
        language=recipients.language,
        ticket_id="",
        in_reply_to=None,
        references=(),
        auto_submitted="auto-generated",
        date=iso(now),
    )
