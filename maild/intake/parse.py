"""Raw mail bytes to a ParsedMessage: mail-parser for the MIME tree, maild's own decoding on top.

mail-parser garbles raw 8-bit headers and mislabelled Chinese parts (see LIBRARY-NOTES), so
headers are decoded from their raw bytes and text parts re-decoded from the part bytes, with the
charset rules of `maild.intake.charsets`.

Parsing never raises anything but ParseError, whatever the bytes, and stays within the [limits]
budgets while it runs: the MIME tree is built by the email package under a part factory that
counts parts and depth as they are created, so a hostile structure stops before anything deep
or expensive (mail-parser included) runs on it.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import re
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.feedparser import BytesFeedParser
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from types import FrameType
from typing import Any

import mailparser
from inscriptis import get_text

from maild.config import LimitsConfig
from maild.intake.charsets import (
    decode_bytes,
    decode_encoded_words,
    decode_header_bytes,
)
from maild.intake.fingerprint import content_fingerprint

# mail-parser logs a warning for every oddity in ordinary mail, and an error for every broken
# encoded word it survives; maild keeps its own notes.
logging.getLogger("mailparser").setLevel(logging.CRITICAL)

MAX_FILENAME_CHARS = 200
# A Message-ID longer than this is junk rather than an identifier worth threading on.
MAX_MESSAGE_ID_CHARS = 500

_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BRACKETED_ID = re.compile(r"<([!-;=?-~]+)>")
# No "@" on either side (RFC 5322 id-left and id-right): with it, a full match of a long run
# of "@" followed by anything else backtracks quadratically (60,000 "@" took 7 s).
_BARE_ID = re.compile(r"[!-;=?A-~]+@[!-;=?A-~]+")
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
# What the email package takes for a header line (a name, possibly empty, and a colon).
_FIELD_START = re.compile(rb"[!-9;-~]*:|From ")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_PATH_SEPARATORS = re.compile(r"[/\\]")
_SENDER_HEADERS = ("from", "sender", "reply-to", "return-path")


@dataclass(frozen=True)
class Attachment:
    """One attached file; `filename` is safe to show, never a path."""

    filename: str
    content_type: str
    payload: bytes
    # Shown in the body rather than attached (a Content-ID, or disposition inline): a logo in a
    # signature, a pasted screenshot. Relaying an agent's reply leaves these out.
    inline: bool = False


@dataclass(frozen=True)
class ParsedMessage:
    """Everything intake, threading, filters and classification read from one message."""

    message_id: str
    synthetic_id: bool
    subject: str
    from_addr: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    html: str
    attachments: tuple[Attachment, ...]
    content_type: str
    headers: Mapping[str, str]
    notes: tuple[str, ...]
    # content_fingerprint of the raw bytes: a redelivery has the same, a reused id does not.
    # Worked out here, in the parser workers, off the daemon's thread.
    fingerprint: str
    # Every Authentication-Results value in wire order (topmost first): agent mail is trusted
    # only on the receiving server's own, which is on top (RFC 8601).
    authentication_results: tuple[str, ...] = ()


class ParseError(Exception):
    """The message cannot become a ParsedMessage; str(e) is the reason for the quarantine log."""


class _OverTime(BaseException):
    """Raised by the parse-time alarm: a BaseException, so that no `except Exception` in a
    library swallows it and lets parsing run on past its budget."""


@dataclass
class _Body:
    """Body parts collected while walking the MIME tree."""

    plain: list[str]
    html: list[str]
    attachments: list[Attachment]


def parse_message(raw: bytes, *, limits: LimitsConfig) -> ParsedMessage:
    """Parse raw mail bytes within the [limits] budgets; raise ParseError and nothing else.

    Any other exception (a library bug, RecursionError, MemoryError, ...) becomes a ParseError
    naming it and where it was raised: one message can only ever cost itself (quarantine).
    """
    try:
        with _time_budget(limits.parse_seconds):
            return _parse(raw, limits)
    except ParseError:
        raise
    except _OverTime:
        raise ParseError(_over("parse_seconds", f"{limits.parse_seconds:g} s")) from None
    except Exception as error:
        raise ParseError(describe_failure(error)) from error


def describe_failure(error: BaseException) -> str:
    """'parser error: Type in module:function:line: text', the innermost frame being the culprit."""
    frames = list(traceback.walk_tb(error.__traceback__))
    where = "an unknown place"
    if frames:
        frame, line = frames[-1]
        where = f"{frame.f_globals.get('__name__', '?')}:{frame.f_code.co_name}:{line}"
    text = _one_line(str(error))[:200]
    return f"parser error: {type(error).__name__} in {where}" + (f": {text}" if text else "")


def _parse(raw: bytes, limits: LimitsConfig) -> ParsedMessage:
    """parse_message without the safety net: the budgets first, then mail-parser, then ours."""
    if len(raw) > limits.message_bytes:
        raise ParseError(
            f"message is {len(raw)} bytes, over the limit of {limits.message_bytes} bytes"
            " ([limits] message_size)"
        )
    _check_top_header_block(raw, limits)
    budget = _Budget(limits)
    message = budget.tree(raw, depth=0)
    if len(message) == 0:
        raise ParseError("no headers / not an email message")
    notes: list[str] = []
    raw_headers = _raw_headers(message)
    headers = _decoded_headers(raw_headers, notes)
    to, cc, reply_to, date = _recipients_and_date(message, raw_headers, headers, notes)
    message_id, synthetic = _message_id(raw_headers, raw, notes)
    from_addr, from_name = _sender(raw_headers)
    body = _read_body(message, budget, notes)
    return ParsedMessage(
        message_id=message_id,
        synthetic_id=synthetic,
        subject=headers.get("subject", ""),
        from_addr=from_addr,
        from_name=from_name,
        to=to,
        cc=cc,
        reply_to=reply_to,
        date=date,
        in_reply_to=_ids(raw_headers, "in-reply-to"),
        references=_ids(raw_headers, "references"),
        text=_text(body),
        html="\n".join(body.html),
        attachments=tuple(body.attachments),
        content_type=message.get_content_type(),
        headers=headers,
        authentication_results=tuple(raw_headers.get("authentication-results", ())),
        fingerprint=content_fingerprint(raw),
        notes=tuple(notes),
    )


# --- budgets ---------------------------------------------------------------------------------


def _over(key: str, limit: str) -> str:
    """The reason a budget gives, naming the config key an operator would raise."""
    return f"over [limits] {key}: {limit}"


@contextmanager
def _time_budget(seconds: float) -> Iterator[None]:
    """Interrupt the block with _OverTime after `seconds` of wall time.

    Only the main thread receives signals, so elsewhere nothing is armed (the pool's per-chunk
    timeout still fences workers). A timer someone else had armed is put back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        if outer_delay:
            left = max(outer_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def _alarm(signum: int, frame: FrameType | None) -> None:
    """SIGALRM while a parse is timed: it ran out of time, wherever it is."""
    raise _OverTime


def _check_top_header_block(raw: bytes, limits: LimitsConfig) -> None:
    """The message's own header block, on the raw bytes before any parser reads it.

    A header flood then costs a scan of at most `header_lines` lines, not a parse. The block
    ends where the email package ends it: at a blank line or a line that is not a header.
    """
    lines = 0
    field_bytes = 0
    start = 0
    while start < len(raw):
        end = raw.find(b"\n", start) + 1 or len(raw)
        line = raw[start:end].rstrip(b"\r\n")
        continuation = line[:1] in (b" ", b"\t")
        if not line or not (continuation or _FIELD_START.match(line)):
            return
        lines += 1
        field_bytes = field_bytes + len(line) if continuation else len(line)
        _check_header_size(lines, field_bytes, line.split(b":", 1)[0], limits)
        start = end


def _check_header_size(lines: int, field_bytes: int, name: bytes, limits: LimitsConfig) -> None:
    """Raise when a header block has too many lines or one field is too long."""
    if lines > limits.header_lines:
        raise ParseError(_over("header_lines", f"{limits.header_lines} lines in one header block"))
    if field_bytes > limits.header_line_bytes:
        shown = _one_line(name[:40].decode("ascii", "replace"))
        raise ParseError(
            _over("header_line_size", f"{limits.header_line_bytes} bytes")
            + f" (a header field of {field_bytes}+ bytes, starting {shown!r})"
        )


class _Budget:
    """What one message has cost so far: parts created and bytes decoded, checked as they grow."""

    def __init__(self, limits: LimitsConfig) -> None:
        self.limits = limits
        self.parts = 0
        self.decoded = 0

    def tree(self, data: bytes, *, depth: int) -> Message:
        """The email package's MIME tree of `data`, as a part nested `depth` levels deep.

        Parts are counted and their depth checked as the parser creates them, before it
        descends into them: its recursion never goes deeper than `mime_depth`.
        """
        parser: BytesFeedParser

        def new_part() -> Message:  # no `policy` parameter: the parser then calls it bare
            self._count_part(depth + len(parser._msgstack))
            return _Part()

        parser = BytesFeedParser(new_part)
        parser.feed(data)
        root = parser.close()
        for part in _all_parts(root):
            _check_header_block(part, self.limits)
        return root

    def spend(self, size: int) -> None:
        """Count decoded bytes against `decoded_bytes`."""
        self.decoded += size
        if self.decoded > self.limits.decoded_bytes:
            raise ParseError(
                _over("decoded_size", f"{self.limits.decoded_bytes} bytes")
                + " (all parts decoded, attached messages included)"
            )

    def _count_part(self, depth: int) -> None:
        self.parts += 1
        if self.parts > self.limits.mime_parts:
            raise ParseError(_over("mime_parts", f"{self.limits.mime_parts} parts"))
        if depth > self.limits.mime_depth:
            raise ParseError(
                _over("mime_depth", f"{self.limits.mime_depth} levels")
                + " (MIME and attached messages nested deeper)"
            )


class _Part(Message):
    """The email package's (compat32) Message, safe with any charset parameter.

    Its get_payload() decodes raw 8-bit text by the part's charset parameter and survives only
    an unknown name (LookupError): "idna", "undefined", a NUL in the name or an RFC 2231
    charset*= parameter (a tuple) raise instead, in mail-parser and maild alike. Those get the
    fallback it uses for an unknown name.
    """

    def get_content_charset(self, failobj: Any = None) -> Any:
        try:
            return super().get_content_charset(failobj)
        except ValueError:  # a NUL in the charset name: no charset anyone can use
            return failobj

    def get_payload(self, i: int | None = None, decode: bool = False) -> Any:
        try:
            return super().get_payload(i, decode)
        except (ValueError, TypeError):  # UnicodeError is a ValueError
            if decode or self.is_multipart():
                raise
            return self._payload.encode("ascii", "surrogateescape").decode("ascii", "replace")


def _all_parts(root: Message) -> Iterator[Message]:
    """Every part of a tree, attached messages' parts included, without recursion."""
    stack = [root]
    while stack:
        part = stack.pop()
        yield part
        children = part.get_payload()
        if isinstance(children, list):
            stack.extend(reversed(children))


def _check_header_block(part: Message, limits: LimitsConfig) -> None:
    """Budgets of one parsed header block: physical lines (folds included), field length."""
    lines = 0
    for name, value in part.raw_items():
        folds = value.count("\n")
        lines += 1 + folds
        field_bytes = len(name) + 2 + len(value) - folds - value.count("\r")
        _check_header_size(lines, field_bytes, name.encode("ascii", "replace"), limits)


def _serialising_cost(message_part: Message) -> int:
    """Bytes the email generator copies to serialise an attached message (message/*).

    It flattens every part into a buffer of its own and copies that into its parent's, so a
    part's text is copied once per level above it: nested attachments cost depth × size.
    """
    cost = 0
    stack = [(child, 1) for child in message_part.get_payload()]
    while stack:
        part, level = stack.pop()
        payload = part.get_payload()
        own = sum(len(name) + len(value) + 4 for name, value in part.raw_items())
        if isinstance(payload, list):
            stack.extend((child, level + 1) for child in payload)
        elif isinstance(payload, str):
            own += len(payload)
        cost += own * level
    return cost


# --- headers ---------------------------------------------------------------------------------


def _raw_headers(message: Message) -> dict[str, list[str]]:
    """Lower-cased name -> raw values in wire order, unfolded (8-bit bytes kept as surrogates)."""
    index: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        index.setdefault(name.lower(), []).append(_UNFOLD.sub("", str(value)))
    return index


def _decoded_headers(raw_headers: dict[str, list[str]], notes: list[str]) -> dict[str, str]:
    """First occurrence of every header, decoded to one clean line."""
    decoded: dict[str, str] = {}
    for name, values in raw_headers.items():
        text, header_notes = _decode_header(values[0])
        decoded[name] = text
        notes.extend(f"{name}: {note}" for note in header_notes)
    return decoded


def _decode_header(value: str) -> tuple[str, list[str]]:
    """Raw 8-bit bytes first, then RFC 2047 words; control characters become single spaces."""
    text, note = _eight_bit(value)
    text, word_notes = decode_encoded_words(text)
    return _one_line(text), ([note] if note else []) + word_notes


def _eight_bit(value: str) -> tuple[str, str | None]:
    """Undo the parser's surrogate escapes: decode raw 8-bit header bytes as GBK/UTF-8/…."""
    if value.isascii():
        return value, None
    return decode_header_bytes(value.encode("utf-8", "surrogateescape"))


def _one_line(text: str) -> str:
    """Collapse CR, LF, TAB and other control characters to single spaces, and strip."""
    return _CONTROLS.sub(" ", text).strip()


def _addresses(value: str) -> list[tuple[str, str]]:
    """(decoded display name, lower-cased address) pairs from a raw address header.

    Addresses are split before the display names are decoded, so an encoded word that decodes
    to "<admin@example.com>" or a comma cannot inject an address.
    """
    text, _ = _eight_bit(value)
    pairs = []
    for name, address in getaddresses([text]):
        address = address.strip().lower()
        if _ADDRESS.fullmatch(address):
            pairs.append((_one_line(decode_encoded_words(name)[0]), address))
    return pairs


Recipients = tuple[str, ...]


def _recipients_and_date(
    message: Message, raw_headers: dict[str, list[str]], headers: Mapping[str, str],
    notes: list[str],
) -> tuple[Recipients, Recipients, Recipients, datetime | None]:  # fmt: skip
    """To, Cc, Reply-To and Date as mail-parser reads them.

    mail-parser fails outright on some broken mail it could have read around (a cut-off encoded
    display name, a NUL in a charset name, a multipart without delimiters): no reason to
    quarantine a customer's mail. maild then reads these headers itself and notes why.
    """
    try:
        parsed = mailparser.MailParser(message)
        return (
            _address_list(parsed.to),
            _address_list(parsed.cc),
            _address_list(parsed.reply_to),
            _date(parsed.date, headers, notes),
        )
    except Exception as error:
        notes.append(f"mail-parser could not read this mail ({describe_failure(error)}):"
                     " To, Cc, Reply-To and Date read by maild")  # fmt: skip
    own = {
        name: tuple(dict.fromkeys(a for v in raw_headers.get(name, ()) for _, a in _addresses(v)))
        for name in ("to", "cc", "reply-to")
    }
    return own["to"], own["cc"], own["reply-to"], _date(_own_date(headers), headers, notes)


def _own_date(headers: Mapping[str, str]) -> datetime | None:
    """The Date header read by the email package, as mail-parser would; None when unusable."""
    try:
        return parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError):
        return None


def _address_list(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    """Unique lower-cased addresses from mail-parser's reading of an address header.

    Display names are not needed here, so mail-parser's (already computed) pairs are enough.
    """
    found = (address.strip().lower() for _, address in pairs)
    return tuple(dict.fromkeys(address for address in found if _ADDRESS.fullmatch(address)))


def _sender(raw_headers: dict[str, list[str]]) -> tuple[str, str]:
    """(address, display name) from From, else Sender, Reply-To, Return-Path; ("", "") if none."""
    for name in _SENDER_HEADERS:
        values = raw_headers.get(name)
        pairs = _addresses(values[0]) if values else []
        if pairs:
            return pairs[0][1], pairs[0][0]
    return "", ""


def _message_ids(value: str) -> list[str]:
    """Message-ids in "<...>" form; a lone bare "id@host" is accepted and bracketed."""
    found = [f"<{match}>" for match in _BRACKETED_ID.findall(value)]
    if not found and _BARE_ID.fullmatch(value.strip()):
        found = [f"<{value.strip()}>"]
    return [mid for mid in found if len(mid) <= MAX_MESSAGE_ID_CHARS]


def _ids(raw_headers: dict[str, list[str]], name: str) -> tuple[str, ...]:
    """Unique message-ids of the first occurrence of a threading header, in order."""
    values = raw_headers.get(name, [])
    return tuple(dict.fromkeys(_message_ids(values[0]))) if values else ()


def _message_id(
    raw_headers: dict[str, list[str]], raw: bytes, notes: list[str]
) -> tuple[str, bool]:
    """The message's own id, or a stable synthetic one derived from the raw bytes."""
    found = _ids(raw_headers, "message-id")
    if found:
        return found[0], False
    notes.append("no usable Message-ID: synthetic id from the message hash")
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@maild.invalid>", True


def _date(date: datetime | None, headers: Mapping[str, str], notes: list[str]) -> datetime | None:
    """The Date header read (strictly, RFC 5322) in UTC; None, with a note, when unusable."""
    if date is None:
        if headers.get("date"):
            notes.append(f"date: unparseable {headers['date']!r}, ignored")
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date.astimezone(UTC)


# --- body ------------------------------------------------------------------------------------


def _read_body(message: Message, budget: _Budget, notes: list[str]) -> _Body:
    """Sort the MIME leaves into plain text, HTML and attachments, decoding text parts."""
    body = _Body(plain=[], html=[], attachments=[])
    for number, part in enumerate(_leaves(message, budget, notes), start=1):
        content_type = part.get_content_type()
        filename = _filename(part, notes)
        is_text = content_type in ("text/plain", "text/html")
        if is_text and filename is None and part.get_content_disposition() != "attachment":
            target = body.html if content_type == "text/html" else body.plain
            target.append(_part_text(part, number, budget, notes))
        else:
            name = _attachment_name(filename, content_type, len(body.attachments) + 1, notes)
            payload = _payload(part, budget)
            body.attachments.append(Attachment(name, content_type, payload, _is_inline(part)))
    return body


def _leaves(root: Message, budget: _Budget, notes: list[str]) -> Iterator[Message]:
    """Leaf parts in order; message/* parts whole; parts lost to a missing boundary recovered.

    Iterative; the depth is kept only to place recovered parts, as the budget bounded it.
    """
    stack: list[tuple[Message, int, bool]] = [(root, 0, False)]
    while stack:
        part, depth, enclosed = stack.pop()
        is_message = part.get_content_maintype() == "message"
        if part.is_multipart():
            inner = enclosed or is_message
            stack.extend((child, depth + 1, inner) for child in reversed(part.get_payload()))
        if enclosed:
            continue
        if is_message or not part.is_multipart():
            yield _recovered_part(part, depth, budget, notes)
            continue
        lost = _lost_first_part(part.preamble, depth + 1, budget)
        if lost is not None:
            notes.append("missing MIME start boundary: first part recovered from the preamble")
            yield lost


def _recovered_part(part: Message, depth: int, budget: _Budget, notes: list[str]) -> Message:
    """A leaf as is, unless it is a multipart whose start boundary never appears."""
    if part.get_content_maintype() != "multipart":
        return part
    notes.append("missing MIME start boundary: text recovered from the body")
    data = (part.get_payload(decode=True) or b"").lstrip(b"\r\n")
    if _HEADER_LINE.match(data):
        return budget.tree(data, depth=depth)
    return budget.tree(b"\n" + data, depth=depth)


def _lost_first_part(preamble: str | None, depth: int, budget: _Budget) -> Message | None:
    """A preamble that starts with part headers is a first part whose boundary line was lost."""
    if not preamble:
        return None
    data = preamble.encode("utf-8", "surrogateescape").lstrip(b"\r\n")
    if not _HEADER_LINE.match(data):
        return None
    return budget.tree(data, depth=depth)


def _part_text(part: Message, number: int, budget: _Budget, notes: list[str]) -> str:
    """Decode a text part from its bytes by the charset rules; notes say what was recovered."""
    data = part.get_payload(decode=True) or b""
    budget.spend(len(data))
    label = part.get_content_charset()
    if label is None and part.get_content_subtype() == "html":
        label = _meta_charset(data)
    text, note = decode_bytes(data, label)
    if note:
        notes.append(f"body part {number}: {note}")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _meta_charset(html: bytes) -> str | None:
    """The <meta charset> of an HTML part sent without a MIME charset label."""
    match = _META_CHARSET.search(html, 0, 2048)
    return match[1].decode("ascii") if match else None


def _text(body: _Body) -> str:
    """The inline plain text, or the HTML rendered as text when there is no plain text."""
    plain = "\n".join(body.plain)
    if plain.strip() or not body.html:
        return plain
    return get_text("\n".join(body.html)).replace("\r\n", "\n").replace("\r", "\n")


# --- attachments -----------------------------------------------------------------------------


def _attachment_name(filename: str | None, content_type: str, number: int, notes: list[str]) -> str:
    """A display-safe filename for attachment `number` (generated when missing or unusable)."""
    safe = _safe_filename(filename or "")
    if not safe:
        safe = f"attachment-{number}{_extension(content_type)}"
    if filename is not None and safe != filename:
        notes.append(f"attachment {number}: filename {filename!r} shown as {safe!r}")
    return safe


def _is_inline(part: Message) -> bool:
    """Shown in the body rather than attached: disposition inline, or a Content-ID."""
    return part.get_content_disposition() == "inline" or part.get("content-id") is not None


def _filename(part: Message, notes: list[str]) -> str | None:
    """The decoded filename (RFC 2231 or RFC 2047, or raw 8-bit), or None when there is none."""
    value = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if not value:
        return None
    if isinstance(value, tuple):
        charset, _, encoded = value
        text, note = decode_bytes(_rfc2231_bytes(encoded), charset)
    else:
        text, header_notes = _decode_header(value)
        note = header_notes[0] if header_notes else None
    if note:
        notes.append(f"attachment filename {text!r}: {note}")
    return text


def _rfc2231_bytes(value: str) -> bytes:
    """The octets of an RFC 2231 value: the email package gives them as latin-1 characters and
    raw 8-bit bytes as surrogates, but continuations of broken ones can carry wider text."""
    try:
        return value.encode("latin-1", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


def _safe_filename(name: str) -> str:
    """The last path component, without control characters or leading dots, at most 200 chars."""
    base = _PATH_SEPARATORS.split(name)[-1]
    base = _one_line(base).lstrip(". ").rstrip()
    if len(base) <= MAX_FILENAME_CHARS:
        return base
    stem, extension = os.path.splitext(base)
    if len(extension) > 16:
        return base[:MAX_FILENAME_CHARS]
    return stem[: MAX_FILENAME_CHARS - len(extension)] + extension


def _extension(content_type: str) -> str:
    """A filename extension for a content type, ".bin" when nothing better is known."""
    return mimetypes.guess_extension(content_type, strict=False) or ".bin"


def _payload(part: Message, budget: _Budget) -> bytes:
    """The decoded bytes of a part; an attached message (message/*) as its own raw text.

    An attached message is counted at what serialising it copies, before it is serialised.
    """
    if part.is_multipart():
        budget.spend(_serialising_cost(part))
        return b"".join(_serialised(child) for child in part.get_payload())
    data = part.get_payload(decode=True) or b""
    budget.spend(len(data))
    return data


def _serialised(message: Message) -> bytes:
    """A message as bytes. A broken one whose text the email package had to decode with
    replacement characters cannot go back to bytes its way (it writes text as ASCII), so it is
    written as text and encoded as UTF-8 (raw bytes kept as they were)."""
    try:
        return message.as_bytes()
    except UnicodeEncodeError:
        return message.as_string().encode("utf-8", "surrogateescape")
