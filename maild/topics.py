"""Hot topics and near-duplicate clusters for the weekly digest: what customers wrote about this
period that they did not write about before, and which tickets are the same report many times.

Pure: documents in, lists out. The only input read besides the arguments is the shipped stop-word
lists (`maild/stopwords/`), once per process.

Definitions (the digest and the README use these words in exactly this sense):

- A ticket's **terms** come from its subject and the first 1,000 characters of the customer's
  first message (`BODY_CHARS`), normalised as classification normalises (NFKC, case folded,
  Traditional Chinese as Simplified, and 帐 as 账, so 帳號 is 账号 and ＬＯＧＩＮ is login). Quoted
  lines (starting with ">"), everything from a signature line "-- " or a quoted-history header
  ("-----Original Message-----", "On … wrote:", "在…写道：") or a sign-off line (Thanks, / Best
  regards, / 谢谢！) on, "Sent from my …" lines, URLs,
  host and file names, e-mail addresses and ticket tokens ([#MD-1042]) are not read. Chinese is
  segmented by jieba's dictionary (rjieba, without HMM guessing, plus the few support words it
  lacks: 闪退, 微信, 登入 …; the Taiwan words 登入, 网路, 软体, 伺服器 are read as 登录, 网络,
  软件, 服务器); an English word is reduced to its Snowball stem (refund, refunds, refunded →
  refund). Dropped: stop words (function words and support-mail boilerplate in both languages —
  hello, thanks, please, help, issue, problem, 您好, 谢谢, 麻烦, 问题 …; see `maild/stopwords/`),
  single characters, anything containing a digit (amounts, order and serial numbers) and
  punctuation. A term is one remaining word, or a **phrase**: two remaining words next to each
  other, with no punctuation, dropped word or blank line between them (支付 + 失败 → 支付失败,
  login + error → "login error"; a line break inside a paragraph is not a gap, as mail is wrapped).
- A term's **count** is the number of tickets of the period whose terms include it: a ticket
  that says "refund" five times counts once, in its subject or its body alike.
- Its **baseline** is its mean count over the previous periods given (up to four, each counted,
  an empty one as zero); 0.0 when there is no history.
- Its **change** is count − baseline, rounded to one decimal.
- A term is **rising** when its count is at least 3 (`MIN_TOPIC_COUNT`) and above its baseline.
  With no history, every term in 3 or more tickets is rising.
- **Hot topics** are the rising terms ranked by (count − baseline) / √(baseline + 1), a score that
  rewards both the absolute and the relative rise (4 tickets against none scores 4.0, 12 against
  6 scores 2.3, 40 against 30 scores 1.8), ties broken by the higher count, then by the term in
  alphabetical order. The list holds distinct topics: a word gives its place to a rising phrase
  that holds 80 % or more of its tickets (`PHRASE_SHARE`: 支付 and 失败 are shown once, as
  支付失败), and a phrase is left out when a phrase listed before it shares a word with it and 80 %
  or more of the tickets of the smaller of the two. A term is shown in the form customers wrote
  most this period (refunds, if that is how most wrote it), with the first three of its tickets
  as examples, in the order the tickets were given.
- A **near-duplicate cluster** is a set of this period's tickets joined by chains of
  near-duplicate pairs: two tickets are near-duplicates when the Jaccard similarity of their
  terms (terms in both / terms in either) is at least 0.5 (`NEAR_DUPLICATE`). A cluster is
  reported when its tickets come from at least `min_customers` distinct customers (3 unless said
  otherwise), the most tickets first. A ticket with no terms belongs to no cluster. Its label is
  the subject of its earliest ticket on one line, at most 80 characters. Tickets are compared by
  their words, not their meaning: a Chinese and an English report of the same outage share no
  term and so are never near-duplicates of each other.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

import rjieba
import snowballstemmer

from maild.classify import normalise

BODY_CHARS = 1_000  # a customer says what is wrong at the top; the rest is detail and history
MIN_TOPIC_COUNT = 3  # fewer tickets than this is an anecdote, not a topic
PHRASE_SHARE = 0.8  # a phrase holding this share of a word's tickets stands for the word
NEAR_DUPLICATE = 0.5  # Jaccard similarity of two tickets' terms that makes them one report
LABEL_CHARS = 80
EXAMPLES = 3
LONGEST_WORD = 30  # longer "words" are tokens, hashes and base64, not language

# Words jieba's dictionary (2013) lacks and support mail is full of; without them 闪退 would be
# read as two single characters and dropped.
SUPPORT_WORDS = (
    "闪退", "微信", "扫码", "卡顿", "白屏", "黑屏", "到账", "扣费", "多扣", "解绑", "断网",
    "当机", "登入",
)  # fmt: skip
# Taiwan wording read as the mainland word, so one topic collects both.
REGIONAL_WORDS = {"登入": "登录", "网路": "网络", "软体": "软件", "伺服器": "服务器"}
_VARIANT_CHARACTERS = str.maketrans({"帐": "账"})  # OpenCC gives 帳號 → 帐号; 账号 is the norm

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# One pass over normalised text: a run of Chinese characters, a word in any other script
# (apostrophes inside kept: can't), a blank line, or a punctuation mark. Hyphens and other
# whitespace separate words without ending a clause ("double-charged").
_TOKEN = re.compile(
    rf"(?P<han>[{_HAN}]+)"
    rf"|(?P<word>[^\W_{_HAN}]+(?:'[^\W_{_HAN}]+)*)"
    r"|(?P<gap>\n[^\S\n]*\n)"
    r"|[^\w\s-]"
)
_DIGIT = re.compile(r"\d")
# Where the customer's own words end: a signature, or the history a mail program quotes.
_END_OF_MESSAGE = re.compile(
    r"^(?:-- ?$"  # the signature delimiter
    r"|-{2,} ?(?:original message|原始邮件) ?-{2,}"  # Outlook's quoted history
    r"|on .{1,200} wrote: ?$|在.{1,200}写道[:：] ?$"  # everyone else's
    r"|(?:(?:many |best |kind )?(?:thanks|regards)(?: again)?|thank you|best|cheers|sincerely"
    r"|yours sincerely|谢谢|多谢|此致|祝好)[ \t!！,，.。~]*$)",  # a sign-off: a name follows
    re.MULTILINE,
)
_QUOTED_OR_FOOTER = re.compile(r"^[ \t]*(?:>|sent from my |发自我的).*$", re.MULTILINE)
_NOT_WORDS = re.compile(
    r"\[#[^\]\s]{1,30}\]"  # ticket token [#MD-1042]
    r"|(?:https?|ftp)://\S+|www\.\S+"  # URL
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail address
    r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b"  # host or file name: example.com, report.pdf
)
_GAP = " | "  # what a removed stretch leaves: a clause break, so no phrase spans it


@dataclass(frozen=True)
class Document:
    """One ticket's words: what the customer first wrote."""

    ticket_id: str  # "MD-1042"
    customer: str  # sender address, lower case
    subject: str
    body: str  # the customer's first message text (may contain quoted '>' lines, signatures, URLs)


@dataclass(frozen=True)
class HotTopic:
    """A term that rose this period, with the figures that show how much."""

    term: str  # display form: "支付失败", "refund", "login error"
    count: int  # tickets this period whose words include the term
    baseline: float  # mean tickets per period mentioning it over the previous periods (0.0 if none)
    change: float  # count - baseline, rounded to 1 decimal
    examples: tuple[str, ...]  # up to 3 ticket ids, earliest ticket first (the order given)


@dataclass(frozen=True)
class Cluster:
    """Tickets that are the same report from several customers."""

    label: str  # a representative subject (the earliest ticket's subject, one line, ≤ 80 chars)
    tickets: tuple[str, ...]  # ticket ids in the order given
    customers: int  # distinct customers


# --- reading a document ----------------------------------------------------------------------


@functools.cache
def _stop_words() -> frozenset[str]:
    """Both shipped lists as one set, read once: English and Chinese words cannot collide, and one
    lookup per word is what keeps reading 10,000 tickets fast."""
    words: set[str] = set()
    for name in ("en.txt", "zh.txt"):
        text = resources.files("maild").joinpath("stopwords", name).read_text(encoding="utf-8")
        for line in text.splitlines():
            word = line.strip()
            if word and not word.startswith("#"):
                words.add(normalise(word))
    return frozenset(words)


@functools.cache
def _segmenter() -> rjieba.Jieba:
    """jieba's own dictionary plus `SUPPORT_WORDS`, in an instance of our own so that adding words
    changes nothing for any other user of rjieba in the process. Built on first use (0.1 s)."""
    segmenter = rjieba.Jieba()
    for word in SUPPORT_WORDS:
        segmenter.add_word(word, None, None)
    return segmenter


_STEMMER = snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=65_536)
def _word_key(word: str) -> str | None:
    """The counting key of a non-Chinese word, its Snowball stem, or None for a word that says
    nothing about a topic. Cached: a period's mail uses a few thousand distinct words over and
    over, and stemming is the slowest step of reading English."""
    if len(word) < 2 or len(word) > LONGEST_WORD or word in _stop_words() or _DIGIT.search(word):
        return None
    return _STEMMER.stemWord(word)


def _customer_text(document: Document) -> str:
    """Subject and body as the customer wrote them this time: normalised, without quoted
    history, signature, footers, addresses, links and ticket tokens."""
    body = normalise(document.body[:BODY_CHARS])
    end = _END_OF_MESSAGE.search(body)
    if end:
        body = body[: end.start()]
    body = _QUOTED_OR_FOOTER.sub("", body)
    text = f"{normalise(document.subject)}\n\n{body}".translate(_VARIANT_CHARACTERS)
    return _NOT_WORDS.sub(_GAP, text)


def _read(document: Document, written: dict[str, Counter[str]] | None = None) -> frozenset[str]:
    """The document's terms. With `written`, also counts there how each term containing a
    non-Chinese word was written (key → form → times), for showing it as customers wrote it."""
    stop_words = _stop_words()
    segmenter = _segmenter()
    words: set[str] = set()
    phrases: set[str] = set()
    # The word before, if the current clause has one: (key, as written, is Chinese).
    before: tuple[str, str, bool] | None = None
    for match in _TOKEN.finditer(_customer_text(document)):
        kind = match.lastgroup
        if kind == "han":
            pieces: Iterable[str] = segmenter.cut(match.group(), False)
        elif kind == "word":
            pieces = (match.group(),)
        else:
            before = None
            continue
        for piece in pieces:
            if kind == "han":
                key = None if len(piece) < 2 or piece in stop_words else piece
                key = REGIONAL_WORDS.get(piece, piece) if key else None
                as_written = key or piece
            else:
                key = _word_key(piece)
                as_written = piece
            if key is None:
                before = None
                continue
            chinese = kind == "han"
            words.add(key)
            if written is not None and not chinese:
                written[key][as_written] += 1
            if before is not None and before[0] != key:
                phrase = f"{before[0]} {key}"
                phrases.add(phrase)
                if written is not None and not (chinese and before[2]):
                    space = " " if not (chinese or before[2]) else ""
                    written[phrase][f"{before[1]}{space}{as_written}"] += 1
            before = (key, as_written, chinese)
    return frozenset(words | phrases)


def terms(document: Document) -> frozenset[str]:
    """The counting keys of one document: Chinese words, English stems, and phrases of two of
    them ("支付 失败", "login error"), each once however often it is written. Everything the
    digest counts or compares is counted or compared on these."""
    return _read(document)


# --- hot topics ------------------------------------------------------------------------------


def _is_phrase(term: str) -> bool:
    """Phrase keys are the only ones with a space: words never contain one."""
    return " " in term


def _shown(term: str, written: dict[str, Counter[str]]) -> str:
    """The form customers wrote most this period (the alphabetically first of equals); a
    Chinese term is shown as its words written together."""
    forms = written.get(term)
    if not forms:
        return term.replace(" ", "")
    return min(forms.items(), key=lambda form: (-form[1], form[0]))[0]


def hot_topics(
    current: Sequence[Document], previous: Sequence[Sequence[Document]], *, limit: int = 10
) -> list[HotTopic]:
    """The terms that rose most this period against the previous ones (see the module's
    definitions), at most `limit`, highest first. A manager reads these instead of the tickets,
    so they are distinct topics, in the words customers used, with tickets to open."""
    if limit <= 0 or not current:
        return []
    written: dict[str, Counter[str]] = defaultdict(Counter)
    tickets_with: dict[str, list[int]] = defaultdict(list)
    for index, document in enumerate(current):
        for term in _read(document, written):
            tickets_with[term].append(index)
    frequent = {t: ids for t, ids in tickets_with.items() if len(ids) >= MIN_TOPIC_COUNT}
    frequent_terms = frozenset(frequent)
    mentioned_before: Counter[str] = Counter()
    for period in previous:
        for document in period:
            mentioned_before.update(terms(document) & frequent_terms)

    def baseline(term: str) -> float:
        return mentioned_before[term] / len(previous) if previous else 0.0

    counts = {term: len(ids) for term, ids in frequent.items()}
    baselines = {term: baseline(term) for term in frequent}
    rising = [term for term in frequent if counts[term] > baselines[term]]
    shown = {term: _shown(term, written) for term in rising}
    scores = {t: (counts[t] - baselines[t]) / math.sqrt(baselines[t] + 1) for t in rising}
    ranked = sorted(rising, key=lambda t: (-scores[t], -counts[t], shown[t], t))
    chosen = _distinct(ranked, frequent, limit)
    return [
        HotTopic(
            term=shown[term],
            count=counts[term],
            baseline=baselines[term],
            change=round(counts[term] - baselines[term], 1),
            examples=tuple(current[i].ticket_id for i in frequent[term][:EXAMPLES]),
        )
        for term in chosen
    ]


def _distinct(ranked: list[str], tickets_with: dict[str, list[int]], limit: int) -> list[str]:
    """The first `limit` ranked terms that say something the ones before did not: a word is
    replaced by the best-ranked phrase holding `PHRASE_SHARE` of its tickets, and a term that
    repeats a chosen one (see `_repeats`) is skipped. Without this a manager would read 支付,
    失败 and 支付失败 as three topics."""
    phrases_of: dict[str, list[str]] = defaultdict(list)
    for term in ranked:  # in rank order, so each list is best-first
        if _is_phrase(term):
            for word in set(term.split(" ")):
                phrases_of[word].append(term)
    chosen: list[str] = []
    for term in ranked:
        if len(chosen) >= limit:
            break
        if not _is_phrase(term):
            tickets = len(tickets_with[term])
            term = next(
                (p for p in phrases_of[term] if len(tickets_with[p]) >= PHRASE_SHARE * tickets),
                term,
            )
        if term not in chosen and not any(_repeats(term, c, tickets_with) for c in chosen):
            chosen.append(term)
    return chosen


def _repeats(term: str, chosen: str, tickets_with: dict[str, list[int]]) -> bool:
    """Whether `term` only repeats `chosen`: they share a word and `PHRASE_SHARE` of the tickets
    of the smaller of the two mention both (for a word inside a phrase: the phrase holds that
    share of the word's tickets)."""
    if not set(term.split(" ")) & set(chosen.split(" ")):
        return False
    mine, theirs = tickets_with[term], tickets_with[chosen]
    both = len(set(mine).intersection(theirs))
    return both >= PHRASE_SHARE * min(len(mine), len(theirs))


# --- near-duplicate clusters ------------------------------------------------------------------


def clusters(documents: Sequence[Document], *, min_customers: int = 3) -> list[Cluster]:
    """Groups of this period's tickets that are near-duplicates of one another (see the module's
    definitions) from at least `min_customers` customers, the largest first: one outage reported
    by forty customers is one line in the digest, not forty tickets.

    Pairs are found without comparing all of them (prefix filtering): with terms in order of
    rarity, two sets with Jaccard similarity ≥ t share one of the first n − ⌈t·n⌉ + 1 terms of
    each, so each ticket is indexed under its few rarest terms and compared only with tickets
    found there. Terms common to most tickets are looked up only for tickets that have little
    else, and tickets already joined are not compared again."""
    term_sets = [terms(d) for d in documents]
    tickets_of = defaultdict(list)  # identical term sets: joined without comparing
    for index, found in enumerate(term_sets):
        if found:
            tickets_of[found].append(index)
    parent = list(range(len(documents)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    for same in tickets_of.values():
        for other in same[1:]:
            join(same[0], other)
    distinct = [same[0] for same in tickets_of.values()]
    seen_in = Counter(term for i in distinct for term in term_sets[i])
    rarest_first = {
        term: rank for rank, term in enumerate(sorted(seen_in, key=lambda t: (seen_in[t], t)))
    }
    indexed: dict[str, list[int]] = defaultdict(list)
    for i in sorted(distinct, key=lambda i: len(term_sets[i])):
        mine = term_sets[i]
        size = len(mine)
        prefix = sorted(mine, key=rarest_first.__getitem__)[
            : size - math.ceil(NEAR_DUPLICATE * size) + 1
        ]
        candidates: set[int] = set()
        for term in prefix:
            candidates.update(indexed[term])
            indexed[term].append(i)
        for j in candidates:
            theirs = term_sets[j]
            if len(theirs) < NEAR_DUPLICATE * size or root(i) == root(j):
                continue
            both = len(mine & theirs)
            if both >= NEAR_DUPLICATE * (size + len(theirs) - both):
                join(i, j)
    members: dict[int, list[int]] = defaultdict(list)
    for index, found in enumerate(term_sets):
        if found:
            members[root(index)].append(index)
    found_clusters = []
    for group in members.values():
        customers = len({documents[i].customer for i in group})
        if len(group) >= 2 and customers >= min_customers:
            found_clusters.append((group, customers))
    found_clusters.sort(key=lambda gc: (-len(gc[0]), -gc[1], gc[0][0]))
    return [
        Cluster(
            label=_label(documents[group[0]]),
            tickets=tuple(documents[i].ticket_id for i in group),
            customers=customers,
        )
        for group, customers in found_clusters
    ]


def _label(document: Document) -> str:
    """The subject on one line, shortened to `LABEL_CHARS` with an ellipsis; the first line of
    the body when the subject is empty, so a cluster always has a name."""
    text = " ".join(document.subject.split())
    if not text:
        text = next(
            (" ".join(line.split()) for line in document.body.splitlines() if line.strip()), ""
        )
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"
