"""Logging for the daemon: one line per event, text for people or JSON for collectors.

Customer-controlled strings (subjects, addresses) reach log messages, so every line is kept to
one physical line, and the process's own secrets (IMAP/SMTP passwords) are masked before any
handler writes them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

LOG_FORMATS = ("text", "json")
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
MASK = "***"
MIN_SECRET_LENGTH = 4

# Third-party loggers kept quiet whatever --log-level says, as cli.main() always has.
_QUIET_LOGGERS = {
    "mailparser": logging.CRITICAL,  # an error line for every broken encoded word it survives
    "mail.log": logging.WARNING,  # aiosmtpd's per-command chatter
}

# Every attribute a bare LogRecord has, plus those formatters add: anything else came from
# `extra=` and belongs in the JSON object.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# Longest first, so a secret that contains another is masked whole. A tuple replaced under a
# lock: handlers on other threads read it without locking and never see it change mid-loop.
_secrets: tuple[str, ...] = ()
_secrets_lock = threading.Lock()

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators: anything a terminal, a
# log shipper or str.splitlines() might take as a line break or a cursor command.
_LINE_BREAKING = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_TEXT_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _LINE_BREAKING}
_TEXT_ESCAPES |= {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
# json.dumps(ensure_ascii=False) escapes only below U+0020; these it would write raw. They can
# only occur inside JSON strings, where \uXXXX is an equivalent spelling.
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in _LINE_BREAKING if c >= 0x7F}

# sd-daemon(3) priority prefixes, so journald records each line's level.
_PRIORITIES = (
    (logging.CRITICAL, "<2>"),
    (logging.ERROR, "<3>"),
    (logging.WARNING, "<4>"),
    (logging.INFO, "<6>"),
)


def register_secret(value: str) -> None:
    """Mask `value` wherever it appears in later log output. Short values are ignored: masking
    every "abc" in every message would hide more than it protects."""
    global _secrets
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def mask_secrets(text: str) -> str:
    """`text` with every registered secret replaced by ***."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _mask_value(value: Any) -> Any:
    """Mask secrets in strings, also inside lists and dicts; other values pass through (the JSON
    formatter masks them after turning them into strings)."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    if isinstance(value, dict):
        return {_mask_value(k): _mask_value(v) for k, v in value.items()}
    return value


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The attributes passed via `extra=`."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}


class SecretFilter(logging.Filter):
    """Rewrites each record with registered secrets masked in its message, extras, exception and
    stack. On the handler, not a logger, so records propagated from any logger pass through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # A bad %-format must not raise into the caller, nor leak its args.
            message = f"unformattable log message {record.msg!r} with arguments {record.args!r}"
        record.msg = mask_secrets(message)
        record.args = None
        for key, value in _extras(record).items():
            setattr(record, key, _mask_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with milliseconds: sortable, and the same in every deployment's zone."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _priority(levelno: int) -> str:
    for threshold, prefix in _PRIORITIES:
        if levelno >= threshold:
            return prefix
    return "<7>"


class TextFormatter(logging.Formatter):
    """`TIME LEVEL logger: message`, escaped to one line. Under journald the time gives way to a
    priority prefix: the journal stamps lines itself and would otherwise file everything as info."""

    def __init__(self, journald: bool = False) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        line = line.translate(_TEXT_ESCAPES)
        if self.journald:
            return _priority(record.levelno) + line
        return f"{_timestamp(record)} {line}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with `extra=` fields alongside, for log collectors to index."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _extras(record).items():
            entry[f"extra_{key}" if key in entry else key] = _jsonable(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False).translate(_JSON_ESCAPES)


def _jsonable(value: Any) -> Any:
    """`value` if json can write it, else its str(), masked since no filter has seen that str."""
    try:
        json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return mask_secrets(str(value))
    return value


def _under_journald(stream: TextIO) -> bool:
    """Whether `stream` is systemd's journal stream. JOURNAL_STREAM is inherited by children whose
    output goes elsewhere, so where the stream has a file descriptor its device:inode must match;
    streams without one (tests, wrappers) trust the variable alone."""
    expected = os.environ.get("JOURNAL_STREAM")
    if not expected:
        return False
    try:
        status = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError.
        return True
    return expected == f"{status.st_dev}:{status.st_ino}"


class _MaildHandler(logging.StreamHandler[TextIO]):
    """Marks the handler setup_logging installed, so a second call replaces only that one and
    leaves others on the root logger (pytest's caplog, for one) alone."""


class _StderrHandler(_MaildHandler):
    """Writes to whatever sys.stderr is when a record is emitted, as logging.lastResort does:
    a test harness (or a daemon) that swaps stderr later still gets the lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # always the current sys.stderr


def setup_logging(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every logger's records through one handler on the root logger, writing to `stream`
    (default stderr, which journald captures under systemd). Replaces logging.basicConfig()."""
    levelno = LOG_LEVELS.get(level.lower())
    if levelno is None:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(LOG_LEVELS)}")
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}: use one of {', '.join(LOG_FORMATS)}")
    target = stream if stream is not None else sys.stderr
    handler = _MaildHandler(stream) if stream is not None else _StderrHandler()
    handler.addFilter(SecretFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(journald=_under_journald(target)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _MaildHandler)]:
        root.removeHandler(old)
        old.flush()
        old.close()  # Unregisters it; a StreamHandler never closes its stream.
    root.addHandler(handler)
    root.setLevel(levelno)
    for name, quiet in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet)
