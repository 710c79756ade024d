"""Mail from agents: whether to trust it, the commands at its top, and the reply to relay.

Pure. An agent answers a ticket by replying to maild's notice; the daemon (1) trusts the sender
only if our own receiving server authenticated the sender's domain (RFC 8601
Authentication-Results), (2) reads `#command` lines typed at the top of the reply, and (3) trims
what the agent's mail client appended (quoted history, signature, "Sent from my iPhone") before
the rest goes to the customer. Call `trim_reply` first, then `read_agent_mail` on what is left.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal

from maild.classify import normalise

# --- 1. Authentication-Results (RFC 8601) ---------------------------------------------------


class _Malformed(ValueError):
    """A header that does not follow the RFC 8601 grammar; never escapes this module."""


_KEYWORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_METHOD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:/[0-9]+)?")
_PROPERTY = re.compile(r"(?:[A-Za-z0-9-]+\.)?[A-Za-z0-9_-]+")  # ptype.property, or bare
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# Which property of a passing result names the domain it vouches for (RFC 8601 §2.7).
_VOUCHING = {
    "dkim": ("header.d", "header.i"),
    "spf": ("smtp.mailfrom",),
    "dmarc": ("header.from",),
}

_Token = tuple[str, str]  # ("word", text) or (";", ";") or ("=", "=")


def _skip_comment(value: str, start: int) -> int:
    """The index after the comment opening at `start`; comments nest and know backslashes."""
    depth = 0
    i = start
    while i < len(value):
        char = value[i]
        if char == "\\":
            i += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _Malformed("unterminated comment")


def _read_quoted(value: str, start: int) -> tuple[int, str]:
    """The index after the quoted string opening at `start`, and its unescaped content."""
    content: list[str] = []
    i = start + 1
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            content.append(value[i + 1])
            i += 2
            continue
        if char == '"':
            return i + 1, "".join(content)
        content.append(char)
        i += 1
    raise _Malformed("unterminated quoted string")


def _tokens(value: str) -> list[_Token]:
    """Words, ';' and '=', with CFWS (comments, folding whitespace) dropped between them."""
    tokens: list[_Token] = []
    word: list[str] = []
    in_word = False

    def end_word() -> None:
        nonlocal in_word
        if in_word:
            tokens.append(("word", "".join(word)))
            word.clear()
            in_word = False

    i = 0
    while i < len(value):
        char = value[i]
        if char == "(":
            end_word()
            i = _skip_comment(value, i)
        elif char.isspace():
            end_word()
            i += 1
        elif char in ";=":
            end_word()
            tokens.append((char, char))
            i += 1
        elif char == '"':
            i, content = _read_quoted(value, i)
            word.append(content)
            in_word = True
        elif char == ")":
            raise _Malformed("unbalanced ')'")
        else:
            word.append(char)
            in_word = True
            i += 1
    end_word()
    return tokens


def _segments(tokens: list[_Token]) -> list[list[_Token]]:
    segments: list[list[_Token]] = [[]]
    for token in tokens:
        if token[0] == ";":
            segments.append([])
        else:
            segments[-1].append(token)
    return segments


def _authserv_id(head: list[_Token]) -> str | None:
    """The authserv-id, or None for a header without one (Exchange Online writes those)."""
    if not head or head[0][0] != "word" or (len(head) > 1 and head[1][0] == "="):
        return None
    return head[0][1]


def _resinfo(segment: list[_Token]) -> tuple[str, str, dict[str, str]]:
    """(method, result, properties) of one `method=result name=value ...` segment."""
    kinds = [kind for kind, _ in segment]
    pairs = len(segment) // 3
    if len(segment) % 3 or kinds != ["word", "=", "word"] * pairs:
        raise _Malformed("not method=result [name=value ...]")
    method, result = segment[0][1], segment[2][1]
    if not _METHOD.fullmatch(method) or not _KEYWORD.fullmatch(result):
        raise _Malformed(f"bad method or result {method}={result}")
    properties: dict[str, str] = {}
    for i in range(3, len(segment), 3):
        name = segment[i][1]
        if not _PROPERTY.fullmatch(name):
            raise _Malformed(f"bad property {name!r}")
        properties.setdefault(name.lower(), segment[i + 2][1])
    return method.partition("/")[0].lower(), result.lower(), properties


def canonical_domain(text: str) -> str | None:
    """A domain as compared here: lower case, no trailing dot, IDN as ASCII; None if not one."""
    domain = text.strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = domain.split(".")
    if len(domain) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return domain


def _vouched_domains(value: str) -> frozenset[str]:
    """The domains one header of ours vouches for; _Malformed if any of it is malformed."""
    segments = _segments(_tokens(value))
    head, results = segments[0], segments[1:]
    if len(head) > 2 or (len(head) == 2 and not head[1][1].isdigit()):
        raise _Malformed("junk after the authserv-id")
    domains: set[str] = set()
    # RFC 8601's "none" (no results) is no method=result, so it reads as malformed: the same set.
    for segment in results:
        if not segment:  # ";;" or a trailing ";", as some servers write
            continue
        method, result, properties = _resinfo(segment)
        if result != "pass":
            continue
        for name in _VOUCHING.get(method, ()):
            if name in properties:
                domain = canonical_domain(properties[name].rpartition("@")[2])
                if domain is not None:
                    domains.add(domain)
    return frozenset(domains)


def authenticated_domains(header_values: Sequence[str], authserv_id: str) -> frozenset[str]:
    """Domains our receiving server authenticated (DKIM, SPF or DMARC pass), lower case.

    Only the topmost header carrying our authserv-id counts (RFC 8601 §5): it is the one our
    server added, and anything further down was written by whoever sent the message. Fails
    closed: malformed input gives an empty set, as does a header above ours that cannot be read
    (we could not tell whether it was ours).
    """
    wanted = authserv_id.strip().lower() if isinstance(authserv_id, str) else ""
    if not wanted:
        return frozenset()
    values = [header_values] if isinstance(header_values, str) else header_values
    try:
        for value in values:
            if not isinstance(value, str):
                return frozenset()
            found = _authserv_id(_segments(_tokens(value))[0])
            if found is not None and found.lower() == wanted:
                return _vouched_domains(value)
    except (_Malformed, TypeError):
        return frozenset()
    return frozenset()


def sender_trusted(sender: str, header_values: Sequence[str], authserv_id: str) -> bool:
    """Whether our server authenticated the sender's own domain: exact match only, because a
    signature by example.com says nothing about evil.example.com, nor the other way round."""
    if not isinstance(sender, str):
        return False
    address = parseaddr(sender)[1]
    if "@" not in address:
        return False
    domain = canonical_domain(address.rpartition("@")[2])
    return domain is not None and domain in authenticated_domains(header_values, authserv_id)


# --- 2. Commands at the top of an agent's reply ----------------------------------------------


@dataclass(frozen=True)
class Command:
    name: str  # canonical: assign, take, priority, category, status, resolve, ...
    argument: str  # "" when none; the canonical value for priority and status
    line: str  # the line as typed, for messages to the agent


@dataclass(frozen=True)
class AgentMail:
    commands: tuple[Command, ...]
    errors: tuple[str, ...]  # one line each, for the answer to the agent
    reply: str  # for the customer: the text after the command lines; "" if none
    note: str  # internal: everything from a #comment on; never sent to the customer


@dataclass(frozen=True)
class _Verb:
    """One command: its names, what argument it takes, and the words of its help line."""

    name: str
    aliases: tuple[str, ...]  # Chinese
    takes: Literal["none", "optional", "required"]
    usage: str  # the argument as shown in the help text
    meaning: str
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()  # canonical value, other spellings


_VERBS = (
    _Verb("assign", ("指派",), "required", "AGENT", "give the ticket to an agent"),
    _Verb("take", ("认领", "领取"), "none", "", "take the ticket yourself"),
    _Verb(
        "priority",
        ("优先级",),
        "required",
        "LEVEL",
        "set the priority:",
        (("urgent", ("紧急",)), ("important", ("重要",)), ("general", ("一般",))),
    ),
    _Verb("category", ("类别", "分类"), "required", "CATEGORY", "set the category"),
    _Verb(
        "status",
        ("状态",),
        "required",
        "STATE",
        "set the status:",
        (("pending", ("等待", "等待客户")), ("open", ("处理中",))),
    ),
    _Verb("resolve", ("解决",), "optional", "[SUMMARY]", "mark the ticket resolved"),
    _Verb("close", ("关闭",), "none", "", "close the ticket"),
    _Verb("reopen", ("重开", "重新打开"), "none", "", "reopen the ticket"),
    _Verb("merge", ("合并",), "required", "TICKET", "merge into another ticket, e.g. MD-12"),
    _Verb("comment", ("备注",), "optional", "[TEXT]", "the rest is an internal note, not sent"),
)
_BY_NAME = {normalise(n): v for v in _VERBS for n in (v.name, *v.aliases)}
# Chinese is written without spaces, so "#优先级紧急" is "#优先级 紧急"; longest name first.
_CHINESE_NAMES = sorted((n for v in _VERBS for n in v.aliases), key=len, reverse=True)
# "#word rest", "#word: rest", "＃word：rest" — the hash already checked and removed.
_COMMAND_WORD = re.compile(r"(?P<word>[^\s:：]+)\s*[:：]?\s*(?P<rest>.*)", re.DOTALL)


def _valid_values(verb: _Verb) -> str:
    return ", ".join("/".join((value, *others)) for value, others in verb.values)


def _help_line(verb: _Verb) -> str:
    english = f"#{verb.name} {verb.usage}".rstrip()
    chinese = ", ".join(f"#{alias}" for alias in verb.aliases)
    meaning = f"{verb.meaning} {_valid_values(verb)}" if verb.values else verb.meaning
    return f"  {english} ({chinese}): {meaning}"


VALID_COMMANDS = "\n".join(
    [
        "Commands go on their own lines at the top of your reply, before any text for the customer",
        "(命令写在回复最上面，每行一个):",
        *(_help_line(verb) for verb in _VERBS),
    ]
)


def _command(body: str) -> tuple[_Verb | None, str, str]:
    """(verb or None if unknown, the word as typed, the argument) of a command line's body."""
    match = _COMMAND_WORD.fullmatch(body)
    if match is None:  # cannot happen: the body starts with a letter
        return None, body, ""
    word, rest = match.group("word"), match.group("rest").strip()
    key = normalise(word)
    verb = _BY_NAME.get(key)
    if verb is None:
        for name in _CHINESE_NAMES:
            if key.startswith(name):
                glued = word[len(name) :]
                return _BY_NAME[name], word[: len(name)], f"{glued} {rest}".strip()
    return verb, word, rest


def read_agent_mail(text: str) -> AgentMail:
    """The commands at the top of an agent's reply, what is wrong with them, the text for the
    customer and the internal note. Commands are read only at the top so that a '#' in what the
    customer is meant to read is never acted on."""
    commands: list[Command] = []
    errors: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        body = stripped[1:]
        if stripped[0] not in "#＃" or not body[:1].isalpha():  # "#1 issue", "# heading"
            reply = "\n".join(lines[index:]).rstrip()
            return AgentMail(tuple(commands), tuple(errors), reply, "")
        verb, word, argument = _command(body)
        typed = f"#{word}"
        if verb is None:
            errors.append(f"unknown command '{typed}'")
        elif verb.name == "comment":
            commands.append(Command("comment", "", line))
            note = "\n".join([argument, *lines[index + 1 :]]).strip()
            return AgentMail(tuple(commands), tuple(errors), "", note)
        elif verb.takes == "none" and argument:
            errors.append(f"'{typed}' takes no argument, but got '{argument}'")
        elif verb.takes == "required" and not argument:
            wanted = f"one of {_valid_values(verb)}" if verb.values else verb.usage
            errors.append(f"missing argument: '{typed}' needs {wanted}")
        elif verb.values:
            spelt = normalise(argument)
            value = next(
                (v for v, others in verb.values if spelt == v or spelt in others),
                None,
            )
            if value is None:
                errors.append(f"bad value '{argument}' for '{typed}': use {_valid_values(verb)}")
            else:
                commands.append(Command(verb.name, value, line))
        else:
            commands.append(Command(verb.name, argument, line))
    return AgentMail(tuple(commands), tuple(errors), "", "")


# --- 3. Trimming a reply for relay ------------------------------------------------------------

# "On Mon, 23 Nov 2026 at 10:00, Alice <a@x> wrote:" (Gmail, Apple Mail, Thunderbird);
# "在 2026年11月23日 10:00，张三 <z@x> 写道：" (Foxmail, Apple Mail) and
# "张三 <z@x> 于2026年11月23日周一 10:00写道：" (Gmail). A date is what tells them from prose.
_ATTRIBUTION = re.compile(
    r"^On\s.*\d.*\swrote:$|\d.*(?:写道|寫道)\s*[:：]$",
    re.IGNORECASE,
)
# Longer lines are prose; the bound also keeps the backtracking of '.*\d.*' small.
_ATTRIBUTION_CHARS = 300
# The first half of an attribution that the client wrapped onto two lines.
_ATTRIBUTION_START = re.compile(r"^On\s.*\d|^在\s*\S*\d|\S.*于\s*\d", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(?:original\s+message|原始邮件|原始郵件|邮件原件)\s*-{2,}$",
    re.IGNORECASE,
)
# Outlook's block of the replied-to message's headers, in English and Chinese, plain or bold.
_FIELD = r"^\*?\s*(?:{})\s*\*?\s*[:：]"
_FROM_FIELD = re.compile(_FIELD.format("from|发件人|發件人|寄件者"), re.IGNORECASE)
_SENT_FIELD = re.compile(
    _FIELD.format("sent|date|发送时间|發送時間|寄件日期|日期|时间|時間"), re.IGNORECASE
)
_SUBJECT_FIELD = re.compile(_FIELD.format("subject|主题|主題|主旨"), re.IGNORECASE)
_HEADER_BLOCK_LINES = 8  # a long wrapped To: or Cc: still fits
_RULE = re.compile(r"^[_-]{8,}$")  # Outlook draws one above its header block
_DEVICE_TRAILER = re.compile(
    r"^(?:sent from my [\w\- ]{1,40}\.?"
    r"|sent from (?:outlook|mail) for [\w ]{1,20}"
    r"|get outlook for [\w ]{1,20}"
    r"|(?:发自|發自)我的\s*\S.{0,20}"
    r"|从我的\s*\S.{0,20}发送"
    r"|發送自我的\s*\S.{0,20}"
    r"|发自网易邮箱\S{0,10})$",
    re.IGNORECASE,
)


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _marker(lines: list[str]) -> tuple[int, int, bool] | None:
    """(first line, line after, is an attribution) of the first quoted-history marker."""
    for i, line in enumerate(lines):
        text = line.strip()
        if not text or _quoted(line):
            continue
        if _ORIGINAL_MESSAGE.match(text):
            return i, i + 1, False
        if len(text) <= _ATTRIBUTION_CHARS and _ATTRIBUTION.search(text):
            return i, i + 1, True
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if (
            len(text) + len(following) < _ATTRIBUTION_CHARS
            and following
            and not _quoted(lines[i + 1])
            and _ATTRIBUTION_START.search(text)
            and not _ATTRIBUTION_START.search(following)  # a continuation, not a new start
            and _ATTRIBUTION.search(f"{text} {following}")
        ):
            return i, i + 2, True
        if _FROM_FIELD.match(text):
            block = [s.strip() for s in lines[i + 1 : i + 1 + _HEADER_BLOCK_LINES]]
            if any(map(_SENT_FIELD.match, block)) and any(map(_SUBJECT_FIELD.match, block)):
                return i, i + 1, False
    return None


def _drop_trailing(lines: list[str]) -> list[str]:
    """Without the blank, quoted, ruled and "Sent from my iPhone" lines at the end."""
    end = len(lines)
    while end and (
        not lines[end - 1].strip()
        or _quoted(lines[end - 1])
        or _RULE.match(lines[end - 1].strip())
        or _DEVICE_TRAILER.match(lines[end - 1].strip())
    ):
        end -= 1
    return lines[:end]


def _has_text(lines: list[str]) -> bool:
    return bool(_drop_trailing(lines))


def trim_reply(text: str) -> str:
    """What the agent wrote, without the history, signature and trailer their client added.

    Cut at the first attribution or original-message marker, drop trailing quoted lines, then
    cut at the signature separator ("-- " or "--"). A bottom-posted reply (nothing above the
    "On … wrote:" line, Thunderbird's default) keeps what follows the attribution instead, with
    its inline quotes, so that answer is not lost.
    """
    lines = text.splitlines()
    found = _marker(lines)
    if found is not None:
        start, after, attribution = found
        bottom_posted = attribution and not _has_text(lines[:start])
        lines = lines[after:] if bottom_posted else lines[:start]
    lines = _drop_trailing(lines)
    for i, line in enumerate(lines):
        if line.rstrip() == "--":
            lines = _drop_trailing(lines[:i])
            break
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    return "\n".join(lines[first:]).rstrip()
