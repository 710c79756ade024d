"""Turning mail bytes into text when the charset label is wrong, missing or unknown.

Chinese mail is often mislabelled (gb2312 carrying GBK-only characters, iso-8859-1 carrying GBK,
no label at all) and charset-normalizer alone guesses Korean or Big5 for short GBK text, so a
small GB/Big5 discriminator runs before it. Text that decodes cleanly by its label never reaches
the guessing stage: that keeps the common case fast.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import re
from collections.abc import Callable

from charset_normalizer import from_bytes

# Labels that mean "some GB encoding": gb18030 is a superset of all of them.
_GB_LABELS = frozenset(
    {"gb2312", "gbk", "gb231280", "xgbk", "cp936", "ms936", "windows936", "gb18030", "euccn"}
    | {"xeuccn", "csgb2312", "chinese"}
)
# Labels that mean "some Big5": big5hkscs covers the Hong Kong additions, cp950 Microsoft's.
_BIG5_LABELS = frozenset({"big5", "xbig5", "big5hkscs", "cp950", "csbig5", "xxbig5", "ms950"})
# Codecs that accept any byte sequence, so a strict decode proves nothing about the label.
_PERMISSIVE_PREFIXES = ("iso8859", "cp125", "koi8", "mac-")
# The codecs maild substitutes for a family of labels (notes say when the label alone failed).
_SUBSTITUTES = frozenset({"gb18030", "big5hkscs"})
# Without NUL bytes text cannot be UTF-16/32, yet charset-normalizer proposes them for short text.
_WIDE_CODECS = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]
# Non-ASCII share a CJK reading needs before it beats charset-normalizer.
_CJK_MIN_SHARE = 0.6
# Characters sampled when scoring a CJK reading: enough to decide, cheap on long bodies.
_CJK_SAMPLE = 400

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_NON_ALNUM = re.compile(r"[^a-z0-9]")


def clean_label(label: str | None) -> str | None:
    """Lower-case a charset label and drop quotes and RFC 2231 language tags; None if empty."""
    if not label:
        return None
    cleaned = label.strip().strip("\"'").split("*", 1)[0].strip().lower()
    return cleaned or None


@functools.lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec for a label (GB → gb18030, Big5 → big5hkscs, UTF-8 minus any BOM).

    None when Python does not know the label as a charset: besides unknown names, that is
    codecs which are not charsets at all ("base64", "rot13", "idna", "undefined"), which fail
    on ordinary bytes even with errors="replace".
    """
    if label is None:
        return None
    key = _NON_ALNUM.sub("", label)
    if key in _GB_LABELS:
        return "gb18030"
    if key in _BIG5_LABELS:
        return "big5hkscs"
    try:
        name = codecs.lookup(label).name
        b"\x80\xff".decode(name, "replace")
    except (LookupError, ValueError):  # ValueError: a NUL or a surrogate in the label
        return None
    return "utf-8-sig" if name == "utf-8" else name


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode data labelled with a charset; returns the text and a note when it was recovered.

    The note (e.g. "gb2312 label, decoded as gb18030") is None when the label was simply right.
    """
    label = clean_label(label)
    codec = codec_for(label)
    if data.isascii() and not _is_wide(codec):
        return data.decode("ascii"), None
    if codec is None:
        text, used = guess_decode(data)
        return text, f"{_describe(label)}, decoded as {used}"
    if _is_permissive(codec):
        return _decode_permissive(data, label, codec)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return _decode_after_failure(data, label, codec)
    if codec in _SUBSTITUTES and codec != label and _label_fails(data, label):
        return text, f"{label} label, decoded as {codec}"
    return text, None


def guess_decode(data: bytes, fallback: str = "utf-8") -> tuple[str, str]:
    """Decode unlabelled bytes: utf-8, then a GB/Big5 reading, then charset-normalizer.

    Returns the text and the codec used; the last resort is `fallback` with replacement chars.
    """
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    cjk = _cjk_decode(data)
    if cjk is not None:
        return cjk
    best = from_bytes(data, cp_exclusion=_WIDE_CODECS if b"\0" not in data else None).best()
    if best is not None:
        return str(best), best.encoding
    return data.decode(fallback, errors="replace"), f"{fallback} with replacement characters"


def decode_header_bytes(data: bytes) -> tuple[str, str | None]:
    """Decode raw 8-bit header bytes (no label exists for them); note when they were 8-bit."""
    if data.isascii():
        return data.decode("ascii"), None
    text, used = guess_decode(data)
    return text, f"raw 8-bit bytes, decoded as {used}"


def decode_encoded_words(text: str) -> tuple[str, list[str]]:
    """Decode RFC 2047 encoded words, joining adjacent words of one charset before decoding.

    Joining first matters: mailers split a multi-byte character across two encoded words.
    Whitespace between two encoded words is dropped, as RFC 2047 section 6.2 requires.
    """
    if "=?" not in text:
        return text, []
    out: list[str] = []
    notes: list[str] = []
    pending = bytearray()
    pending_label: str | None = None
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[position : match.start()]
        joins_previous = position > 0 and pending_label is not None and gap.strip() == ""
        label = clean_label(match[1])
        if not joins_previous or label != pending_label:
            _flush(pending, pending_label, out, notes)
            pending_label = None
            if not joins_previous:
                out.append(gap)
        pending += _word_bytes(match[2], match[3], label)
        pending_label = label
        position = match.end()
    _flush(pending, pending_label, out, notes)
    out.append(text[position:])
    return "".join(out), notes


def _flush(pending: bytearray, label: str | None, out: list[str], notes: list[str]) -> None:
    """Decode the run of encoded-word bytes collected so far and empty the buffer."""
    if not pending:
        return
    text, note = decode_bytes(bytes(pending), label)
    out.append(text)
    if note:
        notes.append(note)
    pending.clear()


def _word_bytes(encoding: str, payload: str, label: str | None) -> bytes:
    """The bytes carried by one encoded word (B: lenient base64, Q: quoted-printable, _ = space).

    Raw 8-bit text inside a word breaks RFC 2047 but happens ("=?utf-8?q?café?=", raw GBK
    after "=?gbk?b?"): it is the word's own text, so it goes back to bytes in the word's charset
    and is kept as is, never read as base64.
    """
    if not payload.isascii():
        raw = _eight_bit_word(payload, label)
        return raw if encoding in "bB" else binascii.a2b_qp(raw, header=True)
    raw = payload.encode("ascii")
    if encoding in "bB":
        try:
            return binascii.a2b_base64(raw + b"==")
        except binascii.Error:
            return raw
    return binascii.a2b_qp(raw, header=True)


def _eight_bit_word(payload: str, label: str | None) -> bytes:
    """8-bit text of an encoded word as bytes in the word's charset (raw bytes kept as they
    came, characters the charset lacks as "?"); UTF-8 for an unknown charset."""
    codec = codec_for(label)
    if codec in (None, "utf-8-sig"):
        codec = "utf-8"  # no byte order mark inside a word
    try:
        return payload.encode(codec, "surrogateescape")
    except UnicodeEncodeError:
        return payload.encode(codec, "replace")


def _decode_permissive(data: bytes, label: str, codec: str) -> tuple[str, str | None]:
    """Labels like iso-8859-1 accept any bytes: check for UTF-8 or Chinese before trusting them."""
    try:
        return data.decode("utf-8-sig"), f"{label} label, decoded as utf-8"
    except UnicodeDecodeError:
        pass
    cjk = _cjk_decode(data)
    if cjk is not None:
        return cjk[0], f"{label} label, decoded as {cjk[1]}"
    try:
        return data.decode(codec), None
    except UnicodeDecodeError:
        return _decode_after_failure(data, label, codec)


def _decode_after_failure(data: bytes, label: str, codec: str) -> tuple[str, str]:
    """The label's codec failed strictly: Big5 gets cp950, then everything gets the guessers."""
    if codec == "big5hkscs":
        try:
            return data.decode("cp950"), f"{label} label, decoded as cp950"
        except UnicodeDecodeError:
            pass
    text, used = guess_decode(data, fallback=codec)
    return text, f"{label} label did not fit, decoded as {used}"


def _cjk_decode(data: bytes) -> tuple[str, str] | None:
    """Read the bytes as GB or Big5, whichever yields mostly common characters; None if neither."""
    best: tuple[float, str, str] | None = None
    for codec, common_leads in (("gb18030", _gb2312_common), ("big5hkscs", _big5_common)):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        share = _common_share(text, codec, common_leads)
        if best is None or share > best[0]:
            best = (share, text, codec)
    if best is None or best[0] < _CJK_MIN_SHARE:
        return None
    return best[1], best[2]


def _common_share(text: str, codec: str, is_common: Callable[[int], bool]) -> float:
    """Share of the non-ASCII characters that are everyday characters in that codec's repertoire."""
    wide = [ch for ch in text if ord(ch) > 127][:_CJK_SAMPLE]
    if not wide:
        return 0.0
    plain_codec = "gb2312" if codec == "gb18030" else "big5"
    common = 0
    for ch in wide:
        try:
            encoded = ch.encode(plain_codec)
        except UnicodeEncodeError:
            continue
        common += is_common(encoded[0])
    return common / len(wide)


def _gb2312_common(lead: int) -> bool:
    """GB2312 punctuation/full-width rows and the two hanzi levels (rows 16-87)."""
    return 0xA1 <= lead <= 0xA3 or 0xB0 <= lead <= 0xF7


def _big5_common(lead: int) -> bool:
    """Big5 symbols and the frequently used hanzi (level 1, leads A4-C6)."""
    return 0xA1 <= lead <= 0xA3 or 0xA4 <= lead <= 0xC6


def _label_fails(data: bytes, label: str) -> bool:
    """Whether the label's own codec (if Python knows it) rejects the bytes."""
    try:
        data.decode(label)
    except (LookupError, ValueError):  # ValueError: undecodable bytes, or a NUL in the label
        return True
    return False


def _is_permissive(codec: str) -> bool:
    """Single-byte codecs that decode anything, so a success says nothing."""
    return codec.startswith(_PERMISSIVE_PREFIXES)


def _is_wide(codec: str | None) -> bool:
    """UTF-16/32 text can be pure ASCII bytes (NULs) and still need its codec."""
    return codec is not None and codec.startswith(("utf-16", "utf-32"))


def _describe(label: str | None) -> str:
    """Label wording for notes."""
    return f"unknown charset label {label!r}" if label else "no charset label"
