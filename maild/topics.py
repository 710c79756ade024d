"""Hot topics and near-duplicate clusters for the weekly digest: what customers wrote about this
period that they did not write about before, and which tickets are one report sent many times.

Pure: documents in, lists out. Besides its arguments it reads only the shipped stop-word lists
(`maild/stopwords/`), once per process.

Definitions (the digest and the README use these words in exactly this sense):

- A ticket's **terms** are read from its subject and the first 1,000 characters of the customer's
  first message (`BODY_CHARS`), normalised as classification normalises them (NFKC, case folded,
  Traditional Chinese as Simplified; also 帐 as 账), so 帳號 is 账号 and ＬＯＧＩＮ is login. Not
  read: quoted lines (starting with ">"); everything from a signature line "-- ", a quoted-history
  header ("-----Original Message-----", "On … wrote:", "在…写道：") or a sign-off line ("Thanks,",
  "Best regards,", "谢谢！") on; "Sent from my …" lines; URLs, host and file names, e-mail
  addresses and ticket tokens ([#MD-1042]). Chinese is cut into words by jieba's dictionary
  (rjieba, without HMM guessing, plus a few support words it lacks: 闪退, 微信, 扫码 …; the Taiwan
  words 登入, 网路, 软体, 伺服器 are read as 登录, 网络, 软件, 服务器); an English word is reduced
  to its Snowball stem (refund, refunds, refunded → refund). Dropped: stop words (function words
  and the boilerplate of support mail in both languages — hello, thanks, please, help, issue,
  problem, 您好, 谢谢, 麻烦, 问题 …; see `maild/stopwords/`), single characters, anything
  containing a digit (amounts, order and serial numbers), punctuation. A term is one remaining
  word, or a **phrase**: two remaining words with nothing between them but spaces or a hyphen
  (支付 + 失败 → 支付失败, login + error → "login error"). Punctuation, a dropped word and a line
  break end a clause, so no phrase spans them; a line break between two English words does not,
  as English mail is wrapped.
- A term's **count** is the number of tickets of the period whose terms include it: a ticket that
  says "refund" five times counts once, whether in its subject or its body.
- Its **baseline** is its mean count over the previous periods given (up to four; each period
  counts, an empty one as zero); 0.0 when there is no history.
- Its **change** is count − baseline, rounded to one decimal.
- A term is **rising** when its count is at least 3 (`MIN_TOPIC_COUNT`) and above its baseline.
  With no history every term in 3 or more tickets is rising.
- **Hot topics** are the rising terms ranked by (count − baseline) / √(baseline + 1), a score that
  rewards both the absolute and the relative rise (4 tickets against none scores 4.0, 12 against
  6 scores 2.3, 40 against 30 scores 1.8), ties broken by the higher count, then alphabetically.
  The list holds distinct topics: a word gives its place to the best-ranked rising phrase that
  has 80 % or more of its tickets (`PHRASE_SHARE`: 支付 and 失败 are listed once, as 支付失败; a
  word is listed beside its phrase only when it has other tickets too), and a phrase is left out
  when a phrase listed before it shares a word with it and 80 % or more of the tickets of the
  smaller of the two. A term is shown as customers wrote it most this period
  ("refunds", if most wrote that), with the first three of its tickets, in the order given.
- A **near-duplicate cluster** is a set of this period's tickets joined by chains of
  near-duplicate pairs: two tickets are near-duplicates when the Jaccard similarity of their terms
  (terms in both / terms in either) is at least 0.5 (`NEAR_DUPLICATE`). A cluster is reported when
  its tickets come from at least `min_customers` distinct customers (3 unless said otherwise),
  the one with the most tickets first. A ticket without terms is in no cluster. The label is the
  subject of the earliest ticket, on one line, at most 80 characters. Tickets are compared by
  their words, not their meaning: a Chinese and an English report of one outage share no term,
  so they are never near-duplicates of each other.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import chain, pairwise

import rjieba
import snowballstemmer

from maild.classify import normalise

BODY_CHARS = 1_000  # a customer says what is wrong at the top; the rest is detail and history
MIN_TOPIC_COUNT = 3  # fewer tickets than this is an anecdote, not a topic
PHRASE_SHARE = 0.8  # a phrase with this share of a word's tickets stands for the word
NEAR_DUPLICATE = 0.5  # Jaccard similarity of two tickets' terms that makes them one report
LABEL_CHARS = 80
EXAMPLES = 3
LONGEST_WORD = 30  # longer "words" are tokens, hashes and base64, not language

# Words jieba's dictionary (2013) lacks and support mail is full of: without them 闪退 would be
# cut into two single characters and dropped.
SUPPORT_WORDS = (
    "闪退", "微信", "扫码", "卡顿", "白屏", "黑屏", "到账", "扣费", "多扣", "解绑", "断网",
    "当机", "登入",
)  # fmt: skip
# Taiwan wording read as the mainland word, so that one topic collects both.
REGIONAL_WORDS = {"登入": "登录", "网路": "网络", "软体": "软件", "伺服器": "服务器"}
_VARIANT_CHARACTER = ("帐", "账")  # OpenCC turns 帳號 into 帐号; 账号 is the standard form

_CHINESE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # the CJK ideographs, as a character range
_HAN = re.compile(f"[{_CHINESE}]")
# Full-width punctuation as NFKC writes it. Replaced before `normalise`, so that its NFKC finds
# Chinese mail already normal and returns at once: 75 µs less per ticket, same result.
_FULL_WIDTH = tuple(
    (mark, unicodedata.normalize("NFKC", mark))
    for mark in "，！？：；（）～＃％＠＆＊＋－．／＂＇＜＞［］｜　…"
)
# Where the customer's own words end: a signature, the history a mail program quotes, a sign-off.
_END_OF_MESSAGE = re.compile(
    r"^(?:-- ?$"  # the signature delimiter
    r"|-{2,} ?(?:original message|原始邮件) ?-{2,}"  # Outlook's quoted history
    r"|on .{1,200} wrote: ?$|在.{1,200}写道[:：] ?$"  # everyone else's
    r"|(?:(?:many |best |kind )?(?:thanks|regards)(?: again)?|thank you|best|cheers|sincerely"
    r"|yours sincerely|谢谢|多谢|此致|祝好)[ \t!,.。~]*$)",  # a sign-off: a name follows
    re.MULTILINE,
)
_QUOTED_OR_FOOTER = re.compile(r"^[ \t]*(?:>|sent from my |发自我的).*$", re.MULTILINE)
# Not words: each is replaced by a clause break, so that no phrase spans it, and each is searched
# for only when its mark is in the text: a pattern that starts with a character class is tried at
# every position, and most tickets have no link, address or host name at all.
_NOT_WORDS = (
    ("[#", re.compile(r"\[#[^\]\s]{1,30}\]")),  # ticket token [#MD-1042]
    ("//", re.compile(r"(?:https?|ftp)://\S+")),
    ("www.", re.compile(r"www\.\S+")),
    ("@", re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")),
)
_DOTTED = re.compile(r"\.[a-z]")  # the mark of a host or file name
_HOST_OR_FILE = re.compile(r"(?<![a-z0-9_.-])(?:[a-z0-9_-]+\.)+[a-z]{2,}(?![a-z0-9])")
_BREAK = " | "
_WRAPPED = re.compile(r"\n(?<=[a-z,]\n)[ \t]*(?=[a-z])")  # a line break inside English prose
_APOSTROPHE_IN_WORD = re.compile(r"'(?<=[a-z]')(?=[a-z])")  # can't → cant: one piece for jieba


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
    """Tickets that are one report from several customers."""

    label: str  # a representative subject (the earliest ticket's subject, one line, ≤ 80 chars)
    tickets: tuple[str, ...]  # ticket ids in the order given
    customers: int  # distinct customers


# --- reading a document ------------------------------------------------------------------------


@functools.cache
def _stop_words() -> frozenset[str]:
    """Both shipped lists as one set, read once: an English and a Chinese word cannot collide."""
    words: set[str] = set()
    for name in ("en.txt", "zh.txt"):
        text = resources.files("maild").joinpath("stopwords", name).read_text(encoding="utf-8")
        for line in text.splitlines():
            word = line.strip()
            if word and not word.startswith("#"):
                words.add(normalise(word).replace("'", ""))  # as `_customer_text` writes it
    return frozenset(words)


@functools.cache
def _segmenter() -> rjieba.Jieba:
    """jieba's dictionary plus `SUPPORT_WORDS`, in an instance of our own so that the added words
    change nothing for any other user of rjieba. Built on first use (0.1 s, 25 MB)."""
    segmenter = rjieba.Jieba()
    for word in SUPPORT_WORDS:
        segmenter.add_word(word, None, None)
    return segmenter


_STEMMER = snowballstemmer.stemmer("english")


def _key_of(piece: str) -> str | None:
    """What one piece of cut text counts as: a Chinese word as itself (a Taiwan word as the
    mainland one), any other word as its Snowball stem; "" for a space or a hyphen, which separate
    words without ending a clause; None for a piece that ends one: a line break, punctuation, a
    stop word, a single character, anything with a digit."""
    if piece.isspace():
        return None if "\n" in piece else ""
    if piece == "-":
        return ""
    if len(piece) < 2 or len(piece) > LONGEST_WORD or not piece.isalpha():
        return None
    if piece in _stop_words():
        return None
    if _HAN.match(piece):
        return REGIONAL_WORDS.get(piece, piece)
    return _STEMMER.stemWord(piece)


class _KeyTable(dict[str, str | None]):
    """`_key_of` remembered for every piece seen: a period's mail uses some tens of thousands of
    distinct pieces over and over, stemming is slow, and a dict hit costs less than any call.
    Emptied when it reaches `SIZE`, so a long-running daemon does not grow without end."""

    SIZE = 200_000

    def __missing__(self, piece: str) -> str | None:
        """Work the key out once; `dict` calls this only for a piece not seen yet."""
        if len(self) >= self.SIZE:
            self.clear()
        key = self[piece] = _key_of(piece)
        return key


_KEYS = _KeyTable()


def _customer_text(document: Document) -> str:
    """Subject and body as the customer wrote them this time, normalised, without quoted history,
    signature, footers, addresses, links and ticket tokens."""
    subject = " ".join(document.subject.split())
    text = f"{subject}\n\n{document.body[:BODY_CHARS]}"
    for mark, plain in _FULL_WIDTH:
        text = text.replace(mark, plain)
    text = normalise(text).replace(*_VARIANT_CHARACTER)
    subject, _, body = text.partition("\n\n")
    end = _END_OF_MESSAGE.search(body)
    if end:
        body = body[: end.start()]
    if ">" in body or "sent from" in body or "发自" in body:
        body = _QUOTED_OR_FOOTER.sub("", body)
    text = f"{subject}{_BREAK}\n{body}"  # no phrase from the subject's end to the body's start
    for mark, pattern in _NOT_WORDS:
        if mark in text:
            text = pattern.sub(_BREAK, text)
    if _DOTTED.search(text):
        text = _HOST_OR_FILE.sub(_BREAK, text)
    if "'" in text:
        text = _APOSTROPHE_IN_WORD.sub("", text)
    return _WRAPPED.sub(" ", text)


def _pieces(document: Document) -> list[str]:
    """The document's text cut by jieba: Chinese words, runs of letters or digits, and every other
    character on its own."""
    return _segmenter().cut(_customer_text(document), False)


def _keys(document: Document) -> list[str | None]:
    """The keys of the document's pieces in order, None where a clause ends."""
    return [key for key in map(_KEYS.__getitem__, _pieces(document)) if key != ""]


def _phrases(keys: list[str | None]) -> Iterable[str]:
    """Each two words next to each other in a clause, as one key with a space between."""
    return (f"{a} {b}" for a, b in pairwise(keys) if a and b and a != b)


_TERMS: weakref.WeakKeyDictionary[Document, frozenset[str]] = weakref.WeakKeyDictionary()


def terms(document: Document) -> frozenset[str]:
    """The counting keys of one document: Chinese words, English stems, and phrases of two of them
    ("支付 失败", "login error"), each once however often it is written; everything the digest
    counts or compares is counted or compared on these. Worked out once per document object and
    kept while the caller keeps the document, since a digest reads this period's tickets for both
    the hot topics and the clusters."""
    found = _TERMS.get(document)
    if found is None:
        keys = _keys(document)
        found = _TERMS[document] = frozenset(chain(filter(None, keys), _phrases(keys)))
    return found


def _mentions(document: Document, wanted: frozenset[str], wanted_words: frozenset[str]) -> set[str]:
    """`terms(document) & wanted`, without building the phrases nobody asked for: the previous
    periods are read only for the terms that are frequent now, and they are most of the reading."""
    found = _TERMS.get(document)
    if found is not None:
        return set(found & wanted)
    keys = _keys(document)
    mentioned = set(wanted.intersection(keys))
    for a, b in pairwise(keys):
        if a in wanted_words and b in wanted_words and a != b:
            phrase = f"{a} {b}"
            if phrase in wanted:
                mentioned.add(phrase)
    return mentioned


# --- hot topics --------------------------------------------------------------------------------


def _words_of(term: str) -> list[str]:
    """A phrase's two words, or the word itself: keys never contain a space, phrases one."""
    return term.split(" ")


def hot_topics(
    current: Sequence[Document], previous: Sequence[Sequence[Document]], *, limit: int = 10
) -> list[HotTopic]:
    """The terms that rose most this period against the previous periods (see the module's
    definitions), at most `limit`. A manager reads these instead of the tickets, so they are
    distinct topics, in the customers' own words, with tickets to open."""
    if limit <= 0 or not current:
        return []
    current_terms = [terms(document) for document in current]
    counted = Counter[str]()
    for found in current_terms:
        counted.update(found)
    wanted = frozenset(term for term, count in counted.items() if count >= MIN_TOPIC_COUNT)
    frequent: dict[str, list[int]] = {term: [] for term in wanted}
    for index, found in enumerate(current_terms):
        for term in found & wanted:
            frequent[term].append(index)
    wanted_words = frozenset(word for term in wanted for word in _words_of(term))
    mentioned_before: Counter[str] = Counter()
    for period in previous:
        for document in period:
            mentioned_before.update(_mentions(document, wanted, wanted_words))
    periods = len(previous)
    counts = {term: len(ids) for term, ids in frequent.items()}
    baselines = {t: mentioned_before[t] / periods if periods else 0.0 for t in frequent}
    scores = {
        term: (counts[term] - baselines[term]) / math.sqrt(baselines[term] + 1)
        for term in frequent
        if counts[term] > baselines[term]
    }
    ranked = sorted(scores, key=lambda term: (-scores[term], -counts[term], term))
    chosen = _distinct(ranked, frequent, limit)
    shown = _as_written(chosen, frequent, current)
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
    """The first `limit` ranked terms that say something the ones before did not. A word gives
    its place to the best-ranked phrase with `PHRASE_SHARE` of its tickets, and a term that
    repeats one already chosen (see `_repeats`) is skipped: without this a manager would read
    支付, 失败 and 支付失败 as three topics."""
    phrases_with: dict[str, list[str]] = defaultdict(list)
    for term in ranked:  # in rank order, so that each list is best first
        words = _words_of(term)
        if len(words) == 2:
            for word in set(words):
                phrases_with[word].append(term)
    chosen: list[str] = []
    for term in ranked:
        if len(chosen) == limit:
            break
        tickets = len(tickets_with[term])
        standing_for = (
            p for p in phrases_with[term] if len(tickets_with[p]) >= PHRASE_SHARE * tickets
        )
        term = next(standing_for, term)
        if term not in chosen and not any(_repeats(term, c, tickets_with) for c in chosen):
            chosen.append(term)
    return chosen


def _repeats(term: str, chosen: str, tickets_with: dict[str, list[int]]) -> bool:
    """Whether `term` only repeats `chosen`. A word and a phrase made with it: when the phrase has
    `PHRASE_SHARE` of the word's tickets (payments up, and half of them failures, is two topics).
    Two phrases with a word in common: when that share of the smaller one's tickets has both."""
    words, chosen_words = _words_of(term), _words_of(chosen)
    if not set(words).intersection(chosen_words):
        return False
    mine, theirs = tickets_with[term], tickets_with[chosen]
    if len(words) != len(chosen_words):  # a word and a phrase: the phrase's tickets are the word's
        return min(len(mine), len(theirs)) >= PHRASE_SHARE * max(len(mine), len(theirs))
    both = len(set(mine).intersection(theirs))
    return both >= PHRASE_SHARE * min(len(mine), len(theirs))


def _as_written(
    chosen: list[str], tickets_with: dict[str, list[int]], current: Sequence[Document]
) -> dict[str, str]:
    """Each chosen term as customers wrote it most this period, the alphabetically first of
    equally frequent forms: "refunds", not the stem "refund"; a Chinese term's words written
    together. Only tickets with a chosen English term are read again, once each."""
    english = [t for t in chosen if any(not _HAN.match(word) for word in _words_of(t))]
    forms: dict[str, Counter[str]] = {term: Counter() for term in english}
    for index in sorted({i for term in english for i in tickets_with[term]}):
        pieces = [(key, piece) for piece in _pieces(current[index]) if (key := _KEYS[piece]) != ""]
        for (key, piece), (next_key, next_piece) in pairwise([*pieces, (None, "")]):
            if key in forms:
                forms[key][piece] += 1
            if key and next_key and f"{key} {next_key}" in forms:
                space = "" if _HAN.match(piece) or _HAN.match(next_piece) else " "
                forms[f"{key} {next_key}"][f"{piece}{space}{next_piece}"] += 1
    shown = {term: term.replace(" ", "") for term in chosen}
    for term, written in forms.items():
        if written:
            shown[term] = min(written.items(), key=lambda form: (-form[1], form[0]))[0]
    return shown


# --- near-duplicate clusters -------------------------------------------------------------------


def clusters(documents: Sequence[Document], *, min_customers: int = 3) -> list[Cluster]:
    """Sets of this period's tickets that are near-duplicates of one another (see the module's
    definitions) from at least `min_customers` customers, the largest first: one outage reported
    by forty customers is one line in the digest, not forty tickets.

    Pairs are found without comparing all of them, by prefix filtering: with every ticket's terms
    in one order, rarest first, two tickets whose similarity is at least t share one of the first
    n − ⌈t·n⌉ + 1 terms of each (n: the ticket's number of terms). So each ticket is indexed and
    looked up under those few rare terms only; a term common to most tickets is used only by
    tickets with little else, which keeps an outage reported in the same few words findable.
    Identical term sets are joined without comparing, and joined tickets are not compared again.
    """
    term_sets = [terms(document) for document in documents]
    same_terms: dict[frozenset[str], list[int]] = defaultdict(list)
    for index, found in enumerate(term_sets):
        if found:
            same_terms[found].append(index)
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

    for group in same_terms.values():
        for other in group[1:]:
            join(group[0], other)
    distinct = [group[0] for group in same_terms.values()]
    tickets_with = Counter[str]()
    for i in distinct:
        tickets_with.update(term_sets[i])
    # Terms in more than one ticket as numbers, rarest first (ties in any order: the pairs found
    # do not depend on it). A term of one ticket only is never shared, so it is left out of the
    # numbered sets; it still counts in a ticket's size, and it sorts before every shared term.
    shared = sorted((t for t, n in tickets_with.items() if n > 1), key=tickets_with.__getitem__)
    number = {term: n for n, term in enumerate(shared)}
    numbered = {i: frozenset(number[t] for t in term_sets[i] if t in number) for i in distinct}
    indexed: dict[int, list[int]] = defaultdict(list)
    for i in sorted(distinct, key=lambda i: len(term_sets[i])):  # smaller first: length filter
        mine, size = numbered[i], len(term_sets[i])
        prefix = size - math.ceil(NEAR_DUPLICATE * size) + 1 - (size - len(mine))
        candidates: set[int] = set()
        for term in sorted(mine)[: max(prefix, 0)]:
            candidates.update(indexed[term])
            indexed[term].append(i)
        for j in candidates:
            their_size = len(term_sets[j])
            if their_size < NEAR_DUPLICATE * size or root(i) == root(j):
                continue
            both = len(mine & numbered[j])
            if both >= NEAR_DUPLICATE * (size + their_size - both):
                join(i, j)
    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(documents)):
        members[root(index)].append(index)
    reported = []
    for group in members.values():
        customers = len({documents[i].customer for i in group})
        if len(group) >= 2 and customers >= min_customers:
            reported.append((group, customers))
    reported.sort(key=lambda gc: (-len(gc[0]), -gc[1], gc[0][0]))
    return [
        Cluster(
            label=_label(documents[group[0]]),
            tickets=tuple(documents[i].ticket_id for i in group),
            customers=customers,
        )
        for group, customers in reported
    ]


def _label(document: Document) -> str:
    """The subject on one line, cut to `LABEL_CHARS` with an ellipsis; the body's first line when
    the subject is empty, so that a cluster always has a name."""
    lines = [document.subject, *document.body.splitlines()]
    text = next((" ".join(line.split()) for line in lines if line.strip()), "")
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"
