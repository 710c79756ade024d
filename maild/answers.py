"""What a customer's reply means: a confirmation that a ticket is solved, a satisfaction score, a
request for the state of their tickets.

Pure. Customers answer in English or Chinese, Simplified or Traditional, often from a phone, so
text is read through classify.normalise and one word list serves them all. Only the customer's
own words count: quoted history, attribution lines and signatures are cut even when the caller
forgot. Every reading leans towards "not understood": a ticket left open or a score left empty
costs an agent a glance, while a ticket closed on a misread "no" costs a customer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from maild.classify import normalise
from maild.threader import strip_reply_prefixes

# --- the customer's own words ------------------------------------------------------------------

# A line (normalised, stripped) from which on nothing is the customer's: the start of quoted
# history as mail programs write it, or the start of a signature.
_HISTORY_STARTS = re.compile(
    r"^(?:"
    r"on\s.*\swrote\s*:"  # Gmail, Apple Mail: On Mon, 3 Jun 2024, Ann <ann@x.com> wrote:
    r"|.*<[^<>\s]+@[^<>\s]+>.*\swrote\s*:"  # Ann Lee <ann@x.com> wrote:
    r"|.*写道\s*:"  # 在 2024年6月3日，Ann <ann@x.com> 写道： (Traditional 於…寫道： is normalised)
    r"|-{2,}\s*(?:original message|forwarded message|原始邮件|原邮件|转发邮件)\s*-{2,}"
    r"|_{8,}"  # Outlook's rule above its header block
    r"|(?:发件人|寄件者|寄件人)\s*:.*"  # Outlook and Foxmail headers in Chinese
    r"|--"  # the signature delimiter; "-- " often loses its space on the way
    r"|sent from my\s.*|get outlook for\s.*|发自我的.*|从我的.*发送"  # phone sign-offs
    r")$"
)
# An attribution wrapped over two lines: "On Mon, 3 Jun 2024, Ann <ann@x.com>" / "wrote:".
_ATTRIBUTION_HEAD = re.compile(r"^(?:on\s|在|于)")
_ATTRIBUTION_TAIL = re.compile(r"(?:wrote|写道)\s*:$")
# Outlook in English: a "From:" line is history only when its header block follows.
_FROM_HEADER = re.compile(r"^from\s*:\s*\S")
_NEXT_HEADER = re.compile(r"^(?:sent|date|to|subject|cc)\s*:")


def _own_words(text: str) -> str:
    """The text above any quoted history or signature, quoted ('>') lines dropped, as written:
    the caller strips history already, but a reply that slips through must not read as words."""
    lines = text.splitlines()
    folded = [normalise(line).strip() for line in lines]
    kept: list[str] = []
    for i, line in enumerate(folded):
        following = folded[i + 1] if i + 1 < len(folded) else ""
        if (
            _HISTORY_STARTS.match(line)
            or (_ATTRIBUTION_HEAD.match(line) and _ATTRIBUTION_TAIL.search(following))
            or (_FROM_HEADER.match(line) and _NEXT_HEADER.match(following))
        ):
            break
        if not line.startswith(">"):
            kept.append(lines[i])
    return "\n".join(kept).strip()


# --- confirmation of a resolution ----------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Phrases that contain a negation but say all is well ("没问题了" is the customer's yes).
_POSITIVE_IDIOMS = re.compile(
    r"没问题|没有问题|没事|没毛病"
    r"|\bno\s+more\s+(?:problems?|issues?|errors?|crash(?:es)?)\b"
    r"|\bno\s+(?:problems?|issues?|errors?)\s+(?:now|anymore|any\s+more)\b",
    re.ASCII,
)
# Politeness that contains a negation but says nothing either way; removed before reading.
_NEUTRAL_IDIOMS = re.compile(
    r"不错|不客气|不用谢|不好意思|别客气|再次感谢"
    r"|\bno\s+(?:problems?|worries|issues?)\b|\bthanks?\s+(?:you\s+)?again\b|\bnot\s+at\s+all\b",
    re.ASCII,
)
# Anything that says the problem is not (all) solved, asks something or puts off the answer.
_NEGATIVE = re.compile(
    r"\b(?:no|not|nope|nah|never|nothing|none|neither|nor|still|but|however|though|although"
    r"|except|unless|again|unfortunately|sadly|broken|wrong|fail|fails|failed|failing|failure"
    r"|crash|crashes|crashed|crashing|cannot|cant|dont|doesnt|didnt|isnt|wasnt|wont|havent"
    r"|hasnt|sometimes|partly|partially|mostly|almost|another|one\s+more|try|trying|check"
    r"|checking|test|testing|wait|waiting|later|(?:can|could|would|will)\s+you)\b|n't\b"
    r"|不|没|未|无法|别|还是|仍|依然|依旧|但|可是|不过|只是|又|还有|另外|有问题|报错|出错|失败|崩溃"
    r"|有时|偶尔|部分|试试|试一下|试下|去试|再试|看看|稍等|等一下|等等"
    r"|吗|什么|怎么|为什么|哪|谁|是否|能否|请问|帮我|帮忙"
    r"|👎|❌|✖|✗|😡|😠|😞|😟|🙁|☹|😢|😭|💔",
    re.ASCII,
)
# Words that say yes wherever they stand in a short reply.
_POSITIVE = re.compile(
    r"\b(?:yes|yeah|yep|yup|yea|ok|okay|confirmed|i\s+confirm|solved|resolved|fixed|sorted"
    r"|works|working|worked|all\s+good|all\s+set|good\s+now|fine\s+now|looks\s+good|perfect"
    r"|great|excellent|awesome|close\s+(?:it|this|the\s+ticket))\b"
    r"|是的|对的|好的|好了|可以了|行了|解决了|已解决|已经解决|已确认|确认了|搞定|正常了|修好了"
    r"|好用了|能用了|可以用了|恢复正常|成功了"
    r"|👍|👌|✅|✔|✓|🆗|🙆",
    re.ASCII,
)
# Words that say yes only as a whole clause ("是" is also in "还是", "good" in "good question").
_YES_CLAUSES = frozenset(
    {"是", "是啊", "是呀", "对", "对啊", "嗯", "嗯嗯", "好", "好啊", "好滴", "行", "可以"}
    | {"确认", "确定", "y", "good", "fine", "sure", "confirm", "done", "correct", "right"}
)
_CLAUSE_SPLIT = re.compile(r"[^\w ]+")
# "More than ~12 words / ~30 Chinese characters": a Chinese character counts as 2/5 of a word.
_MOST_WORDS = 12


_THANKS = frozenset(
    {
        "thanks", "thankyou", "thankyousomuch", "thankyouverymuch", "thanksalot", "manythanks",
        "thx", "ty", "cheers", "okthanks", "okthankyou", "谢谢", "谢谢你", "谢谢您", "多谢",
        "感谢", "非常感谢", "十分感谢", "谢啦", "谢了", "好的谢谢", "谢谢谢谢", "谢谢啦",
    }
)  # fmt: skip


def only_thanks(text: str) -> bool:
    """A reply that only says thank you ("Thanks!", "谢谢！", "好的，谢谢"): on a closed ticket it
    is politeness, not a new problem, and must not reopen it."""
    words = re.sub(r"[\W_]+", "", normalise(_own_words(text)))
    return words in _THANKS


def confirms_resolution(text: str) -> bool:
    """Whether a reply to "we believe this is solved" is a short, clear yes. Anything longer, any
    question and any negation is not: the ticket then stays open for an agent to read."""
    words = normalise(_own_words(text))
    if not words or "?" in words:
        return False
    if 5 * len(_LATIN_WORD.findall(words)) + 2 * len(_HAN.findall(words)) > 5 * _MOST_WORDS:
        return False
    idiom = _POSITIVE_IDIOMS.search(words) is not None
    rest = _NEUTRAL_IDIOMS.sub(" ", _POSITIVE_IDIOMS.sub(" ", words))
    if _NEGATIVE.search(rest):
        return False
    if idiom or _POSITIVE.search(rest):
        return True
    return any(clause.strip() in _YES_CLAUSES for clause in _CLAUSE_SPLIT.split(rest))


# --- satisfaction score --------------------------------------------------------------------------

_SCORE_WORDS: dict[str, int] = {
    "非常满意": 5,
    "很满意": 5,
    "十分满意": 5,
    "特别满意": 5,
    "满意": 4,
    "比较满意": 4,
    "一般": 3,
    "一般般": 3,
    "还行": 3,
    "还可以": 3,
    "不满意": 2,
    "不太满意": 2,
    "不是很满意": 2,
    "很不满意": 1,
    "非常不满意": 1,
    "十分不满意": 1,
    "非常差": 1,
    "很差": 1,
    "太差": 1,
    "very satisfied": 5,
    "extremely satisfied": 5,
    "satisfied": 4,
    "neutral": 3,
    "okay": 3,
    "ok": 3,
    "dissatisfied": 2,
    "unsatisfied": 2,
    "not satisfied": 2,
    "not very satisfied": 2,
    "very dissatisfied": 1,
    "very unsatisfied": 1,
    "extremely dissatisfied": 1,
}
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five")
_HAN_NUMBERS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_STARS = "★⭐"


def _word_alternation(words: list[str]) -> str:
    """Longest first, so the fullest reading is tried first (一般般 before 一般); the (?!\\w)
    after each word is what keeps 满意 out of 满意度 and 一般 out of 一般来说."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered)


# One score as customers write it, on normalised text. A bare number must not be a quantity
# ("3天", "2 days later"), a number word must not start a sentence ("one more thing"), and a
# Chinese word must not be the start of a longer one (满意度, 一般来说).
_HAN_NUMBER_CLASS = "".join(_HAN_NUMBERS)
_NUMBER_WORD_ALTERNATION = "|".join(_NUMBER_WORDS)
_SCORE_WORD_ALTERNATION = _word_alternation(list(_SCORE_WORDS))
_TOKEN = rf"""
(?P<token>
  (?:(?:score|rating|评分|打分|分数|评价|满意度)\s*[:=]?\s*)?
  (?:
    (?<![0-9])(?P<digits>[0-9]{{1,3}})(?![0-9]|[.,][0-9])
      (?:\s*(?:/|out\s+of)\s*(?P<scale>[0-9]+|five)\b)?
      (?:[\s-]*(?:stars?|points?|pts)\b|\s*(?:分(?![钟之])|颗星|星))?
      (?!\w)
      (?!\s*(?:days?|hours?|hrs?|minutes?|mins?|weeks?|months?|years?|times?)\b)
      (?!\s*(?:天|小时|分钟|周|星期|个|次|月|年|号|日))
  | (?P<han>[{_HAN_NUMBER_CLASS}])\s*(?:分(?![钟之])|颗星|星)(?!\w)
  | (?P<number>{_NUMBER_WORD_ALTERNATION})
      (?:
        \s*(?:/|out\s+of)\s*(?P<number_scale>[0-9]+|five)(?:\s*stars?)?(?!\w)
      | \s*stars?(?!\w)
      | (?=\s*(?:[^\w\s]|$))
      )
  | (?P<stars>(?:[{_STARS}]\ufe0f?)+)☆*
  | (?P<word>{_SCORE_WORD_ALTERNATION})[了的啊呀吧哦喔呢嘛啦]*(?!\w)
  )
)
"""
_LEADING_SCORE = re.compile(r"\s*" + _TOKEN, re.VERBOSE)
_CLAUSE_SCORE = re.compile(r"\s*" + _TOKEN + r"\W*", re.VERBOSE)
# A clause ends at punctuation or a line break; a point or comma inside a number ("4.5") does not.
_CLAUSE = re.compile(r"(?:[,.](?=[0-9])|[^,.!?;、。\n])+")
_RUNS = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[^\u3400-\u9fff\uf900-\ufaff]+")
_JOINERS = " \t\r\n,，、;；:：-－–—~～"
_ENDERS = ".。!！?？…"


@dataclass(frozen=True)
class SurveyAnswer:
    score: int | None  # 1..5, None when no score could be read
    comment: str  # the rest of the text, stripped (may be "")


def _fold(text: str) -> tuple[str, list[int]]:
    """normalise(text), and for each folded character the index of the one it came from, so a
    score found in folded text is cut from the customer's own spelling of the comment."""
    whole = normalise(text)
    if len(whole) == len(text):  # the usual case: one character for one
        return whole, list(range(len(text)))
    pieces: list[str] = []
    origin: list[int] = []
    for run in _RUNS.finditer(text):  # Han runs kept whole: OpenCC converts phrase by phrase
        piece = normalise(run.group())
        if len(piece) == len(run.group()):
            pieces.append(piece)
            origin.extend(range(run.start(), run.end()))
            continue
        for i in range(run.start(), run.end()):  # NFKC grew or shrank something ("ﬁ" → "fi")
            piece = normalise(text[i])
            pieces.append(piece)
            origin.extend([i] * len(piece))
    return "".join(pieces), origin


def _score_of(found: re.Match[str]) -> int | None:
    """The score a token stands for, or None when it is off the 1–5 scale ("10", "0", "8/10")."""
    scale: str | None = None
    if found["digits"]:
        value, scale = int(found["digits"]), found["scale"]
    elif found["han"]:
        value = _HAN_NUMBERS[found["han"]]
    elif found["number"]:
        value, scale = _NUMBER_WORDS.index(found["number"]), found["number_scale"]
    elif found["stars"]:
        value = sum(found["stars"].count(star) for star in _STARS)
    else:
        value = _SCORE_WORDS[" ".join(found["word"].split())]
    if scale not in (None, "5", "five"):
        return None
    return value if 1 <= value <= 5 else None


def _without(text: str, start: int, end: int) -> str:
    """text with text[start:end] cut out, and the punctuation that tied it to the rest."""
    before = text[:start].rstrip()
    after = text[end:].lstrip(_JOINERS + _ENDERS)
    if not after:
        return before.rstrip(_JOINERS)
    if not before:
        return after.rstrip()
    removed = text[len(before) : len(text) - len(after)]
    glue = "\n" if "\n" in removed else (" " if before[-1].isascii() else "")
    return (before + glue + after).rstrip()


def read_survey_answer(text: str) -> SurveyAnswer:
    """The score in a reply to "how satisfied were you?" and what else the customer said.

    The score is the one the reply starts with ("5 - great", "很满意，谢谢"), else the first
    clause that is nothing but a score ("Quick help. Very satisfied!"): a score word inside a
    sentence ("I am not satisfied", "很满意客服") is not read, since its meaning depends on the
    words around it. The first score found decides; one off the scale gives None.
    """
    words = _own_words(text)
    folded, origin = _fold(words)
    found = _LEADING_SCORE.match(folded)
    if found is None:
        for clause in _CLAUSE.finditer(folded):
            found = _CLAUSE_SCORE.fullmatch(folded, clause.start(), clause.end())
            if found is not None:
                break
    score = _score_of(found) if found is not None else None
    if found is None or score is None:
        return SurveyAnswer(None, words)
    start, end = found.span("token")
    return SurveyAnswer(score, _without(words, origin[start], origin[end - 1] + 1))


# --- status requests -----------------------------------------------------------------------------

_STATUS_WORDS = frozenset(
    {"status", "状态", "进度", "查询进度", "查询状态", "ticket status", "my tickets", "工单状态"}
)


# Every status keyword contains one of these (after NFKC and casefold): most subjects are
# rejected before the costlier Traditional-to-Simplified conversion.
_STATUS_HINT = re.compile("status|tickets|[状狀进進度态態查询詢工]")
_LONGEST_STATUS_LINE = 40  # a keyword with some punctuation or an emoji around it
_LONGEST_STATUS_BODY = 60  # under a "status" subject: a greeting and a thank-you, not a report


def _trimmed(folded: str) -> str:
    """Whitespace folded, and punctuation, symbols and emoji around the text dropped
    ("【状态】", "Status?", "status 🙏")."""
    text = " ".join(folded.split())
    is_edge = [unicodedata.category(c)[0] in "PSZC" for c in text]
    start = is_edge.index(False) if False in is_edge else len(text)
    end = len(text) - (is_edge[::-1].index(False) if False in is_edge else 0)
    return text[start:end]


def is_status_request(subject: str, text: str) -> bool:
    """Whether a message to the support address only asks for the state of one's tickets: the
    subject or the whole of the body is a status keyword and nothing more, so a message that
    says anything else ("Status of my refund is wrong") still becomes a ticket."""
    hinted = _STATUS_HINT.search(unicodedata.normalize("NFKC", subject).casefold())
    if hinted and _trimmed(strip_reply_prefixes(normalise(subject))) in _STATUS_WORDS:
        # "Status" over a real report ("your status page shows 500 since 9am") is a problem.
        return len(_own_words(text)) <= _LONGEST_STATUS_BODY
    # A one-word body starts with that word: only then is the rest worth reading.
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.lstrip().startswith(">"):
        return _trimmed(normalise(_own_words(text))) in _STATUS_WORDS
    if len(first.strip()) > _LONGEST_STATUS_LINE or _trimmed(normalise(first)) not in _STATUS_WORDS:
        return False
    return _trimmed(normalise(_own_words(text))) in _STATUS_WORDS
