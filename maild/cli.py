"""The `maild` command line: run, once, check, tickets, demo."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from maild import __version__, commands, datacare, report
from maild.clock import Clock, FixedClock, SystemClock, iso
from maild.config import Config, ConfigError, config_path, load_config
from maild.datacare import VersionError
from maild.editions import next_digest_at
from maild.logs import LOG_FORMATS, register_secret, setup_logging
from maild.notify import wording
from maild.notify.digest import render
from maild.notify.outbox import flush
from maild.notify.sender import open_transport
from maild.periods import parse_period, week_of
from maild.search import search
from maild.service import Service, ServiceError
from maild.status import collect
from maild.store import Store, StoreError
from maild.sweep import sla_view
from maild.threader import ticket_numbers_in

log = logging.getLogger("maild")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def entry() -> NoReturn:
    """The `maild` command and `python -m maild`.

    Tickets and raw mail are personal data: whichever command creates the data directory, the
    database, spooled mail or the outgoing folder, it is 0700 and its files 0600, as under the
    systemd unit's UMask=0077.
    """
    os.umask(0o077)
    sys.exit(main())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    if args.command == "demo":
        from maild.demo import run_demo

        return run_demo(port=args.port, directory=args.dir, keep_running=not args.exit)
    if args.command == "init":
        return _init(config_path(args.config), args.data)
    try:
        config = load_config(config_path(args.config))
    except ConfigError as e:
        print(f"maild: configuration problems:\n{e}", file=sys.stderr)
        return EXIT_USAGE
    for secret in (config.imap.password if config.imap else None, config.smtp.password):
        if secret:
            register_secret(secret)  # whatever logs it by accident, it reads ***
    try:
        return int(args.handler(config, args))
    except (StoreError, ServiceError, VersionError) as e:
        print(f"maild: {e}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maild", description=__doc__)
    parser.add_argument("--version", action="version", version=f"maild {__version__}")
    parser.add_argument(
        "--config", help="config file (default: $MAILD_CONFIG, else /etc/maild/maild.toml)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.add_argument(
        "--log-format",
        default="text",
        choices=LOG_FORMATS,
        help="text (one line per event; journald-aware) or json (for log shippers)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("run", help="run the daemon in the foreground").set_defaults(handler=_run)
    once = commands.add_parser("once", help="one full cycle (intake, outbox), then exit")
    once.add_argument(
        "--now", type=_aware_time, help="act as if it were this time (ISO 8601 with offset)"
    )
    once.set_defaults(handler=_once)
    commands.add_parser("check", help="check config, IMAP and SMTP").set_defaults(handler=_check)
    backup = commands.add_parser("backup", help="a consistent snapshot, even while running")
    backup.add_argument("file", type=Path, help="the .tar.gz to write")
    backup.set_defaults(handler=_backup)
    restore = commands.add_parser("restore", help="a backup into an empty data directory")
    restore.add_argument("file", type=Path, help="the .tar.gz to read")
    restore.set_defaults(handler=_restore)
    quarantine = commands.add_parser("quarantine", help="mail that could not be taken in")
    q_which = quarantine.add_subparsers(dest="q_command", required=True, metavar="ACTION")
    q_list = q_which.add_parser("list", help="everything in quarantine, newest last")
    q_list.add_argument("--json", action="store_true", help="machine-readable output")
    q_list.set_defaults(handler=_quarantine_list)
    q_show = q_which.add_parser("show", help="one record and its raw message")
    q_show.add_argument("id", help="quarantine id (a unique beginning is enough)")
    q_show.set_defaults(handler=_quarantine_show)
    q_retry = q_which.add_parser("retry", help="take it in again (after a fix)")
    q_retry.add_argument("id", help="quarantine id (a unique beginning is enough)")
    q_retry.set_defaults(handler=_care_command, change="quarantine_retry")
    outbox = commands.add_parser("outbox", help="mail waiting to go out, or given up")
    o_which = outbox.add_subparsers(dest="o_command", required=True, metavar="ACTION")
    o_list = o_which.add_parser("list", help="outgoing mail")
    o_list.add_argument("--status", choices=("pending", "sent", "failed"), help="only these")
    o_list.add_argument("--json", action="store_true", help="machine-readable output")
    o_list.set_defaults(handler=_outbox_list)
    o_retry = o_which.add_parser("retry", help="make given-up or deferred mail due now")
    o_retry.add_argument("id", nargs="?", help="one mail's id (default: every failed one)")
    o_retry.set_defaults(handler=_care_command, change="outbox_retry")
    init = commands.add_parser("init", help="write a commented config and the data directory")
    init.add_argument(
        "--data", type=Path, default=Path("/var/lib/maild"), help="data directory to create"
    )
    status = commands.add_parser("status", help="is the daemon running, and is it well")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)

    digest = commands.add_parser(
        "digest", help="the analysis digest: preview, send, or its figures"
    )
    period = digest.add_mutually_exclusive_group()
    period.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last full week)")
    period.add_argument("--month", help="month, e.g. 2026-11")
    digest.add_argument("--preview", type=Path, metavar="FILE", help="write the HTML here")
    digest.add_argument("--send", action="store_true", help="mail it to [digest] recipients now")
    digest.add_argument("--json", action="store_true", help="print the figures as JSON")
    digest.add_argument("--language", choices=("zh", "en"), help="default: [digest] language")
    digest.add_argument(
        "--now", type=_aware_time, help="report as if it were this time (ISO 8601 with offset)"
    )
    digest.set_defaults(handler=_digest)

    demo = commands.add_parser("demo", help="the whole loop on loopback, no mail server needed")
    demo.add_argument("--exit", action="store_true", help="end after the sample mails")
    demo.add_argument(
        "--port", type=int, default=2525, help="listener port (default 2525; 0 or busy: any free)"
    )
    demo.add_argument("--dir", type=Path, help="keep the demo's data here (default: a temp dir)")

    tickets = commands.add_parser("tickets", help="list and show tickets")
    which = tickets.add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    listing = which.add_parser("list", help="list tickets")
    listing.add_argument("--status", help="only tickets with this status (new, open, …)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_tickets_list)
    show = which.add_parser("show", help="one ticket with its messages")
    show.add_argument("ticket", help="ticket id, e.g. MD-1042 or 1042")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument("--now", type=_aware_time, help="show the SLA clocks as of this time")
    show.set_defaults(handler=_tickets_show)
    for what, values in (("priority", "urgent, important or general"), ("category", "any name")):
        setter = which.add_parser(what, help=f"set a ticket's {what}; the SLA follows")
        setter.add_argument("ticket", help="ticket id, e.g. MD-1042 or 1042")
        setter.add_argument("value", help=values)
        setter.add_argument("--now", type=_aware_time, help="record it as of this time")
        setter.set_defaults(handler=_tickets_change, change=what)
    for what, value_help, text in (
        ("assign", "AGENT", "give a ticket to an agent (their [agents] name or address)"),
        ("status", "STATUS", "pending (waiting on the customer: clocks pause) or open"),
        ("merge", "INTO", "merge a ticket into another (e.g. MD-12)"),
        ("comment", "TEXT", "add an internal note (never sent to the customer)"),
    ):
        action = which.add_parser(what, help=text)
        action.add_argument("ticket", help="ticket id, e.g. MD-1042 or 1042")
        action.add_argument("value", metavar=value_help)
        action.add_argument("--now", type=_aware_time, help="record it as of this time")
        action.set_defaults(handler=_tickets_change, change=what)
    for what, text in (
        ("resolve", "mail the customer the resolution and ask them to confirm"),
        ("close", "close (closing note and satisfaction survey to the customer)"),
        ("reopen", "reopen a resolved or closed ticket"),
    ):
        action = which.add_parser(what, help=text)
        action.add_argument("ticket", help="ticket id, e.g. MD-1042 or 1042")
        if what == "resolve":
            action.add_argument("--note", default="", help="the resolution, for the customer")
        action.add_argument("--now", type=_aware_time, help="record it as of this time")
        action.set_defaults(handler=_tickets_change, change=what)
    replying = which.add_parser("reply", help="answer the customer, as an agent")
    replying.add_argument("ticket", help="ticket id, e.g. MD-1042 or 1042")
    given = replying.add_mutually_exclusive_group(required=True)
    given.add_argument("--file", type=Path, help="the reply's text, from this file")
    given.add_argument("-", dest="stdin", action="store_true", help="the reply from stdin")
    replying.add_argument(
        "--as",
        dest="agent",
        default=os.environ.get("MAILD_AGENT", ""),
        help="the agent answering ([agents] name or address; default $MAILD_AGENT)",
    )
    replying.add_argument("--now", type=_aware_time, help="record it as of this time")
    replying.set_defaults(handler=_tickets_change, change="reply")
    searching = which.add_parser("search", help="tickets whose subject, customer or mail match")
    searching.add_argument("text", help="words to find (Chinese or English)")
    searching.add_argument("--json", action="store_true", help="machine-readable output")
    searching.set_defaults(handler=_tickets_search)
    exporting = which.add_parser("export", help="every ticket, as JSON lines or CSV")
    exporting.add_argument(
        "--since", type=_since, help="only tickets updated since (a date, or a time with offset)"
    )
    exporting.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    exporting.set_defaults(handler=_tickets_export)
    return parser


def _since(text: str) -> datetime:
    """A date (midnight UTC) or a full ISO 8601 time with its offset."""
    try:
        return datetime.combine(date.fromisoformat(text), time(0), UTC)
    except ValueError:
        return _aware_time(text)


def _aware_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. +08:00")
    return moment


def _run(config: Config, args: argparse.Namespace) -> int:
    with Store.open(config.store.path) as store:
        service = Service(config, store, SystemClock())

        def stop(signum: int, _frame: object) -> None:
            name = signal.Signals(signum).name
            if service.stop.is_set():
                # Every commit is all or nothing (db.journal), so leaving now loses nothing
                # that was committed; what is half done is done again at the next start.
                log.warning("%s again: exiting at once", name)
                os._exit(EXIT_OK)
            log.info("%s: finishing the current batch, then stopping", name)
            service.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, lambda _signum, _frame: service.request_reload())
        signal.signal(commands.WAKE_SIGNAL, lambda _signum, _frame: service.wake.set())
        service.run()
    log.info("stopped")
    return EXIT_OK


def _backup(config: Config, args: argparse.Namespace) -> int:
    try:
        summary = datacare.backup(config.store.path, args.file)
    except (datacare.DataCareError, OSError) as e:
        print(f"maild: backup failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {args.file}: {json.dumps(summary, ensure_ascii=False)}")
    return EXIT_OK


def _restore(config: Config, args: argparse.Namespace) -> int:
    try:
        summary = datacare.restore(args.file, config.store.path)
    except (datacare.DataCareError, OSError) as e:
        print(f"maild: restore failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"restored into {config.store.path}: {json.dumps(summary, ensure_ascii=False)}")
    return EXIT_OK


def _quarantine_list(config: Config, args: argparse.Namespace) -> int:
    with Store.open(config.store.path, readonly=True) as store:
        rows = datacare.quarantine_list(store)
    return _print_rows(
        rows,
        args.json,
        lambda r: f"{r['id'][:12]}  {r['received_at']}  {r['source']}  {r['reason']}",
        "{} in quarantine",
    )


def _quarantine_show(config: Config, args: argparse.Namespace) -> int:
    try:
        with Store.open(config.store.path, readonly=True) as store:
            record, raw = datacare.quarantine_show(store, args.id)
    except datacare.DataCareError as e:
        print(f"maild: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(_safe(json.dumps(record, ensure_ascii=False, indent=2)))
    if raw is not None:
        print(_safe(raw.decode("utf-8", "replace")[:20000]))
    return EXIT_OK


def _outbox_list(config: Config, args: argparse.Namespace) -> int:
    with Store.open(config.store.path, readonly=True) as store:
        rows = datacare.outbox_list(store, args.status)
    return _print_rows(
        rows,
        args.json,
        lambda r: (
            f"{r['id'][:12]}  {r['status']:<7} {r['created_at']}  {r['kind']:<10} "
            f"{','.join(r['to'])}  {r['last_error'] or ''}"
        ),
        "{} mail(s)",
    )


def _care_command(config: Config, args: argparse.Namespace) -> int:
    """Retries write to the store: applied directly, or by the running daemon."""
    command = {"change": args.change, "value": args.id or "", "actor": f"cli:{getpass.getuser()}"}
    answer = commands.give(config, command, SystemClock().now())
    print(
        answer.message if answer.ok else f"maild: {answer.message}",
        file=sys.stdout if answer.ok else sys.stderr,
    )
    return EXIT_OK if answer.ok else EXIT_FAILED


def _digest(config: Config, args: argparse.Namespace) -> int:
    """Preview (HTML to a file, text to stdout), the figures as JSON, or send it now."""
    now = args.now or SystemClock().now()
    tz = ZoneInfo(config.digest.timezone)
    try:
        if args.week or args.month:
            period = parse_period(args.week or args.month, tz)
        else:
            period = week_of(now, tz).previous()
    except ValueError as e:
        print(f"maild: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.send:
        actor = f"cli:{getpass.getuser()}"
        command = {"change": "digest_send", "value": period.label, "actor": actor}
        answer = commands.give(config, command, now)
        if answer.ok and not answer.queued:
            _flush_if_free(config, now)
        print(
            answer.message if answer.ok else f"maild: {answer.message}",
            file=sys.stdout if answer.ok else sys.stderr,
        )
        return EXIT_OK if answer.ok else EXIT_FAILED
    with Store.open(config.store.path, readonly=True) as store:
        built = report.build(store, config, period, now)
    if args.json:
        print(json.dumps(report.to_json(built), ensure_ascii=False, indent=2))
        return EXIT_OK
    language = args.language or config.digest.lists[0].language
    rendered = render(built, config, language)
    if args.preview:
        args.preview.write_text(rendered.html, encoding="utf-8")
    print(f"Subject: {rendered.subject}\n\n{rendered.text}", end="")
    return EXIT_OK


def _flush_if_free(config: Config, now: datetime) -> None:
    """Deliver at once what the CLI just queued, when no daemon owns the outbox."""
    try:
        with Store.open(config.store.path) as store:
            flush(store, open_transport(config.smtp), now, config)
    except StoreError:
        pass  # the daemon took the store meanwhile: it delivers within a few seconds


def _init(path: Path, data: Path) -> int:
    """The commented example config, pointed at `data`, and `data` itself, private to its owner."""
    if path.exists():
        print(f"maild: {path} exists; not overwriting it", file=sys.stderr)
        return EXIT_FAILED
    example = resources.files("maild").joinpath("config.example.toml").read_text(encoding="utf-8")
    text = example.replace('path = "/var/lib/maild"', f"path = {json.dumps(str(data))}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        data.chmod(0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        print(f"maild: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {path} (mode 600) and {data} (mode 700); edit the config, then: maild check")
    return EXIT_OK


def _status(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 when the daemon runs and nothing is wrong, 1 otherwise (for monitoring)."""
    figures = collect(config.store.path, next_digest_at(config, SystemClock().now()))
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        running = f"running (pid {figures['pid']})" if figures["running"] else "NOT running"
        print(f"maild: {running}")
        print(f"  last successful poll: {figures['last_poll_at'] or '-'}")
        if figures["intake_error"]:
            print(_safe(f"  intake error: {figures['intake_error']}"))
        oldest = figures["oldest_unsent_at"] or "-"
        print(f"  outbox: {figures['outbox_pending']} waiting, oldest {oldest}")
        print(f"  quarantined: {figures['quarantined']}")
        by_priority = ", ".join(f"{k} {v}" for k, v in figures["open_by_priority"].items())
        print(f"  open tickets: {figures['open_tickets']} ({by_priority or 'none'})")
        print(f"  next digest: {figures['next_digest_at'] or 'none configured ([digest])'}")
        for kind, incident in figures["incidents"].items():
            print(_safe(f"  PROBLEM {kind} since {incident['since']}: {incident['error']}"))
    healthy = figures["running"] and not figures["incidents"]
    return EXIT_OK if healthy else EXIT_FAILED


def _once(config: Config, args: argparse.Namespace) -> int:
    clock: Clock = FixedClock(args.now) if args.now else SystemClock()
    with Store.open(config.store.path) as store:
        service = Service(config, store, clock)
        try:
            report = service.cycle()
        finally:
            service.close()
    out = report.outbox
    swept = ", ".join(f"{kind} {n}" for kind, n in sorted(report.sweep.sent.items())) or "nothing"
    print(
        f"taken in: {report.taken_in}; sent: {out.sent}, deferred: {out.deferred}, "
        f"failed: {out.failed}; sweep: {swept}"
    )
    if report.intake_error:
        print(f"maild: intake failed: {report.intake_error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _check(config: Config, args: argparse.Namespace) -> int:
    from maild.health import run_checks

    failures = 0
    for name, problem in run_checks(config):
        print(f"{name}: {'ok' if problem is None else problem}")
        failures += problem is not None
    return EXIT_FAILED if failures else EXIT_OK


def _tickets_list(config: Config, args: argparse.Namespace) -> int:
    with Store.open(config.store.path, readonly=True) as store:
        tickets = [_ticket_summary(t) for t in store.tickets(status=args.status)]
    if args.json:
        print(json.dumps(tickets, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not tickets:
        print("no tickets")
        return EXIT_OK
    print(
        f"{'ID':<10} {'STATUS':<9} {'PRIORITY':<9} {'MSGS':>4}  {'UPDATED':<20} CUSTOMER / SUBJECT"
    )
    for t in tickets:
        print(
            _safe(
                f"{t['id']:<10} {t['status']:<9} {t['priority']:<9} {t['message_count']:>4}  "
                f"{t['updated_at']:<20} {t['customer']}  {t['subject']}"
            )
        )
    return EXIT_OK


def _ticket_number(config: Config, text: str) -> int | None:
    numbers = ticket_numbers_in(f"[{text.lstrip('#')}]", config.support.ticket_prefix)
    return numbers[0] if numbers else int(text) if text.isascii() and text.isdigit() else None


def _tickets_change(config: Config, args: argparse.Namespace) -> int:
    number = _ticket_number(config, args.ticket)
    if number is None:
        print(f"maild: {args.ticket!r} is not a ticket id", file=sys.stderr)
        return EXIT_USAGE
    actor = f"cli:{getpass.getuser()}"
    command = {"change": args.change, "ticket": number, "actor": actor}
    if args.change == "reply":
        try:
            text = sys.stdin.read() if args.stdin else args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as e:
            print(f"maild: cannot read the reply: {e}", file=sys.stderr)
            return EXIT_USAGE
        command.update(value=text, agent=args.agent)
    else:
        command["value"] = getattr(args, "value", None) or getattr(args, "note", "")
    answer = commands.give(config, command, args.now or SystemClock().now())
    print(
        answer.message if answer.ok else f"maild: {answer.message}",
        file=sys.stdout if answer.ok else sys.stderr,
    )
    return EXIT_OK if answer.ok else EXIT_FAILED


def _tickets_search(config: Config, args: argparse.Namespace) -> int:
    with Store.open(config.store.path, readonly=True) as store:
        found = [_ticket_summary(t) for t in search(store, args.text)]
    return _print_rows(
        found,
        args.json,
        lambda t: f"{t['id']:<10} {t['status']:<9} {t['customer']}  {t['subject']}",
        "{} ticket(s)",
    )


def _print_rows(
    rows: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str], total: str
) -> int:
    """A listing: JSON for machines, else one safe line per row and the count."""
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    for row in rows:
        print(_safe(line(row)))
    print(total.format(len(rows)))
    return EXIT_OK


def _tickets_export(config: Config, args: argparse.Namespace) -> int:
    since = iso(args.since) if args.since else ""
    with Store.open(config.store.path, readonly=True) as store:
        rows = [_export_row(t) for t in store.tickets(archived=True) if t["updated_at"] >= since]
    if args.format == "jsonl":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return EXIT_OK
    writer = csv.DictWriter(sys.stdout, fieldnames=list(EXPORT_FIELDS))
    writer.writeheader()
    writer.writerows(rows)
    return EXIT_OK


EXPORT_FIELDS = (
    "id",
    "status",
    "priority",
    "category",
    "team",
    "assignee",
    "customer",
    "customer_name",
    "subject",
    "language",
    "created_at",
    "updated_at",
    "resolved_at",
    "closed_at",
    "message_count",
    "satisfaction",
    "confirmed",
    "linked_to",
    "merged_into",
    "archived_at",
)


def _export_row(ticket: dict[str, Any]) -> dict[str, Any]:
    return {field: ticket.get(field) for field in EXPORT_FIELDS}


def _tickets_show(config: Config, args: argparse.Namespace) -> int:
    number = _ticket_number(config, args.ticket)
    now = args.now or SystemClock().now()
    with Store.open(config.store.path, readonly=True) as store:
        ticket = store.ticket(number) if number is not None else None
        if ticket is None:
            print(f"maild: no ticket {args.ticket}", file=sys.stderr)
            return EXIT_FAILED
        messages = sorted(store.messages(number), key=lambda m: m["received_at"])
    shown = _ticket_detail(ticket, messages)
    shown["sla"] = sla_view(ticket, config, now)
    if args.json:
        print(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        _print_ticket(shown, config)
    return EXIT_OK


def _ticket_summary(ticket: dict[str, Any]) -> dict[str, Any]:
    """The JSON contract of `tickets list`: fields may be added, never renamed."""
    return {
        "id": ticket["id"],
        "status": ticket["status"],
        "priority": ticket["priority"],
        "category": ticket["category"],
        "customer": ticket["customer"],
        "customer_name": ticket.get("customer_name", ""),
        "team": ticket.get("team"),
        "subject": ticket["subject"],
        "language": ticket.get("language"),
        "created_at": ticket["created_at"],
        "updated_at": ticket["updated_at"],
        "message_count": ticket["message_count"],
        "assignee": ticket.get("assignee"),
        "satisfaction": ticket.get("satisfaction"),
        "confirmed": bool(ticket.get("confirmed")),
        "linked_to": ticket.get("linked_to"),
    }


def _ticket_detail(ticket: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    shown = _ticket_summary(ticket)
    shown["messages"] = [
        {
            "direction": m["direction"],
            "kind": m["kind"],
            "from": m["from"],
            "to": m["to"],
            "subject": m["subject"],
            "date": m.get("date") or m["received_at"],
            "received_at": m["received_at"],
            "message_id": m["message_id"],
            "text": m["text"],
            "attachments": [_attachment(a) for a in m.get("attachments", [])],
        }
        for m in messages
    ]
    shown["attachments"] = [a for m in shown["messages"] for a in m["attachments"]]
    shown["rules"] = ticket.get("rules", [])
    shown["events"] = [
        {"at": e["at"], "actor": e["actor"], "action": e["action"], "detail": e["detail"]}
        for e in ticket.get("events", [])
    ]
    return shown


def _attachment(stored: dict[str, Any]) -> dict[str, Any]:
    return {k: stored[k] for k in ("filename", "size", "content_type")}


def _local(stamp: str, zone: str) -> str:
    return wording.moment(datetime.fromisoformat(stamp), zone)


def describe_clock(clock: dict[str, Any], zone: str) -> str:
    """One line per commitment: due at, remaining or overdue by, running or paused or met."""
    name = clock["commitment"].replace("_", " ")
    due = _local(clock["due_at"], zone) if clock["due_at"] else "-"
    late = clock["remaining_s"] < 0
    left = wording.span(clock["remaining_s"], "en")
    if clock["state"] in ("met", "missed"):
        stopped = _local(clock["stopped_at"], zone)
        verdict = f"late by {left}" if late else f"{left} to spare"
        return f"{name:<16} {clock['state']} at {stopped} (due {due}, {verdict})"
    status = f"overdue by {left}" if late else f"{left} left"
    return f"{name:<16} due {due}, {status}, {clock['state']}"


# A customer's text must not drive the agent's terminal (escape sequences, bells, C1 controls).
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    return _TERMINAL_CONTROLS.sub("\N{REPLACEMENT CHARACTER}", text)


def _print_ticket(t: dict[str, Any], config: Config) -> None:
    print(_safe(f"{t['id']}  {t['subject']}"))
    print(
        f"  status {t['status']}, priority {t['priority']}, category {t['category']}, "
        f"team {t['team'] or '-'}"
    )
    name = t["customer_name"]
    print(_safe(f"  customer {name} <{t['customer']}>" if name else f"  customer {t['customer']}"))
    print(f"  opened {t['created_at']}, updated {t['updated_at']}")
    print(f"  assignee {t['assignee'] or '-'}, satisfaction {t['satisfaction'] or '-'}")
    print(_safe(f"  classified by: {'; '.join(t['rules']) or 'no rule (defaults)'}"))
    zone = config.support.timezone
    sla = t["sla"]
    print(f"  SLA policy {sla['policy']} ({sla['calendar']} calendar)")
    for clock in sla["clocks"]:
        print("    " + describe_clock(clock, zone))
    if sla["next_update_at"]:
        print(f"    customer update  due {_local(sla['next_update_at'], zone)}")
    print("  history:")
    for e in t["events"]:
        detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items() if v not in (None, "", []))
        print(_safe(f"    {_local(e['at'], zone)}  {e['action']:<16} {e['actor']}  {detail}"[:200]))
    for m in t["messages"]:
        arrow = "←" if m["direction"] == "in" else "→"
        print(_safe(f"\n{arrow} {m['date']}  {m['kind']}  {m['from']} → {', '.join(m['to'])}"))
        print(_safe(f"  {m['subject']}"))
        for a in m["attachments"]:
            print(_safe(f"  [attachment] {a['filename']} ({a['content_type']}, {a['size']} bytes)"))
        for line in m["text"].strip().splitlines()[:40]:
            print(_safe(f"  | {line}"))
