"""Classification: rules from config decide a new ticket's priority, category and team.

Pure. Every rule that matches is considered: the ticket gets the highest priority any of them
sets and the category of the first one that sets a category, so an admin's own rules (listed
before the shipped ones) win on category while an outage keyword still makes anything urgent.
What matched is returned in words, stored on the ticket and shown to agents.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import opencc

PRIORITIES = ("urgent", "important", "general")
DEFAULT_PRIORITY = "general"
DEFAULT_CATEGORY = "general"
_RANK = {p: i for i, p in enumerate(PRIORITIES)}
# Rules read the first this-many characters of subject and body: what a message is about is at
# its top, and an admin's regex must not meet a hostile megabyte (catastrophic backtracking).
CLASSIFIED_CHARS = 20_000


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})  # "can’t", as mail programs type it


_TRADITIONAL_TO_SIMPLIFIED = opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """Full-width letters and digits folded (ＯＵＴＡＧＥ → outage), case folded, typographic
    apostrophes made plain (can’t → can't), Traditional Chinese as Simplified (無法登入 →
    无法登入), so one keyword list serves Big5 and GB customers alike."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    return _TRADITIONAL_TO_SIMPLIFIED.convert(folded)


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern for a keyword list: English words match whole words (no 'sue' in 'issue'),
    Chinese ones anywhere, since Chinese is written without spaces. Word boundaries are ASCII:
    an English word written against Chinese ("GDPR合规") is still a whole word."""
    parts = []
    for word in sorted({normalise(k) for k in keywords if k.strip()}, key=len, reverse=True):
        escaped = re.escape(word)
        head = r"\b" if re.match(r"\w", word, re.ASCII) else ""
        tail = r"\b" if re.search(r"\w$", word, re.ASCII) else ""
        parts.append(f"{head}{escaped}{tail}")
    return re.compile("|".join(parts), re.ASCII) if parts else None


@dataclass(frozen=True)
class Rule:
    """A named rule: what it looks for, and what it sets when it finds it."""

    name: str
    priority: str | None = None
    category: str | None = None
    subject: tuple[str, ...] = ()  # keywords in the subject
    body: tuple[str, ...] = ()  # keywords in the body
    text: tuple[str, ...] = ()  # keywords in either
    regex: str | None = None  # on subject and body
    from_domains: tuple[str, ...] = ()  # the sender's domain, or a parent domain of it
    to: tuple[str, ...] = ()  # the support address the customer wrote to
    complaint: bool = False  # counts towards the repeated-complaint alert
    subject_pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    body_pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    compiled_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Compile once: a rule is built at start-up and matched against every new ticket."""
        setattr_ = object.__setattr__  # the dataclass is frozen
        setattr_(self, "subject_pattern", _keyword_pattern(self.subject + self.text))
        setattr_(self, "body_pattern", _keyword_pattern(self.body + self.text))
        regex = re.compile(self.regex, re.IGNORECASE) if self.regex else None
        setattr_(self, "compiled_regex", regex)

    def match(self, subject: str, body: str, sender: str, recipients: Sequence[str]) -> str | None:
        """Why this rule matches the message, in words, or None. Inputs are normalised."""
        if self.from_domains:
            domain = sender.rpartition("@")[2]
            if not any(domain == d or domain.endswith("." + d) for d in self.from_domains):
                return None
            if not (self.subject or self.body or self.text or self.regex or self.to):
                return f"sender domain {domain}"
        if self.to:
            written_to = [r for r in recipients if r in self.to]
            if not written_to:
                return None
            if not (self.subject or self.body or self.text or self.regex):
                return f"written to {written_to[0]}"
        for where, pattern, value in (
            ("subject", self.subject_pattern, subject),
            ("body", self.body_pattern, body),
        ):
            found = pattern.search(value) if pattern else None
            if found:
                return f"{found.group(0)!r} in the {where}"
        if self.compiled_regex is not None:
            found = self.compiled_regex.search(f"{subject}\n{body}")
            if found:
                return f"/{self.regex}/ matched {found.group(0)[:40]!r}"
        return None


@dataclass(frozen=True)
class Team:
    """Who works a category: where notices and warnings go, and who is escalated to first."""

    name: str
    recipients: tuple[str, ...]
    lead: str | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Classification:
    priority: str
    category: str
    team: str | None
    matched: tuple[str, ...]  # "rule-name: why", one per matching rule
    complaint: bool


def classify(
    rules: Sequence[Rule],
    teams: Sequence[Team],
    *,
    subject: str,
    body: str,
    sender: str,
    recipients: Sequence[str],
) -> Classification:
    """The priority, category and team for a new ticket; 'general' when nothing matches."""
    subject_n, body_n = normalise(subject[:CLASSIFIED_CHARS]), normalise(body[:CLASSIFIED_CHARS])
    sender_n = sender.lower()
    recipients_n = [r.lower() for r in recipients]
    priority, category = DEFAULT_PRIORITY, None
    matched: list[str] = []
    complaint = False
    for rule in rules:
        why = rule.match(subject_n, body_n, sender_n, recipients_n)
        if why is None:
            continue
        matched.append(f"{rule.name}: {why}")
        complaint = complaint or rule.complaint
        if rule.priority and _RANK[rule.priority] < _RANK[priority]:
            priority = rule.priority
        if category is None and rule.category:
            category = rule.category
    category = category or DEFAULT_CATEGORY
    return Classification(priority, category, team_for(category, teams), tuple(matched), complaint)


def team_for(category: str, teams: Sequence[Team]) -> str | None:
    """The team that lists the category; else the team called 'support'; else the first."""
    for team in teams:
        if category in team.categories:
            return team.name
    for team in teams:
        if team.name == "support":
            return team.name
    return teams[0].name if teams else None


def _words(text: str) -> tuple[str, ...]:
    """A keyword list written as one string, '|' between keywords (phrases keep their spaces)."""
    return tuple(w.strip() for w in text.split("|") if w.strip())


# The shipped rules, after any from config. Sensitive topics come first so that they keep their
# own team even when an outage keyword makes them urgent too ("投诉：系统崩溃" is an urgent
# complaint). Keywords are in Simplified Chinese: Traditional input is converted before matching.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        name="complaint",
        priority="important",
        category="sensitive",
        complaint=True,
        text=_words("投诉|不满|太差|差评|complaint|complain|unacceptable"),
    ),
    Rule(
        name="legal-privacy-press",
        priority="important",
        category="sensitive",
        text=_words(
            "律师|起诉|诉讼|法院|仲裁|消协|隐私|个人信息|记者|媒体|曝光|lawyer|attorney|lawsuit|"
            "sue you|will sue|going to sue|legal action|gdpr|privacy|data protection|journalist|"
            "reporter|press inquiry|regulator"
        ),
    ),
    Rule(
        name="outage",
        priority="urgent",
        category="incident",
        text=_words(
            "系统崩溃|崩溃|宕机|当机|死机|无法登录|登录不了|登不上|无法登入|登入不了|无法访问|"
            "打不开|服务不可用|数据丢失|安全漏洞|被黑|被盗|outage|outages|crash|crashed|crashes|"
            "is down|service down|site down|cannot log in|can't log in|cannot login|"
            "unable to log in|data loss|security|breach|hacked"
        ),
    ),
    Rule(
        name="payment",
        priority="urgent",
        category="billing",
        text=_words(
            "支付失败|付款失败|扣款失败|无法支付|重复扣款|多扣|payment failed|payment failure|"
            "payment declined|card declined|charged twice|double charged"
        ),
    ),
    Rule(
        name="errors",
        priority="important",
        category="technical",
        text=_words(
            "报错|错误|无法使用|不能用|故障|异常|error|not working|doesn't work|does not work|"
            "broken|bug"
        ),
    ),
    Rule(
        name="billing",
        category="billing",
        text=_words("发票|退款|账单|收费|invoice|refund|billing|receipt"),
    ),
)
