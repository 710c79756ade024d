"""Intake throughput: maild against the ceiling of its own libraries, on a real Dovecot.

Puts N messages (a realistic mix: Chinese in GBK, GB2312, Big5 and UTF-8, English, HTML-only,
replies that thread by token or by References, attachments, auto-replies) into a throwaway
Dovecot inbox, then
  1. the ceiling: a bare loop of imapclient FETCH BODY.PEEK[] in batches of 100 plus
     mailparser.parse_from_bytes, nothing stored;
  2. maild: its IMAP intake (fetch, parse, dedupe, filter, thread, tickets, acknowledgements
     queued, raw files fsynced, one commit per batch, messages moved to the processed folder);
and prints both in messages per second with their ratio. Target: maild at >= 50 % of the ceiling.

    python bench/ingest.py [--messages N] [--data DIR]
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mailparser
from imapclient import IMAPClient

from maild.clock import SystemClock
from maild.config import parse_config
from maild.intake.mailbox import MailboxIntake
from maild.intake.parse_pool import SMALLEST_POOLED_BATCH, ParserPool
from maild.store import Store
from tests.servers.dovecot import Dovecot

SUPPORT = "support@bench.example"
ZH_SUBJECTS = ["系统崩溃，无法登录", "支付失败", "发票抬头错误", "如何导出报表", "账号被锁定"]
ZH_BODY = "您好，\n\n今天上午开始{0}，影响了我们整个部门的工作，请尽快处理。\n\n谢谢！\n王伟\n"
TW_SUBJECTS = ["帳號無法登入", "付款失敗", "發票問題"]
EN_SUBJECTS = ["Payment failed", "Cannot log in", "Outage in region eu-1", "Invoice question"]
EN_BODY = "Hello,\n\nsince this morning {0}. Could you look into it?\n\n" + "Details. " * 40
HTML = "<html><body><p>Hello,</p><table><tr><td>Order</td><td>{0}</td></tr></table></body></html>"


def realistic_mix(count: int, seed: int = 7) -> list[bytes]:
    """Messages in the proportions a Chinese-and-English help desk sees."""
    rng = random.Random(seed)
    out: list[bytes] = []
    earlier: list[tuple[str, str]] = []  # (message-id, subject) of first messages
    for i in range(count):
        msg = EmailMessage()
        msg["To"] = SUPPORT
        msg["Message-ID"] = f"<bench.{i}.{seed}@customer.example>"
        msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0800"
        roll = rng.random()
        if roll < 0.15 and earlier:
            parent_id, subject = rng.choice(earlier)
            msg["From"] = f"customer{rng.randrange(400)}@example.cn"
            msg["Subject"] = f"回复: {subject}"
            msg["In-Reply-To"] = parent_id
            msg["References"] = parent_id
            msg.set_content("补充一下情况：问题仍然存在。\n\n> 原邮件", charset="gbk")
        elif roll < 0.40:
            subject = rng.choice(ZH_SUBJECTS)
            msg["From"] = f"王伟 <customer{rng.randrange(400)}@example.cn>"
            msg["Subject"] = subject
            msg.set_content(ZH_BODY.format(subject), charset=rng.choice(["gbk", "gb2312", "utf-8"]))
            earlier.append((msg["Message-ID"], subject))
        elif roll < 0.47:
            subject = rng.choice(TW_SUBJECTS)
            msg["From"] = f"陳小姐 <tw{rng.randrange(100)}@example.com.tw>"
            msg["Subject"] = subject
            msg.set_content(f"您好，{subject}，請協助處理。", charset="big5")
        elif roll < 0.80:
            subject = rng.choice(EN_SUBJECTS)
            msg["From"] = f"Alice Smith <user{rng.randrange(400)}@example.com>"
            msg["Subject"] = subject
            msg.set_content(EN_BODY.format(subject.lower()))
            if rng.random() < 0.2:
                payload = rng.randbytes(rng.randrange(2_000, 60_000))
                msg.add_attachment(payload, maintype="application", subtype="pdf", filename="a.pdf")
            earlier.append((msg["Message-ID"], subject))
        elif roll < 0.92:
            msg["From"] = f"shop{rng.randrange(50)}@example.com"
            msg["Subject"] = f"Order {i} problem"
            msg.set_content(HTML.format(i), subtype="html")
        else:
            msg["From"] = f"user{rng.randrange(400)}@example.com"
            msg["Subject"] = "Automatic reply: out of office"
            msg["Auto-Submitted"] = "auto-replied"
            msg.set_content("I am away until Monday.")
        out.append(msg.as_bytes())
    return out


def ceiling(dovecot: Dovecot, user: str, password: str) -> tuple[int, float]:
    """The bare libraries: fetch BODY.PEEK[] in batches of 100 and parse; nothing else."""
    start = time.perf_counter()
    with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=30) as client:
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        count = 0
        for i in range(0, len(uids), 100):
            for data in client.fetch(uids[i : i + 100], ["BODY.PEEK[]"]).values():
                mailparser.parse_from_bytes(data[b"BODY[]"])
                count += 1
    return count, time.perf_counter() - start


def maild_intake(
    dovecot: Dovecot, user: str, password: str, data: Path
) -> tuple[int, float, Store]:
    config = parse_config(
        {
            "support": {"address": SUPPORT},
            "store": {"path": str(data)},
            "intake": {"mode": "imap"},
            "imap": {
                "host": dovecot.host,
                "port": dovecot.port,
                "tls": "none",
                "username": user,
                "password": password,
            },
            "smtp": {"transport": "folder", "folder": str(data / "outgoing")},
            "limits": {"auto_replies_per_hour": 1000},
        }
    )
    store = Store.open(config.store.path)
    parser = ParserPool(config.limits)
    parser.submit([b""] * SMALLEST_POOLED_BATCH).results()  # start the workers, as a daemon has
    intake = MailboxIntake(config, store, SystemClock(), threading.Event(), parser)
    start = time.perf_counter()
    handled = intake.drain()
    elapsed = time.perf_counter() - start
    intake.close()
    parser.close()
    if intake.last_error:
        raise SystemExit(f"intake failed: {intake.last_error}")
    return handled, elapsed, store


def one_round(dovecot: Dovecot, messages: list[bytes], data: Path) -> tuple[float, float, str]:
    """Ceiling and maild over the same fresh mailbox; returns both rates and a summary."""
    account = dovecot.new_account()
    user, password = account.username, account.password
    with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=60) as client:
        client.login(user, password)
        for raw in messages:
            client.append("INBOX", raw)
    ceiling(dovecot, user, password)  # warm the server's and the OS's caches
    count, seconds = ceiling(dovecot, user, password)
    handled, maild_seconds, store = maild_intake(dovecot, user, password, data)
    summary = f"{len(store.tickets())} tickets, {len(store.outgoing())} acknowledgements queued"
    store.close()
    return count / seconds, handled / maild_seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="report the median of this many")
    parser.add_argument("--data", type=Path, help="where maild's data dirs go (default: /var/tmp)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mailparser").setLevel(logging.ERROR)
    logging.getLogger("maild").setLevel(logging.WARNING)

    messages = realistic_mix(args.messages)
    size = sum(map(len, messages))
    print(f"{len(messages)} messages ({size / 2**20:.1f} MiB) per round, {args.rounds} round(s)")
    base = Path(tempfile.mkdtemp(prefix="maild-bench-", dir=args.data or "/var/tmp"))
    ceilings, rates = [], []
    with Dovecot() as dovecot:
        for n in range(args.rounds):
            top, rate, summary = one_round(dovecot, messages, base / f"round{n}")
            ceilings.append(top)
            rates.append(rate)
            print(f"  round {n + 1}: ceiling {top:6.0f} msg/s, maild {rate:6.0f} msg/s ({summary})")
    top, rate = statistics.median(ceilings), statistics.median(rates)
    print(f"ceiling (imapclient fetch BODY.PEEK[] x100 + mailparser): {top:6.0f} msg/s (median)")
    print(f"maild intake (parsed, stored, threaded, acked, moved):   {rate:6.0f} msg/s (median)")
    print(f"ratio: {rate / top:.0%} of the ceiling (target: >= 50 %)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the benchmark process: {peak:.0f} MiB; data under {base}")


if __name__ == "__main__":
    main()
