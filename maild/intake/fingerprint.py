"""What makes two deliveries of one mail the same mail, as a hash of its bytes.

A Message-ID is an identifier, not a proof: two customers behind one web form can send two
different mails under one id. Only a redelivery (IMAP again, an MTA retrying, a crash replay)
is a duplicate, and a redelivery differs only in its trace headers and line endings.
"""

from __future__ import annotations

import hashlib
import re

# What makes two deliveries the same mail; trace headers (Received, Delivered-To, Return-Path,
# X-Original-To …) differ between deliveries of one mail and are left out.
_SAME_MAIL_HEADERS = frozenset([b"from", b"to", b"cc", b"subject", b"date"])
_FIELD_NAME = re.compile(rb"[!-9;-~]+:")


def content_fingerprint(raw: bytes) -> str:
    """sha256 of what makes two deliveries one mail: From, To, Cc, Subject, Date and the body.

    Worked out on the bytes (no parse), with line endings made alike: an IMAP server and an MTA
    may hand over the same mail with LF or CRLF. As in parsers, the header block ends at the
    blank line or at the first line that is neither a field nor a continuation.
    """
    text = raw.replace(b"\r\n", b"\n")
    fields: list[list[bytes]] = []
    kept: list[bytes] | None = None  # the field being read, if it is one that counts
    start = 0
    while start < len(text):
        end = text.find(b"\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if line[:1] in (b" ", b"\t"):
            if kept is not None:
                kept.append(line)
        elif _FIELD_NAME.match(line):
            kept = [line] if line.partition(b":")[0].lower() in _SAME_MAIL_HEADERS else None
            if kept is not None:
                fields.append(kept)
        else:
            if not line:  # the blank line: the body follows it
                start = end + 1
            break
        start = end + 1
    digest = hashlib.sha256()
    for field in sorted(_field_value(parts) for parts in fields):
        digest.update(field + b"\n")
    digest.update(b"\n" + text[start:])
    return digest.hexdigest()


def _field_value(lines: list[bytes]) -> bytes:
    """One header field unfolded, its name in lower case and its runs of whitespace single."""
    name, _, value = b" ".join(lines).partition(b":")
    return name.lower() + b":" + b" ".join(value.split())
