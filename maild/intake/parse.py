"""Raw mail bytes to a ParsedMessage: mail-parser for the MIME tree, maild's own decoding on top.

mail-parser garbles raw 8-bit headers and mislabelled Chinese parts (see LIBRARY-NOTES), so
headers are decoded from their raw bytes and text parts re-decoded from the part bytes, with the
charset rules of `maild.intake.charsets`.
"""

from __future__ import annotations

import email
import hashlib
import logging
import mimetypes
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses

import mailparser
from inscriptis import get_text
from mailparser.exceptions import MailParserRecursionError

from maild.intake.charsets import (
    decode_bytes,
    decode_encoded_words,
    decode_header_bytes,
)

# mail-parser logs a warning for every oddity in ordinary mail; maild keeps its own notes.
logging.getLogger("mailparser").setLevel(logging.ERROR)

# Deeper MIME trees than this are hostile (real forwards nest a few dozen levels at most);
# mail-parser itself only fails near the interpreter's recursion limit.
MAX_MIME_DEPTH = 64
MAX_FILENAME_CHARS = 200
# A Message-ID longer than this is junk rather than an identifier worth threading on.
MAX_MESSAGE_ID_CHARS = 500

_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BRACKETED_ID = re.compile(r"<([!-;=?-~]+)>")
_BARE_ID = re.compile(r"[!-;=?-~]+@[!-;=?-~]+")
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
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
    # Every Authentication-Results value in wire order (topmost first): agent mail is trusted
    # only on the receiving server's own, which is on top (RFC 8601).
    authentication_results: tuple[str, ...] = ()


class ParseError(Exception):
    """The message cannot become a ParsedMessage; str(e) is the reason for the quarantine log."""


@dataclass
class _Body:
    """Body parts collected while walking the MIME tree."""

    plain: list[str]
    html: list[str]
    attachments: list[Attachment]


def parse_message(raw: bytes, *, max_bytes: int) -> ParsedMessage:
    """Parse raw mail bytes; raise ParseError when they cannot become a message (quarantine)."""
    if len(raw) > max_bytes:
        raise ParseError(f"message is {len(raw)} bytes, over the limit of {max_bytes}")
    parsed = _run_parser(raw)
    message = parsed.message
    if message is None or len(message) == 0:
        raise ParseError("no headers / not an email message")
    notes: list[str] = []
    raw_headers = _raw_headers(message)
    headers = _decoded_headers(raw_headers, notes)
    message_id, synthetic = _message_id(raw_headers, raw, notes)
    from_addr, from_name = _sender(raw_headers)
    body = _read_body(message, notes)
    return ParsedMessage(
        message_id=message_id,
        synthetic_id=synthetic,
        subject=headers.get("subject", ""),
        from_addr=from_addr,
        from_name=from_name,
        to=_address_list(parsed.to),
        cc=_address_list(parsed.cc),
        reply_to=_address_list(parsed.reply_to),
        date=_date(parsed, headers, notes),
        in_reply_to=_ids(raw_headers, "in-reply-to"),
        references=_ids(raw_headers, "references"),
        text=_text(body),
        html="\n".join(body.html),
        attachments=tuple(body.attachments),
        content_type=message.get_content_type(),
        headers=headers,
        authentication_results=tuple(raw_headers.get("authentication-results", ())),
        notes=tuple(notes),
    )


def _run_parser(raw: bytes) -> mailparser.MailParser:
    """Run mail-parser, turning every failure into a ParseError with a readable reason."""
    try:
        return mailparser.parse_from_bytes(raw)
    except MailParserRecursionError as error:
        raise ParseError(f"MIME structure nested too deeply: {error}") from error
    except Exception as error:
        raise ParseError(f"mail-parser failed: {type(error).__name__}: {error}") from error


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


def _date(
    parsed: mailparser.MailParser, headers: Mapping[str, str], notes: list[str]
) -> datetime | None:
    """The Date header in UTC (mail-parser's strict RFC 5322 reading); None when unusable."""
    date = parsed.date
    if date is None:
        if headers.get("date"):
            notes.append(f"date: unparseable {headers['date']!r}, ignored")
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date.astimezone(UTC)


# --- body ------------------------------------------------------------------------------------


def _read_body(message: Message, notes: list[str]) -> _Body:
    """Sort the MIME leaves into plain text, HTML and attachments, decoding text parts."""
    body = _Body(plain=[], html=[], attachments=[])
    for number, part in enumerate(_leaves(message, notes), start=1):
        content_type = part.get_content_type()
        filename = _filename(part, notes)
        is_text = content_type in ("text/plain", "text/html")
        if is_text and filename is None and part.get_content_disposition() != "attachment":
            target = body.html if content_type == "text/html" else body.plain
            target.append(_part_text(part, number, notes))
        else:
            body.attachments.append(
                _attachment(part, content_type, filename, len(body.attachments) + 1, notes)
            )
    return body


def _leaves(root: Message, notes: list[str]) -> Iterator[Message]:
    """Leaf parts in order; message/* parts whole; parts lost to a missing boundary recovered.

    Iterative with an explicit depth limit (attached messages included, as they are serialised
    recursively later), so a hostile tree is a ParseError, not a crash.
    """
    stack: list[tuple[Message, int, bool]] = [(root, 0, False)]
    while stack:
        part, depth, enclosed = stack.pop()
        if depth > MAX_MIME_DEPTH:
            raise ParseError(f"MIME structure nested deeper than {MAX_MIME_DEPTH} levels")
        is_message = part.get_content_maintype() == "message"
        if part.is_multipart():
            inner = enclosed or is_message
            stack.extend((child, depth + 1, inner) for child in reversed(part.get_payload()))
        if enclosed:
            continue
        if is_message or not part.is_multipart():
            yield _recovered_part(part, notes)
            continue
        lost = _lost_first_part(part.preamble)
        if lost is not None:
            notes.append("missing MIME start boundary: first part recovered from the preamble")
            yield lost


def _recovered_part(part: Message, notes: list[str]) -> Message:
    """A leaf as is, unless it is a multipart whose start boundary never appears."""
    if part.get_content_maintype() != "multipart":
        return part
    notes.append("missing MIME start boundary: text recovered from the body")
    data = (part.get_payload(decode=True) or b"").lstrip(b"\r\n")
    if _HEADER_LINE.match(data):
        return email.message_from_bytes(data)
    return email.message_from_bytes(b"\n" + data)


def _lost_first_part(preamble: str | None) -> Message | None:
    """A preamble that starts with part headers is a first part whose boundary line was lost."""
    if not preamble:
        return None
    data = preamble.encode("utf-8", "surrogateescape").lstrip(b"\r\n")
    if not _HEADER_LINE.match(data):
        return None
    return email.message_from_bytes(data)


def _part_text(part: Message, number: int, notes: list[str]) -> str:
    """Decode a text part from its bytes by the charset rules; notes say what was recovered."""
    data = part.get_payload(decode=True) or b""
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


def _attachment(
    part: Message, content_type: str, filename: str | None, number: int, notes: list[str]
) -> Attachment:
    """An Attachment with a display-safe filename (generated when missing or unusable)."""
    safe = _safe_filename(filename or "")
    if not safe:
        safe = f"attachment-{number}{_extension(content_type)}"
    if filename is not None and safe != filename:
        notes.append(f"attachment {number}: filename {filename!r} shown as {safe!r}")
    inline = part.get_content_disposition() == "inline" or part.get("content-id") is not None
    return Attachment(
        filename=safe, content_type=content_type, payload=_payload(part), inline=inline
    )


def _filename(part: Message, notes: list[str]) -> str | None:
    """The decoded filename (RFC 2231 or RFC 2047, or raw 8-bit), or None when there is none."""
    value = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if not value:
        return None
    if isinstance(value, tuple):
        charset, _, encoded = value
        text, note = decode_bytes(encoded.encode("latin-1", "surrogateescape"), charset)
    else:
        text, header_notes = _decode_header(value)
        note = header_notes[0] if header_notes else None
    if note:
        notes.append(f"attachment filename {text!r}: {note}")
    return text


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


def _payload(part: Message) -> bytes:
    """The decoded bytes of a part; an attached message (message/*) as its own raw text."""
    if part.is_multipart():
        return b"".join(child.as_bytes() for child in part.get_payload())
    return part.get_payload(decode=True) or b""
