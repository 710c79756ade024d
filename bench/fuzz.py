"""Fuzzing intake for as long as you like: tests/test_fuzz.py's strategies at larger sizes.

Draws batches of hostile mail (tests/fuzz_mail.py: ordinary Chinese and English mail, then
nesting thousands deep, 8-bit and invalid encoded words, truncation, boundary games, header
floods of tens of thousands of lines, NULs, bogus charsets, lines over 1 MiB, byte edits,
reused Message-IDs and redeliveries) and takes each batch through the real parse and ingest
into a throwaway store, which is then reopened and checked: every mail must end as a ticket, a
recorded automatic message, a duplicate or a quarantine record, and nothing may raise or be
caught by a safety net. Hypothesis runs in rounds of --round examples, each with its own seed
(--seed, then the next ones), so a finding can be replayed; a finding is shrunk to a minimal
reproducer, its culprit mails saved as bench/results/fuzz-crash-*.eml, and the
next round starts. At the end it prints how many inputs ran (those tried while shrinking
included) and what became of them, and writes bench/results/fuzz.json ({"inputs", "seconds",
"outcomes", "crashes", ...}); "crashes" counts distinct findings, not inputs.

    python bench/fuzz.py --minutes N [--seed S] [--round R] [--scale bench|ci]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, seed, settings

from tests.fuzz_mail import BENCH, CI, Batch, Scale, describe, mail_batches, verdict

RESULTS = Path(__file__).resolve().parent / "results"
SCALES = {"bench": BENCH, "ci": CI}
# Numbers, hashes and quoted text differ between findings of one bug; the rest names it.
_VARIABLE = re.compile(r"\d+|'[^']*'|\"[^\"]*\"|<[^>]*>")
_NAMED_MAIL = re.compile(r"mail (\d+) ")


@dataclass
class Finding:
    """A batch that broke the rules, and what broke."""

    batch: Batch
    what: list[str]

    def culprits(self) -> list[bytes]:
        """The mails the problems name ("mail 2 (...): ..."); all of them after a raise."""
        named = sorted({int(m[1]) for line in self.what if (m := _NAMED_MAIL.match(line))})
        return list(dict.fromkeys([self.batch.mails[i] for i in named] or self.batch.mails))


@dataclass
class Tally:
    """What the run has seen so far."""

    deadline: float
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    last_finding: Finding | None = None
    crashes: dict[str, list[str]] = field(default_factory=dict)  # signature -> saved files

    def take(self, batch: Batch) -> None:
        """Take one batch in and count it; raise (so hypothesis shrinks) on a finding."""
        if time.monotonic() > self.deadline:
            return  # the round's remaining examples cost nothing
        self.inputs += len(batch.mails)
        try:
            outcomes, problems = verdict(batch)
        except Exception as error:
            self.last_finding = Finding(batch, _raised(error))
            raise
        self.outcomes.update(o.result for o in outcomes)
        if problems:
            self.last_finding = Finding(batch, [*problems, f"outcomes: {describe(outcomes)}"])
            raise AssertionError(problems)


def _raised(error: BaseException) -> list[str]:
    """The exception and the last frames of its traceback, one line each."""
    frames = traceback.extract_tb(error.__traceback__)[-4:]
    where = [f"  at {f.filename}:{f.lineno} in {f.name}" for f in frames]
    return [f"raised {type(error).__name__}: {error}"[:500], *where]


def signature(finding: Finding) -> str:
    """What a finding is, without the details that differ between inputs hitting one bug."""
    return _VARIABLE.sub("_", finding.what[0].split(": ", 1)[-1])[:200]


def save(finding: Finding, results: Path) -> list[str]:
    """The mails that made the finding as .eml files, named by content; returns the names."""
    names = []
    for raw in finding.culprits():
        name = f"fuzz-crash-{hashlib.sha256(raw).hexdigest()[:16]}.eml"
        (results / name).write_bytes(raw)
        names.append(name)
    return names


def one_round(tally: Tally, scale: Scale, round_seed: int, examples: int) -> Finding | None:
    """Up to `examples` batches under one seed; the shrunk finding, if the round made one."""
    tally.last_finding = None

    @seed(round_seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(mail_batches(scale))
    def fuzz(batch: Batch) -> None:
        tally.take(batch)

    try:
        fuzz()
    except Exception:
        if tally.last_finding is None:  # not a finding: a bug in the fuzzer itself
            raise
        return tally.last_finding  # hypothesis replays the minimal example last
    return None


def report(tally: Tally, seconds: float, results: Path, first_seed: int, scale: str) -> None:
    crashes = len(tally.crashes)
    rate = tally.inputs / seconds
    print(
        f"{tally.inputs} inputs in {seconds:.0f} s ({rate:.0f}/s), scale {scale}, seed {first_seed}"
    )
    for result, count in tally.outcomes.most_common():
        print(f"  {result:12} {count}")
    print(f"{crashes} distinct crash(es)")
    for what, files in tally.crashes.items():
        print(f"  {what}\n    {', '.join(files)}")
    summary = {
        "inputs": tally.inputs,
        "seconds": round(seconds, 1),
        "outcomes": dict(tally.outcomes),
        "crashes": crashes,
        "crash_files": tally.crashes,
        "seed": first_seed,
        "scale": scale,
    }
    (results / "fuzz.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0, help="the first round's seed")
    parser.add_argument("--round", type=int, default=500, help="examples per seed")
    parser.add_argument("--scale", choices=sorted(SCALES), default="bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("maild").setLevel(logging.CRITICAL)  # quarantines are counted, not logged
    args.results.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    tally = Tally(deadline=started + args.minutes * 60)
    round_seed = args.seed
    while time.monotonic() < tally.deadline:
        finding = one_round(tally, SCALES[args.scale], round_seed, args.round)
        if finding is not None:
            print(f"seed {round_seed}: " + "\n  ".join(finding.what), flush=True)
            files = tally.crashes.setdefault(signature(finding), [])
            files += [name for name in save(finding, args.results) if name not in files]
        round_seed += 1
    report(tally, time.monotonic() - started, args.results, args.seed, args.scale)


if __name__ == "__main__":
    main()
