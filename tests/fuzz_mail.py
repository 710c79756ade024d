"""Hostile mail for fuzzing intake: ordinary mail, then the tricks a hostile or broken sender
plays on it, and the check that each message still ends somewhere the help desk can see.

Shared by tests/test_fuzz.py (sizes that fit CI) and bench/fuzz.py (long runs, larger sizes).
Mail is built from structured choices rather than random bytes, so hypothesis explores what
reaches deep into the parser (issue 11): nesting of both kinds, encoded words with 8-bit or
invalid payloads, truncation, boundary games, header floods, NULs, bogus charsets, long lines,
random byte edits, line-ending games and Message-IDs reused by different mail.
"""

from __future__ import annotations

import base64
import quopri
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from maild.config import Config, parse_config
from maild.ingest import Outcome, ingest_batch
from maild.intake.fingerprint import content_fingerprint
from maild.intake.parse_pool import ParserPool
from maild.store import Store

SUPPORT = "support@maild.test"
AGENT = "li@maild.test"
AUTHSERV = "mx.maild.test"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CRLF = b"\r\n"

# --- what ordinary mail is made of ----------------------------------------------------------

SENDERS = (
    ("王伟", "wang.wei@example.cn"),
    ("Alice Smith", "alice@example.com"),
    ("陳小姐", "chen@example.com.tw"),
    ("", "bob@example.org"),
    ("李客服", AGENT),
    ("Shop", "no-reply@shop.example"),
)
# (subject, body) per language; simplified Chinese only from GB2312, traditional from Big5.
TOPICS = {
    "zh": (
        (
            "系统崩溃，无法登录",
            "您好，\n\n今天上午开始系统崩溃，无法登录，请尽快处理。\n\n谢谢！\n王伟",
        ),
        ("发票抬头错误", "你好，发票抬头写错了，麻烦重新开一张。"),
        ("支付失败", "支付失败了，钱已经扣了，订单号 20261123。"),
        ("状态", "状态"),
    ),
    "tw": (
        ("帳號無法登入", "您好，帳號無法登入，請協助處理。"),
        ("付款失敗", "付款失敗，請儘快回覆。"),
    ),
    "en": (
        ("Payment failed", "Hello,\n\nsince this morning payment fails. Could you look into it?"),
        ("Cannot log in", "Hi, I cannot log in since the update.\n\n> earlier mail\n> quoted"),
        ("status", "status"),
    ),
}
AGENT_BODIES = (
    "#assign li\n我们正在处理。",
    "#resolve\nThe payment went through now.",
    "#priority urgent\n#note customer called",
    "#close",
    "#merge MD-1001",
)
CHARSETS = {
    "zh": ("gbk", "gb2312", "gb18030", "utf-8"),
    "tw": ("big5", "utf-8"),
    "en": ("us-ascii", "utf-8", "iso-8859-1"),
}
REPLY_PREFIXES = ("", "", "Re: ", "回复: ", "答复: ", "RE: Fwd: ")
TOKENS = ("", "", "[#MD-1001] ", "[#MD-1002] ", "[#MD-9999] ", "[#md-1001]")
# A small pool, so that different mail reuses a Message-ID and replies name real ones.
MESSAGE_IDS = tuple(f"<m{n}@example.cn>".encode() for n in range(4))
BOGUS_CHARSETS = (
    b"x-unknown",
    b"utf-8\x00",
    b"idna",
    b"undefined",
    b"utf-16",
    b"utf-32-le",
    b"utf-7",
    b"rot13",
    b"base64",
    b"zlib",
    b"bz2",
    b"hex",
    b"uu",
    b"quopri",
    b"punycode",
    b"unicode_escape",
    b"raw_unicode_escape",
    b"",
    b"gb2312'zh-cn'",
    b"iso-2022-jp",
    b"hz",
    b"cp037",
    b"\xe4\xb8\xad",
    b"x" * 300,
)
# Encoded words as broken mailers and attackers write them (RFC 2047 forbids all of these).
POISON_WORDS = (
    b"=?utf-8?q?caf\xe9?=",
    b"=?gbk?q?" + "中文客服".encode("gbk") + b"?=",
    b"=?gbk?b?" + "发票".encode("gbk") + b"?=",
    b"=?utf-8?b?" + "中文".encode() + b"?=",
    b"=?big5?q?" + "帳號".encode("big5") + b"?=",
    b"=?utf-8?b?5Lit5?=",
    b"=?utf-8?b?!!!*?=",
    b"=?utf-8?q?=E4=B8?=",
    b"=?utf-8?q??=",
    b"=?utf-8*zh?q?abc?=",
    b"=?x-unknown?q?abc?=",
    b"=?utf-16?b?2D3eAA==?=",
    b"=?idna?q?=FF?=",
    b"=?zlib?b?eJzLSM3JyQcABiwCFQ==?=",
    b"=??q?abc?=",
    b"=?utf-8?x?abc?=",
)


@dataclass(frozen=True)
class Scale:
    """How big the hostile parts may get: CI keeps them small, the bench goes further."""

    depth: int  # nesting levels
    flood_lines: int  # header lines added to one header block
    folded_lines: int  # continuation lines of one header field
    at_signs: int  # "@" characters in one Message-ID
    long_line: int  # bytes in one line


CI = Scale(depth=3000, flood_lines=5000, folded_lines=5000, at_signs=5000, long_line=200_000)
BENCH = Scale(
    depth=10_000, flood_lines=60_000, folded_lines=60_000, at_signs=60_000, long_line=2 * 2**20
)


@dataclass(frozen=True)
class Batch:
    """Mail taken in as one batch; `redelivered[i] = j` says mail i is mail j delivered again."""

    mails: tuple[bytes, ...]
    redelivered: dict[int, int] = field(default_factory=dict)


# --- ordinary mail ----------------------------------------------------------------------------


def encode_header_text(text: str, charset: str, style: str) -> bytes:
    """A header value in one of the ways mailers write non-ASCII text: raw 8-bit bytes, one B
    or Q encoded word, or two B words split mid-character (Outlook does that)."""
    charset = charset if _encodable(text, charset) else "utf-8"
    data = text.encode(charset)
    if text.isascii() or style == "raw":
        return data
    label = charset.encode()
    if style == "q":
        quoted = b"".join(
            b"=%02X" % byte if byte > 127 or byte in b" =?_" else bytes([byte]) for byte in data
        )
        return b"=?" + label + b"?Q?" + quoted + b"?="
    if style == "split":
        half = len(data) // 2
        first, second = base64.b64encode(data[:half]), base64.b64encode(data[half:])
        return b"=?%b?B?%b?= =?%b?B?%b?=" % (label, first, label, second)
    return b"=?" + label + b"?B?" + base64.b64encode(data) + b"?="


def _encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _body_bytes(text: str, charset: str, encoding: str) -> bytes:
    data = text.replace("\n", "\r\n").encode(charset)
    if encoding == "base64":
        return base64.encodebytes(data).replace(b"\n", CRLF)
    if encoding == "quoted-printable":
        return quopri.encodestring(data).replace(b"\n", CRLF)
    return data


def text_part(text: str, charset: str, subtype: str, encoding: str) -> bytes:
    """One text part, its header block included."""
    return (
        b'Content-Type: text/%b; charset="%b"\r\n' % (subtype.encode(), charset.encode())
        + b"Content-Transfer-Encoding: %b\r\n\r\n" % encoding.encode()
        + _body_bytes(text, charset, encoding)
    )


def multipart(subtype: str, boundary: bytes, parts: Sequence[bytes]) -> bytes:
    """A multipart part (header block included) holding `parts`."""
    out = [b'Content-Type: multipart/%b; boundary="%b"\r\n\r\n' % (subtype.encode(), boundary)]
    out += [b"--" + boundary + CRLF + part + CRLF for part in parts]
    out.append(b"--" + boundary + b"--" + CRLF)
    return b"".join(out)


def attachment(payload: bytes, content_type: bytes, filename: bytes, inline: bool) -> bytes:
    """A base64 attachment; `filename` is already encoded as the header wants it."""
    disposition = b"inline" if inline else b"attachment"
    extra = b"Content-ID: <logo@example.cn>\r\n" if inline else b""
    return (
        b"Content-Type: "
        + content_type
        + CRLF
        + b"Content-Disposition: "
        + disposition
        + b"; "
        + filename
        + CRLF
        + extra
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(payload).replace(b"\n", CRLF)
    )


FILENAMES = (
    b'filename="report.pdf"',
    b"filename*=utf-8''%E5%8F%91%E7%A5%A8.pdf",
    b'filename="=?gbk?B?' + base64.b64encode("发票".encode("gbk")) + b'?=.pdf"',
    b'filename="' + "截图".encode("gbk") + b'.png"',
    b'filename="../../etc/passwd"',
    b"filename*0*=utf-8''%E5%8F; filename*1*=%91.txt",
)


@st.composite
def mail_body(draw: st.DrawFn, language: str, text: str, charset: str) -> bytes:
    """The MIME part a mail's body is: plain, HTML-only, alternative, with attachments, or a
    forwarded message."""
    encoding = draw(st.sampled_from(("8bit", "base64", "quoted-printable")))
    plain = text_part(text, charset, "plain", encoding)
    html_text = "<html><body><p>" + text.replace("\n", "<br>") + "</p></body></html>"
    html = text_part(html_text, charset, "html", encoding)
    shape = draw(st.sampled_from(("plain", "html", "alternative", "attached", "forward")))
    boundary = draw(st.sampled_from((b"b1", b"==_Part_0_1234", b"----=_NextPart_000")))
    if shape == "plain":
        return plain
    if shape == "html":
        return html
    if shape == "alternative":
        return multipart("alternative", boundary, [plain, html])
    if shape == "attached":
        files = [
            attachment(
                draw(st.binary(max_size=300)),
                draw(st.sampled_from((b"application/pdf", b"image/png", b"application/x-foo"))),
                draw(st.sampled_from(FILENAMES)),
                inline=draw(st.booleans()),
            )
            for _ in range(draw(st.integers(1, 3)))
        ]
        return multipart("mixed", boundary, [plain, *files])
    title = encode_header_text("转发的邮件" if language != "en" else "Forwarded", "utf-8", "b")
    forwarded = b"From: old@example.com\r\nSubject: " + title + CRLF + plain
    attached = b"Content-Type: message/rfc822\r\n\r\n" + forwarded
    return multipart("mixed", boundary, [plain, attached])


@st.composite
def ordinary_mail(draw: st.DrawFn) -> bytes:
    """A mail a help desk gets every day, in Chinese (GB, Big5, UTF-8) or English: new, a reply
    with In-Reply-To/References or a ticket token, an agent's reply, an auto-reply."""
    language = draw(st.sampled_from(tuple(TOPICS)))
    subject, text = draw(st.sampled_from(TOPICS[language]))
    charset = draw(st.sampled_from(CHARSETS[language]))
    name, address = draw(st.sampled_from(SENDERS))
    if address == AGENT:
        text = draw(st.sampled_from(AGENT_BODIES))
    if language == "en" or address == AGENT:
        charset = "utf-8" if not (subject + text).isascii() else charset
    style = draw(st.sampled_from(("raw", "b", "q", "split")))
    subject = draw(st.sampled_from(REPLY_PREFIXES)) + draw(st.sampled_from(TOKENS)) + subject
    header_charset = charset if charset != "us-ascii" else "utf-8"
    sender = encode_header_text(name, header_charset, style) + b" <" + address.encode() + b">"
    headers = [
        b"From: " + (sender if name else address.encode()),
        b"To: Support <" + SUPPORT.encode() + b">",
        b"Subject: " + encode_header_text(subject, header_charset, style),
        b"MIME-Version: 1.0",
    ]
    if draw(st.booleans()):
        headers.append(b"Date: Mon, 23 Nov 2026 10:00:00 +0800")
    if draw(st.integers(0, 4)):
        headers.append(b"Message-ID: " + draw(st.sampled_from(MESSAGE_IDS)))
    if draw(st.booleans()):
        parent = draw(st.sampled_from(MESSAGE_IDS))
        headers += [b"In-Reply-To: " + parent, b"References: <root@example.cn> " + parent]
    if draw(st.integers(0, 5)) == 0:
        headers.append(b"Cc: bob@example.org")
    if draw(st.integers(0, 5)) == 0:
        headers.append(b"Auto-Submitted: auto-replied")
    if address == AGENT and draw(st.booleans()):
        headers.append(
            b"Authentication-Results: " + AUTHSERV.encode() + b"; dmarc=pass header.from=maild.test"
        )
    body = draw(mail_body(language, text, charset))
    return CRLF.join(headers) + CRLF + body


# --- the tricks ---------------------------------------------------------------------------------

Mutation = Callable[[st.DrawFn, bytes, Scale], bytes]
_OUTER = (
    b"From: alice@example.com\r\nTo: " + SUPPORT.encode() + b"\r\nSubject: Fwd: nested\r\n"
    b"MIME-Version: 1.0\r\n"
)
_BOUNDARY = re.compile(rb'boundary="?([^";\r\n]*)"?', re.IGNORECASE)
_CHARSET = re.compile(rb'charset="?([^";\r\n]*)"?', re.IGNORECASE)
_SUBJECT = re.compile(rb"^Subject:[^\n]*\n?(?:[ \t][^\n]*\n?)*", re.IGNORECASE | re.MULTILINE)


def _depth(draw: st.DrawFn, scale: Scale) -> int:
    """Mostly shallow, sometimes around the known poison (300-500), sometimes thousands."""
    return draw(
        st.one_of(
            st.integers(1, 40), st.integers(300, 500), st.integers(500, max(scale.depth, 500))
        )
    )


def nest(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """The mail inside levels of multipart, of attached messages (message/rfc822), or both
    alternating; boundaries distinct or the same at every level."""
    depth = _depth(draw, scale)
    kind = draw(st.sampled_from(("multipart", "rfc822", "alternating")))
    same = draw(st.booleans())
    opening: list[bytes] = []
    closing: list[bytes] = []
    for level in range(depth):
        attached = kind == "rfc822" or (kind == "alternating" and level % 2 == 1)
        if attached:
            opening.append(b"Content-Type: message/rfc822\r\n\r\n")
            continue
        boundary = b"same" if same else b"n%d" % level
        opening.append(
            b'Content-Type: multipart/mixed; boundary="%b"\r\n\r\n--%b\r\n' % (boundary, boundary)
        )
        closing.append(b"\r\n--%b--\r\n" % boundary)
    return _OUTER + b"".join(opening) + raw + b"".join(reversed(closing))


def poison_words(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """Encoded words with 8-bit, invalid or unknown-charset payloads in the Subject (or the
    sender's name), including made-up ones."""
    made_up = st.builds(
        lambda label, kind, payload: b"=?" + label + b"?" + kind + b"?" + payload + b"?=",
        st.sampled_from((b"utf-8", b"gbk", b"big5", *BOGUS_CHARSETS[:8])),
        st.sampled_from((b"q", b"Q", b"b", b"B")),
        st.binary(max_size=24),
    )
    words = draw(
        st.lists(st.one_of(st.sampled_from(POISON_WORDS), made_up), min_size=1, max_size=3)
    )
    value = draw(st.sampled_from((b"", b"Re: ", "回复：".encode()))) + b" ".join(words)
    if draw(st.integers(0, 3)) == 0:
        return b"From: " + value + b" <alice@example.com>\r\n" + raw
    return _with_subject(raw, value)


def _with_subject(raw: bytes, value: bytes) -> bytes:
    """The mail with its Subject replaced (or a Subject put first when it has none)."""
    line = b"Subject: " + value + CRLF
    match = _SUBJECT.search(raw)
    if match is None:
        return line + raw
    return raw[: match.start()] + line + raw[match.end() :]


def truncate(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """The mail cut off anywhere (a dropped connection, a full disk)."""
    return raw[: draw(st.integers(0, len(raw)))]


def boundary_games(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """Missing start or end delimiters, duplicated or empty boundaries, one boundary for every
    level, a mismatched declaration, a delimiter in the text, an over-long boundary."""
    found = _BOUNDARY.search(raw)
    if found is None or not found[1]:
        return raw
    boundary = found[1]
    delimiter = b"--" + boundary
    game = draw(
        st.sampled_from(
            ("no_start", "no_end", "twice", "empty", "all_same", "mismatch", "in_text", "long")
        )
    )
    if game == "no_start":
        return raw.replace(delimiter + CRLF, b"", 1)
    if game == "no_end":
        return raw.replace(delimiter + b"--", b"")
    if game == "twice":
        return raw.replace(delimiter + CRLF, (delimiter + CRLF) * 2, 1)
    if game == "empty":
        return raw[: found.start(1)] + raw[found.end(1) :]
    if game == "all_same":
        return _BOUNDARY.sub(lambda _: b'boundary="' + boundary + b'"', raw)
    if game == "mismatch":
        return raw[: found.start(1)] + boundary + b"x" + raw[found.end(1) :]
    if game == "in_text":
        cut = draw(st.integers(found.end(), len(raw)))
        return raw[:cut] + CRLF + delimiter + CRLF + raw[cut:]
    long = b"=" * 200
    return raw.replace(boundary, long)


def header_flood(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """Thousands of header lines, one header folded over thousands of lines, a Message-ID (or
    In-Reply-To, References) of thousands of "@", References naming thousands of ids."""
    game = draw(st.sampled_from(("fields", "received", "folded", "at_signs", "references")))
    if game == "fields":
        n = draw(st.integers(1, scale.flood_lines))
        return b"".join(b"X-Flood-%d: %d\r\n" % (i, i) for i in range(n)) + raw
    if game == "received":
        n = draw(st.integers(1, scale.flood_lines))
        return b"Received: from relay.example by mx.example; Mon, 23 Nov 2026\r\n" * n + raw
    if game == "folded":
        n = draw(st.integers(1, scale.folded_lines))
        name = draw(st.sampled_from((b"Subject", b"X-Long", b"References", b"To")))
        return name + b": start" + b"\r\n x" * n + CRLF + raw
    if game == "at_signs":
        n = draw(st.integers(1, scale.at_signs))
        name = draw(st.sampled_from((b"Message-ID", b"In-Reply-To", b"References")))
        shape = draw(st.sampled_from((b"<%b>", b"%bx", b"a%b")))
        return name + b": " + shape % (b"@" * n) + CRLF + raw
    n = draw(st.integers(1, scale.flood_lines))
    return b"References: " + b" ".join(b"<r%d@example.cn>" % i for i in range(n)) + CRLF + raw


def nuls(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """NUL bytes put in or written over anywhere."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()) and at < len(data):
            data[at] = 0
        else:
            data.insert(at, 0)
    return bytes(data)


def bogus_charsets(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """Charset labels Python does not know, knows as something else (codecs that are not
    charsets: rot13, zlib, idna), or cannot take (a NUL, 8-bit bytes, RFC 2231 language tags)."""
    label = draw(st.sampled_from(BOGUS_CHARSETS))
    if _CHARSET.search(raw) is None or draw(st.integers(0, 4)) == 0:
        extra = b"Content-Type: text/plain; charset*=" + label + b"''%E4%B8%AD\r\n"
        return extra + raw
    count = draw(st.integers(0, 3))
    return _CHARSET.sub(lambda _: b'charset="' + label + b'"', raw, count=count)


def long_line(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """One line far over SMTP's 998 characters, in a header or in the body."""
    size = draw(st.one_of(st.integers(999, 5000), st.integers(5000, scale.long_line)))
    unit = draw(st.sampled_from((b"a", "中".encode(), "中".encode("gbk"), b"=E4=B8=AD")))
    line = (unit * (size // len(unit) + 1))[:size]
    if draw(st.booleans()):
        return b"X-Long: " + line + CRLF + raw
    at = raw.find(b"\r\n\r\n")
    at = len(raw) if at < 0 else at + 4
    return raw[:at] + line + CRLF + raw[at:]


def byte_edits(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """One to four random bytes flipped, put in, taken out or written over."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        edit = draw(st.sampled_from(("flip", "insert", "delete", "set")))
        if edit == "insert" or not data:
            data.insert(at, draw(st.integers(0, 255)))
        elif edit == "delete":
            del data[at]
        elif edit == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


def line_endings(draw: st.DrawFn, raw: bytes, scale: Scale) -> bytes:
    """Bare LF (as IMAP servers often give), bare CR, or doubled CR."""
    ending = draw(st.sampled_from((b"\n", b"\r", b"\r\r\n")))
    return raw.replace(CRLF, ending)


MUTATIONS: tuple[Mutation, ...] = (
    nest,
    poison_words,
    truncate,
    boundary_games,
    header_flood,
    nuls,
    bogus_charsets,
    long_line,
    byte_edits,
    line_endings,
)


@st.composite
def hostile_mail(draw: st.DrawFn, scale: Scale = CI, tricks: int = 0) -> bytes:
    """Ordinary mail with at least `tricks` (and at most 3) of the tricks applied, in a drawn
    order; the same trick may come twice (a nest within a nest)."""
    raw = draw(ordinary_mail())
    chosen = st.lists(st.sampled_from(MUTATIONS), min_size=tricks, max_size=max(tricks, 3))
    for mutation in draw(chosen):
        raw = mutation(draw, raw, scale)
    return raw


@st.composite
def mail_batches(draw: st.DrawFn, scale: Scale = CI) -> Batch:
    """One to four mails taken in together (their Message-IDs from a small pool, so different
    mail reuses one), sometimes with one of them delivered again (byte for byte, or with a
    trace header of its own as a second delivery has)."""
    mails = draw(st.lists(hostile_mail(scale), min_size=1, max_size=4))
    if not draw(st.booleans()):
        return Batch(tuple(mails))
    original = draw(st.integers(0, len(mails) - 1))
    trace = draw(st.sampled_from((b"", b"Received: from mx2.example by mx.maild.test\r\n")))
    return Batch((*mails, trace + mails[original]), {len(mails): original})


# --- the pipeline and its verdict ---------------------------------------------------------------

STORED = frozenset({"created", "added", "filtered", "looping"})
# Reasons that mean an exception maild did not foresee was caught by its last safety net: the
# message was kept, but it found a bug.
SAFETY_NET = ("parser error:", "internal error:", "the parser hung or crashed")


def fuzz_config(data: Path) -> Config:
    """A config as a help desk has one: an agent whose mail is trusted when authenticated, a
    team, an admin, and outgoing mail written to a folder."""
    return parse_config(
        {
            "support": {"address": SUPPORT, "name": "Fuzz Support", "language": "zh"},
            "store": {"path": str(data)},
            "intake": {"mode": "lmtp", "listen": "127.0.0.1:2525"},
            "smtp": {"transport": "folder", "folder": str(data / "outgoing")},
            "teams": {"support": {"address": "team@maild.test"}},
            "agents": {"li": {"address": AGENT, "team": "support"}},
            "security": {"authserv_id": AUTHSERV},
            "admin": {"address": "admin@maild.test"},
        }
    )


def take_in(data: Path, mails: Sequence[bytes]) -> list[Outcome]:
    """The real pipeline into a fresh store in `data`: parse in-process, ingest, commit."""
    config = fuzz_config(data)
    parser = ParserPool(config.limits, workers=0)
    with Store.open(data) as store:
        return ingest_batch(
            store,
            [(raw, f"fuzz:{i}") for i, raw in enumerate(mails)],
            parser=parser,
            config=config,
            now=NOW,
        )


def problems(data: Path, batch: Batch, outcomes: Sequence[Outcome]) -> list[str]:
    """What is wrong with the outcomes of a batch, read back from the store reopened."""
    if len(outcomes) != len(batch.mails):
        return [f"{len(batch.mails)} mails but {len(outcomes)} outcomes"]
    found: list[str] = []
    with Store.open(data) as store:
        for i, (raw, outcome) in enumerate(zip(batch.mails, outcomes, strict=True)):
            found += [f"mail {i} ({outcome.result}): {p}" for p in _problems(store, raw, outcome)]
        for copy, original in batch.redelivered.items():
            if outcomes[original].result in STORED and outcomes[copy].result != "duplicate":
                found.append(
                    f"mail {copy} is mail {original} again but became "
                    f"{outcomes[copy].result}, not a duplicate"
                )
    return found


def _problems(store: Store, raw: bytes, outcome: Outcome) -> list[str]:
    """Whether the store agrees with what one message is said to have become."""
    if outcome.result in STORED:
        return _stored_problems(store, raw, outcome)
    if outcome.result == "duplicate":
        mid = outcome.message_id or ""
        if not store.has_message(mid):
            return [f"a duplicate of {mid!r}, which is not stored"]
        if store.fingerprint_of_message(mid) not in (None, content_fingerprint(raw)):
            return [f"different mail under {mid!r} dropped as a duplicate"]
        return []
    if outcome.result == "quarantined":
        return _quarantine_problems(store, raw, outcome)
    return [f"unknown outcome {outcome.result!r}"]


def _stored_problems(store: Store, raw: bytes, outcome: Outcome) -> list[str]:
    mid = outcome.message_id or ""
    if not store.has_message(mid):
        return [f"message {mid!r} is not in the store"]
    if store.fingerprint_of_message(mid) != content_fingerprint(raw):
        return [f"the store holds other mail under {mid!r}"]
    if store.ticket_of_message(mid) != outcome.ticket:
        return [f"stored on ticket {store.ticket_of_message(mid)}, said {outcome.ticket}"]
    if outcome.ticket is not None and store.ticket(outcome.ticket) is None:
        return [f"ticket {outcome.ticket} does not exist"]
    return []


def _quarantine_problems(store: Store, raw: bytes, outcome: Outcome) -> list[str]:
    if not outcome.reason:
        return ["quarantined without a reason"]
    if outcome.reason.startswith(SAFETY_NET):
        return [f"an unforeseen exception, caught by the safety net: {outcome.reason}"]
    kept = [r for r in store.quarantined() if r["raw"] and store.read_file(r["raw"]) == raw]
    if not any(r["reason"] for r in kept):
        return ["no quarantine record with a reason holds this mail"]
    return []


def verdict(batch: Batch) -> tuple[list[Outcome], list[str]]:
    """Take a batch in through a throwaway store; its outcomes and what is wrong with them.

    Exceptions are not caught: a raise from ingest_batch is the worst finding of all.
    """
    with tempfile.TemporaryDirectory(prefix="maild-fuzz-") as tmp:
        data = Path(tmp) / "data"
        outcomes = take_in(data, batch.mails)
        return outcomes, problems(data, batch, outcomes)


def describe(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Outcomes as plain data, for failure messages and the bench's report."""
    return [{"result": o.result, "ticket": o.ticket, "reason": o.reason[:300]} for o in outcomes]
