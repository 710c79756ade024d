"""Log lines: one per event in both formats, journald-aware, and never carrying a secret."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maild import logs
from maild.logs import register_secret, setup_logging

TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
log = logging.getLogger("maild.ingest")


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """setup_logging changes process-wide state: put the root logger, the quietened loggers and
    the secret registry back, so no other test sees this file's handlers or masks."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    monkeypatch.setattr(logs, "_secrets", ())
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("mailparser", "mail.log")}
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, saved in quiet.items():
        logging.getLogger(name).setLevel(saved)


def lines(stream: io.StringIO) -> list[str]:
    output = stream.getvalue()
    assert output.endswith("\n")
    return output[:-1].split("\n")


def test_text_line() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    log.info("ticket %s opened from %s", "MD-1001", "a@b.c")
    [line] = lines(stream)
    assert re.fullmatch(f"{TIMESTAMP} INFO maild.ingest: ticket MD-1001 opened from a@b.c", line)


def test_timestamp_is_utc_with_milliseconds() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "hello", (), None)
    record.created = datetime(2026, 11, 23, 10, 0, 0, 125000, UTC).timestamp()
    log.handle(record)
    assert lines(stream) == ["2026-11-23T10:00:00.125Z INFO maild.ingest: hello"]


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    log.warning("to stderr")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith(" WARNING maild.ingest: to stderr\n")


def test_json_line() -> None:
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    log.info("工单 %s 已创建", "MD-1001")
    [line] = lines(stream)
    assert "工单 MD-1001 已创建" in line  # ensure_ascii=False: Chinese stays readable
    entry = json.loads(line)
    assert re.fullmatch(TIMESTAMP, entry.pop("ts"))
    assert entry == {"level": "info", "logger": "maild.ingest", "msg": "工单 MD-1001 已创建"}


def test_json_extras() -> None:
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    when = datetime(2026, 11, 23, tzinfo=UTC)
    extra = {"ticket": "MD-1001", "message_id": "<x@y>", "count": 2, "when": when, "ts": "mine"}
    log.info("acknowledged", extra=extra)
    entry = json.loads(lines(stream)[0])
    assert entry["ticket"] == "MD-1001"
    assert entry["message_id"] == "<x@y>"
    assert entry["count"] == 2
    assert entry["when"] == str(when)  # not JSON-serialisable: stringified
    assert re.fullmatch(TIMESTAMP, entry["ts"])  # an extra cannot overwrite the core fields
    assert entry["extra_ts"] == "mine"
    for standard in ("args", "lineno", "pathname", "levelno", "created", "exc_info", "thread"):
        assert standard not in entry
    assert "exc" not in entry


def test_json_exception() -> None:
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("could not parse")
    [line] = lines(stream)
    entry = json.loads(line)
    assert entry["level"] == "error"
    assert entry["msg"] == "could not parse"
    assert entry["exc"].startswith("Traceback (most recent call last):")
    assert entry["exc"].endswith("ValueError: boom")


INJECTED = "Re: hi\n2026-11-23T10:00:00.000Z ERROR maild.ingest: forged\r\x1b[2J\x85\u2028end\ttab"


def test_text_escapes_newlines_and_control_characters() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    log.info("subject %s", INJECTED)
    [line] = lines(stream)
    assert line.endswith(
        r"INFO maild.ingest: subject Re: hi\n2026-11-23T10:00:00.000Z ERROR maild.ingest: "
        r"forged\r\x1b[2J\x85\u2028end\ttab"
    )
    assert line.splitlines() == [line]


def test_text_exception_stays_on_one_line() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("could not parse")
    [line] = lines(stream)
    assert r"ERROR maild.ingest: could not parse\nTraceback (most recent call last):\n" in line
    assert line.endswith(r"\nValueError: boom")


def test_json_escapes_newlines_and_control_characters() -> None:
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    log.info("subject %s", INJECTED, extra={"subject": INJECTED})
    [line] = lines(stream)
    assert line.splitlines() == [line]
    entry = json.loads(line)
    assert entry["msg"] == f"subject {INJECTED}"
    assert entry["subject"] == INJECTED


def test_journald_priority_prefix_and_no_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    stream = io.StringIO()
    setup_logging(level="debug", stream=stream)
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    log.critical("c")
    assert lines(stream) == [
        "<7>DEBUG maild.ingest: d",
        "<6>INFO maild.ingest: i",
        "<4>WARNING maild.ingest: w",
        "<3>ERROR maild.ingest: e",
        "<2>CRITICAL maild.ingest: c",
    ]


def test_journald_prefix_still_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    stream = io.StringIO()
    setup_logging(stream=stream)
    log.warning("subject %s", "a\n<3>ERROR maild: forged")
    assert lines(stream) == [r"<4>WARNING maild.ingest: subject a\n<3>ERROR maild: forged"]


def test_journal_stream_must_match_a_real_stream(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """JOURNAL_STREAM is inherited by children whose stderr goes elsewhere: such a stream gets
    timestamps, not priorities."""
    path = tmp_path / "maild.log"
    with path.open("w", encoding="utf-8") as stream:
        monkeypatch.setenv("JOURNAL_STREAM", "1:1")
        setup_logging(stream=stream)
        log.info("redirected")
        status = path.stat()
        monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino}")
        setup_logging(stream=stream)
        log.info("journal")
    first, second = path.read_text(encoding="utf-8").splitlines()
    assert re.fullmatch(f"{TIMESTAMP} INFO maild.ingest: redirected", first)
    assert second == "<6>INFO maild.ingest: journal"


def test_json_ignores_journal_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    log.info("hi")
    assert json.loads(lines(stream)[0])["msg"] == "hi"


@pytest.mark.parametrize("fmt", logs.LOG_FORMATS)
def test_secrets_masked_in_message_extras_and_exception(fmt: str) -> None:
    register_secret("hunter2-imap")
    register_secret("s3cret-smtp")
    stream = io.StringIO()
    setup_logging(fmt=fmt, stream=stream)
    log.info(
        "login with %s failed",
        "hunter2-imap",
        extra={"password": "s3cret-smtp", "nested": {"pw": ["x hunter2-imap y"]}},
    )
    try:
        raise ConnectionError("AUTH s3cret-smtp rejected")
    except ConnectionError:
        log.exception("smtp down")
    output = stream.getvalue()
    assert "hunter2-imap" not in output
    assert "s3cret-smtp" not in output
    assert "login with *** failed" in output
    assert "ConnectionError: AUTH *** rejected" in output
    if fmt == "json":
        first = json.loads(lines(stream)[0])
        assert first["password"] == "***"
        assert first["nested"] == {"pw": ["x *** y"]}


def test_secret_in_stringified_extra_masked() -> None:
    class Account:
        def __str__(self) -> str:
            return "Account(password=hunter2-imap)"

    register_secret("hunter2-imap")
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    log.info("connecting", extra={"account": Account()})
    assert json.loads(lines(stream)[0])["account"] == "Account(password=***)"


def test_longest_secret_masked_whole_and_short_values_ignored() -> None:
    register_secret("pass")
    register_secret("password123")
    register_secret("abc")
    register_secret("")
    stream = io.StringIO()
    setup_logging(stream=stream)
    log.info("password123 pass abc")
    assert lines(stream)[0].endswith("INFO maild.ingest: *** *** abc")


def test_secret_masked_for_other_handlers_too(caplog: pytest.LogCaptureFixture) -> None:
    """The filter rewrites the record, and setup_logging leaves other root handlers in place."""
    register_secret("hunter2-imap")
    setup_logging(stream=io.StringIO())
    log.warning("password %s", "hunter2-imap")
    assert caplog.messages == ["password ***"]


def test_bad_format_arguments_do_not_raise_or_leak() -> None:
    """Handed straight to our handler: pytest's own capture handler would raise first."""
    register_secret("hunter2-imap")
    stream = io.StringIO()
    setup_logging(stream=stream)
    [ours] = [h for h in logging.getLogger().handlers if isinstance(h, logs._MaildHandler)]
    ours.handle(
        log.makeRecord(log.name, logging.INFO, __file__, 1, "%d tickets", ("hunter2-imap",), None)
    )
    [line] = lines(stream)
    assert "unformattable log message" in line
    assert "hunter2-imap" not in line


def test_repeated_setup_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging(stream=first)
    setup_logging(fmt="json", stream=second)
    setup_logging(fmt="json", stream=second)
    log.info("once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1
    ours = [h for h in logging.getLogger().handlers if isinstance(h, logs._MaildHandler)]
    assert len(ours) == 1


def test_level_filters() -> None:
    stream = io.StringIO()
    setup_logging(level="warning", stream=stream)
    log.debug("debug")
    log.info("info")
    log.warning("warning")
    log.error("error")
    assert [line.split(" ", 1)[1] for line in lines(stream)] == [
        "WARNING maild.ingest: warning",
        "ERROR maild.ingest: error",
    ]


def test_level_name_is_case_insensitive() -> None:
    setup_logging(level="DEBUG", stream=io.StringIO())
    assert logging.getLogger().level == logging.DEBUG


def test_unknown_level_or_format_rejected() -> None:
    with pytest.raises(ValueError, match="unknown log level 'verbose'"):
        setup_logging(level="verbose", stream=io.StringIO())
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        setup_logging(fmt="xml", stream=io.StringIO())


def test_third_party_noise_kept_down() -> None:
    stream = io.StringIO()
    setup_logging(level="debug", stream=stream)
    logging.getLogger("mailparser").warning("mailparser warning")
    logging.getLogger("mail.log").info("aiosmtpd chatter")
    logging.getLogger("mail.log").warning("aiosmtpd warning")
    assert [line.split(" ", 1)[1] for line in lines(stream)] == [
        "WARNING mail.log: aiosmtpd warning"
    ]
