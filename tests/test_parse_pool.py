"""Parsing in worker processes: same results as in-process, and hostile mail is fenced off."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from maild.intake.parse import ParsedMessage, ParseError
from maild.intake.parse_pool import Parsed, ParserPool, parse_or_error

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.eml"))


def explosive_parse(raw: bytes, max_bytes: int) -> Parsed:
    """Stands in for a parser bug: one message kills its worker, another hangs it."""
    if raw.startswith(b"CRASH"):
        os._exit(1)
    if raw.startswith(b"HANG"):
        time.sleep(3600)
    return parse_or_error(raw, max_bytes)


@pytest.fixture
def corpus() -> list[bytes]:
    return [path.read_bytes() for path in CORPUS]


def summary(results: list[Parsed]) -> list[tuple[str, str]]:
    return [
        (r.message_id, r.text) if isinstance(r, ParsedMessage) else ("error", str(r))
        for r in results
    ]


def test_pooled_results_match_in_process_in_order(corpus: list[bytes]) -> None:
    pool = ParserPool(10**7, workers=2)
    try:
        pooled = pool.submit(corpus).results()
    finally:
        pool.close()
    in_process = ParserPool(10**7, workers=0).submit(corpus).results()
    assert len(pooled) == len(corpus) >= 8
    assert summary(pooled) == summary(in_process)
    assert any(isinstance(r, ParseError) for r in pooled)  # the corpus has garbage too


@pytest.mark.parametrize("marker", [b"CRASH", b"HANG"])
def test_a_message_that_breaks_the_parser_costs_only_itself(
    corpus: list[bytes], marker: bytes
) -> None:
    batch = [*corpus[:6], marker + b" hostile", *corpus[6:12]]
    pool = ParserPool(10**7, workers=2, timeout=2.0, parse_one=explosive_parse)
    try:
        results = pool.submit(batch).results()
        assert len(results) == len(batch)
        hostile = results[6]
        assert isinstance(hostile, ParseError) and "hung or crashed" in str(hostile)
        expected = ParserPool(10**7, workers=0).submit(corpus[:12]).results()
        assert summary(results[:6] + results[7:]) == summary(expected)
        assert len(pool.submit(corpus).results()) == len(corpus)  # the pool works on
    finally:
        pool.close()
