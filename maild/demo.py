"""`maild demo`: the whole loop on loopback, with no mail server.

maild's own SMTP listener takes the mail in, and a folder stands in for the outgoing mail server
(each sent message an .eml file). A few customers write — Chinese in GBK and Big5, English, a
robot's out-of-office — then one replies to the acknowledgement, and the tickets are printed.
"""

from __future__ import annotations

import email
import email.policy
import signal
import smtplib
import socket
import tempfile
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from maild.clock import SystemClock
from maild.config import parse_config
from maild.service import Service
from maild.store import Store

SUPPORT = "support@demo.example"
TEAM = "team@demo.example"
AGENT = "alice@demo.example"


def run_demo(*, port: int, directory: Path | None, keep_running: bool) -> int:
    root = directory or Path(tempfile.mkdtemp(prefix="maild-demo-"))
    port = port if port and _port_free(port) else _free_port()
    outgoing = root / "outgoing"
    config = parse_config(
        {
            "support": {"address": SUPPORT, "name": "Demo Support 演示客服", "language": "en"},
            "store": {"path": str(root / "data")},
            "intake": {"mode": "smtp", "listen": f"127.0.0.1:{port}"},
            "smtp": {"transport": "folder", "folder": str(outgoing)},
            "teams": {"support": {"address": TEAM, "lead": "lead@demo.example"}},
            "escalation": {"page": ["oncall@demo.example"]},
            "agents": {"alice": {"address": AGENT, "name": "Alice Wang", "team": "support"}},
            # Loopback only: nobody else can deliver here, so the agent's mail needs no DKIM.
            "security": {"trust_agent_mail": "always"},
        }
    )
    print(f"maild demo: data in {root}, SMTP listener on 127.0.0.1:{port}\n")
    with Store.open(config.store.path) as store:
        service = Service(config, store, SystemClock())
        service.start_listener()
        for sample in _first_samples():
            _send(port, sample)
        service.cycle()
        _show_sent(outgoing, already=set())
        seen = {p.name for p in outgoing.glob("*.eml")}
        for reply in _replies(outgoing):
            _send(port, reply)
        service.cycle()
        _show_sent(outgoing, already=seen)
        seen = {p.name for p in outgoing.glob("*.eml")}
        for answer in _agent_answers(outgoing):
            _send(port, answer)
        service.cycle()
        _show_sent(outgoing, already=seen)
        _show_tickets(store)
        if not keep_running:
            service.close()
            return 0
        print(_HOW_TO_SEND.format(port=port, outgoing=outgoing, support=SUPPORT))
        signal.signal(signal.SIGTERM, lambda *_: service.request_stop())
        signal.signal(signal.SIGINT, lambda *_: service.request_stop())
        service.run()
    return 0


_HOW_TO_SEND = """
maild keeps running. Send it your own mail, for example:

  swaks --server 127.0.0.1:{port} --to {support} --from you@example.com \\
        --header "Subject: 支付失败" --body "我的订单支付失败了"

  python3 -c "import smtplib; smtplib.SMTP('127.0.0.1', {port}).sendmail('you@example.com', \\
        ['{support}'], 'From: you@example.com\\r\\nSubject: hello\\r\\n\\r\\nMy app crashes.')"

Acknowledgements appear in {outgoing}. Ctrl-C stops the demo.
"""


def _first_samples() -> list[bytes]:
    gbk = EmailMessage()
    gbk["From"] = "王伟 <wang.wei@example.cn>"
    gbk["Subject"] = "系统崩溃，无法登录"
    gbk.set_content(
        "你好，\n\n今天上午开始系统崩溃，所有同事都无法登录。请尽快处理！\n\n王伟", charset="gbk"
    )

    english = EmailMessage()
    english["From"] = "Alice Smith <alice@example.com>"
    english["Subject"] = "Payment failed for order 4471"
    english.set_content("Hello,\n\nmy card payment failed twice this morning.\n\nAlice")

    big5 = EmailMessage()
    big5["From"] = "陳小姐 <chen@example.com.tw>"
    big5["Subject"] = "帳號無法登入"
    big5.set_content("您好，我的帳號從昨天起無法登入，請協助。", charset="big5")

    robot = EmailMessage()
    robot["From"] = "Bob <bob@example.org>"
    robot["Subject"] = "Automatic reply: I am out of the office"
    robot["Auto-Submitted"] = "auto-replied"
    robot.set_content("I am out of the office until Monday.")

    messages = [gbk, english, big5, robot]
    for msg in messages:
        msg["To"] = SUPPORT
        msg["Message-ID"] = make_msgid(domain="customer.example")
    return [m.as_bytes() for m in messages]


def _replies(outgoing: Path) -> list[bytes]:
    """Wang Wei answers the acknowledgement from a client that keeps only the threading headers."""
    replies = []
    for path in sorted(outgoing.glob("*.eml")):
        ack = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if ack["To"] != "wang.wei@example.cn":
            continue
        reply = EmailMessage()
        reply["From"] = "王伟 <wang.wei@example.cn>"
        reply["To"] = SUPPORT
        reply["Subject"] = "补充：出错截图"
        reply["Message-ID"] = make_msgid(domain="customer.example")
        reply["In-Reply-To"] = ack["Message-ID"]
        reply["References"] = ack["Message-ID"]
        reply.set_content("补充一下：登录时提示“服务器内部错误 500”。", charset="gbk")
        replies.append(reply.as_bytes())
    return replies


def _agent_answers(outgoing: Path) -> list[bytes]:
    """Alice takes Wang Wei's ticket and answers him by replying to the new-ticket notice."""
    answers = []
    for path in sorted(outgoing.glob("*.eml")):
        notice = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if notice["To"] != TEAM or "系统崩溃" not in str(notice["Subject"]):
            continue
        answer = EmailMessage()
        answer["From"] = f"Alice Wang <{AGENT}>"
        answer["To"] = SUPPORT
        answer["Subject"] = f"Re: {notice['Subject']}"
        answer["Message-ID"] = make_msgid(domain="demo.example")
        answer["In-Reply-To"] = notice["Message-ID"]
        answer.set_content(
            "#take\n王先生您好，我们已定位到登录服务的故障，正在修复，预计一小时内恢复。\n\n"
            "-- \nAlice Wang\n\n> A new ticket has arrived for team support.\n"
        )
        answers.append(answer.as_bytes())
    return answers


def _send(port: int, raw: bytes) -> None:
    msg = email.message_from_bytes(raw)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(email.utils.parseaddr(msg["From"])[1], [SUPPORT], raw)


def _show_sent(outgoing: Path, *, already: set[str]) -> None:
    for path in sorted(outgoing.glob("*.eml")):
        if path.name in already:
            continue
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if str(mail["To"]).endswith("@demo.example"):  # staff: a notice or a page
            print(f"=== sent to {mail['To']}: {mail['Subject'].strip()}\n")
            continue
        body = mail.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        print(f"=== sent to {mail['To']}  ({path.name})\nSubject: {mail['Subject'].strip()}\n")
        print("\n".join(text.splitlines()[:9]) + "\n   …\n")


def _show_tickets(store: Store) -> None:
    print("=== tickets")
    for ticket in store.tickets():
        print(
            f"{ticket['id']}  {ticket['status']:<5} {ticket['message_count']} message(s)  "
            f"{ticket['priority']}/{ticket['category']}  {ticket['customer']}  {ticket['subject']}"
        )
    filtered = [m for m in store.messages(None) if m["kind"] == "automatic"]
    for m in filtered:
        print(f"(not a ticket, not answered: {m['from']} — {m['automatic']})")
    print()


def _port_free(port: int) -> bool:
    try:
        with socket.create_server(("127.0.0.1", port)):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
