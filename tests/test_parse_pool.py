"""Parsing in worker processes: same results as in-process, and hostile mail is fenced off."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from maild.config import LimitsConfig
from maild.intake.parse import ParsedMessage, ParseError
from maild.intake.parse_pool import Parsed, ParserPool, parse_or_error

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.eml"))
LIMITS = LimitsConfig(message_bytes=10**7)
ROOT = Path(__file__).parent.parent


def explosive_parse(raw: bytes, limits: LimitsConfig) -> Parsed:
    """Stands in for a parser bug: one message kills its worker, another hangs it in C code
    (where the parse-time alarm cannot reach)."""
    if raw.startswith(b"CRASH"):
        os._exit(1)
    if raw.startswith(b"HANG"):
        time.sleep(3600)
    return parse_or_error(raw, limits)


def slow_to_parse(parts: int) -> bytes:
    """Real mail the email package is slow on: parameters it parses anew on every question."""
    crowded = b"--z\r\nContent-Type: text/plain; a=b" + b";a=b" * 2000 + b"\r\n\r\nx\r\n"
    head = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
    return head + crowded * parts + b"--z--\r\n"


@pytest.fixture
def corpus() -> list[bytes]:
    return [path.read_bytes() for path in CORPUS]


def summary(results: list[Parsed]) -> list[tuple[str, str]]:
    return [
        (r.message_id, r.text) if isinstance(r, ParsedMessage) else ("error", str(r))
        for r in results
    ]


def test_pooled_results_match_in_process_in_order(corpus: list[bytes]) -> None:
    pool = ParserPool(LIMITS, workers=2)
    try:
        pooled = pool.submit(corpus).results()
    finally:
        pool.close()
    in_process = ParserPool(LIMITS, workers=0).submit(corpus).results()
    assert len(pooled) == len(corpus) >= 8
    assert summary(pooled) == summary(in_process)
    assert any(isinstance(r, ParseError) for r in pooled)  # the corpus has garbage too


@pytest.mark.parametrize("marker", [b"CRASH", b"HANG"])
def test_a_message_that_breaks_the_parser_costs_only_itself(
    corpus: list[bytes], marker: bytes
) -> None:
    batch = [*corpus[:6], marker + b" hostile", *corpus[6:12]]
    limits = LimitsConfig(message_bytes=10**7, parse_seconds=0.5)
    pool = ParserPool(limits, workers=2, grace=2.0, parse_one=explosive_parse)
    try:
        results = pool.submit(batch).results()
        assert len(results) == len(batch)
        hostile = results[6]
        assert isinstance(hostile, ParseError) and "hung or crashed" in str(hostile)
        expected = ParserPool(limits, workers=0).submit(corpus[:12]).results()
        assert summary(results[:6] + results[7:]) == summary(expected)
        assert len(pool.submit(corpus).results()) == len(corpus)  # the pool works on
    finally:
        pool.close()


def test_the_backstop_grows_with_the_chunk_and_the_parse_budget() -> None:
    pool = ParserPool(LimitsConfig(parse_seconds=20.0), workers=0, grace=10.0)
    assert (pool.backstop(1), pool.backstop(5)) == (30.0, 110.0)


@pytest.mark.parametrize("workers", [0, 2])
def test_the_parse_time_budget_holds_in_workers_and_in_process(
    corpus: list[bytes], workers: int
) -> None:
    limits = LimitsConfig(message_bytes=10**7, parse_seconds=0.2)
    batch = [*corpus[:8], slow_to_parse(parts=200)]
    # A generous backstop: the alarm, not the pool's timeout, must stop the slow message.
    pool = ParserPool(limits, workers=workers, grace=60.0)
    try:
        results = pool.submit(batch).results()
    finally:
        pool.close()
    assert str(results[-1]) == "over [limits] parse_seconds: 0.2 s"
    in_process = [parse_or_error(raw, LIMITS) for raw in corpus[:8]]
    assert summary(results[:-1]) == summary(in_process)


def test_parse_or_error_turns_a_failure_of_the_safety_net_into_a_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def out_of_memory(raw: bytes, *, limits: LimitsConfig) -> ParsedMessage:
        raise MemoryError

    monkeypatch.setattr("maild.intake.parse_pool.parse_message", out_of_memory)
    result = parse_or_error(b"From: a@b\r\n\r\nx", LIMITS)
    assert isinstance(result, ParseError)
    assert str(result).startswith("parser error: MemoryError in ")


DAEMON = """
import multiprocessing, sys, time
from maild.config import LimitsConfig
from maild.intake.parse_pool import ParserPool

if __name__ == "__main__":
    pool = ParserPool(LimitsConfig(), workers=2, parse_one=__import__("{module}").{function})
    pool.submit([b"From: a@example.com\\r\\n\\r\\nx"] * 16)
    pids = [worker.pid for worker in multiprocessing.active_children()]
    print(" ".join(map(str, pids)), flush=True)
    time.sleep(3600)
"""


def slow_parse(raw: bytes, limits: LimitsConfig) -> Parsed:
    """Busy for a while, so a worker is mid-task when its daemon dies, and answers after."""
    time.sleep(1.0)
    return parse_or_error(raw, limits)


def gone(pid: int) -> bool:
    """No such process, or only its zombie left (its reaper may not be the test's)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_quietly_with_a_killed_daemon(tmp_path: Path) -> None:
    script = tmp_path / "daemon.py"
    script.write_text(textwrap.dedent(DAEMON.format(module=__name__, function="slow_parse")))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)])}
    daemon = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        pids = [int(pid) for pid in daemon.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(pids) == 2
        time.sleep(0.3)  # the workers are busy now
        daemon.kill()
        # stderr ends when the last process holding it (forkserver, workers) has ended
        _, stderr = daemon.communicate(timeout=10)
    finally:
        daemon.kill()
    deadline = time.monotonic() + 5
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone(pid) for pid in pids)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
