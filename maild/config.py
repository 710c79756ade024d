"""Load and validate maild's one TOML file.

Every problem is reported with the dotted key it concerns and what to do about it, all at once,
so an admin fixes a config in one pass instead of one error per start.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maild.calendar import AlwaysOpen, BusinessCalendar, Calendar, parse_days, parse_hours
from maild.classify import DEFAULT_RULES, PRIORITIES, Rule, Team
from maild.durations import Duration, parse_duration
from maild.periods import WEEKDAYS
from maild.sla import Escalation, EscalationLevel, Policy

DEFAULT_CONFIG_PATH = Path("/etc/maild/maild.toml")
CONFIG_ENV = "MAILD_CONFIG"

TLS_MODES = ("ssl", "starttls", "none")
INTAKE_MODES = ("imap", "lmtp", "smtp")
TRANSPORTS = ("smtp", "folder")
LANGUAGES = ("zh", "en")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PREFIX = re.compile(r"^[A-Za-z]{1,10}$")
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20}
_SIZE_UNITS.update({"gb": 10**9, "gib": 2**30})


class ConfigError(Exception):
    """The config file is missing or invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str], path: Path | None = None) -> None:
        self.problems = problems
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__("\n".join(f"{where}{p}" for p in problems))


@dataclass(frozen=True)
class SupportConfig:
    address: str
    name: str = "Support"
    ticket_prefix: str = "MD"
    language: str = "en"  # for customers whose language is unclear, and for staff mail
    timezone: str = "UTC"  # of the built-in "office" calendar and of times shown to staff


@dataclass(frozen=True)
class ImapConfig:
    host: str
    username: str
    password: str = field(repr=False)
    port: int = 993
    tls: str = "ssl"
    ca_file: Path | None = None
    folder: str = "INBOX"
    processed_folder: str | None = "maild/processed"
    quarantine_folder: str = "maild/quarantine"
    poll_seconds: float = 60.0
    idle: bool = True
    batch_size: int = 200
    timeout: float = 30.0


@dataclass(frozen=True)
class SmtpConfig:
    transport: str = "smtp"
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: str = "none"
    ca_file: Path | None = None
    folder: Path | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class StoreConfig:
    path: Path


@dataclass(frozen=True)
class IntakeConfig:
    mode: str = "imap"
    listen_host: str = "127.0.0.1"
    listen_port: int = 2525


@dataclass(frozen=True)
class LimitsConfig:
    """What one message may cost maild; over a budget, the message goes to quarantine."""

    message_bytes: int = 25 * 2**20
    auto_replies_per_hour: int = 5
    # Parse budgets: enforced while parsing, so hostile structure fails fast and alone.
    mime_depth: int = 32  # MIME and message/rfc822 nesting, counted together
    mime_parts: int = 1000  # parts in the whole tree, attached messages' parts included
    header_lines: int = 2000  # physical lines of one header block, folded ones included
    header_line_bytes: int = 64 * 2**10  # one header field, unfolded
    decoded_bytes: int = 100 * 2**20  # all parts decoded, attached messages included
    parse_seconds: float = 20.0  # wall time to parse one message
    # A message that crashed or hung maild this many times is quarantined without parsing.
    parse_attempts: int = 5
    # A sender whose mail opens `loop_tickets` tickets within `loop_window`, each with the same
    # text and none answered by an agent, is a mail loop: no more automatic answers to it.
    loop_tickets: int = 4
    loop_window: Duration = field(default_factory=lambda: Duration(1, "h"))


# The charter's commitments, used for any [sla.NAME] key left out: (first response, update
# interval, resolution, calendar). Urgent and important run round the clock; general issues and
# sensitive ones on the office calendar (5 working days to resolve a general issue).
DEFAULT_POLICIES = {
    "urgent": ("2h", "2h", "1d", "24x7"),
    "important": ("4h", "4h", "3d", "24x7"),
    "general": ("8h", "1d", "5d", "office"),
    "sensitive": ("2h", "4h", "2d", "office"),
}
ALWAYS = "24x7"
OFFICE = "office"
COMPLAINT_KEYS = ("address", "domain")
TRUST_MODES = ("authenticated", "always")


@dataclass(frozen=True)
class PagingConfig:
    """Who is paged the moment a ticket of these priorities opens."""

    to: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ("urgent",)


@dataclass(frozen=True)
class Agent:
    """A person who works tickets by mail: their commands and replies are trusted (see security)."""

    key: str  # the [agents.KEY] name, used in #assign KEY
    address: str
    name: str
    team: str | None


@dataclass(frozen=True)
class SecurityConfig:
    """When mail from an agent's address is really from the agent.

    "authenticated": our receiving server's Authentication-Results (authserv_id) shows DKIM,
    SPF or DMARC pass for the agent's domain. "always": the intake path is trusted already.
    """

    trust_agent_mail: str
    authserv_id: str


@dataclass(frozen=True)
class LifecycleConfig:
    """Wall-clock durations of the resolve → confirm → close → archive loop."""

    autoclose_after: Duration  # silence after a resolution closes the ticket
    reopen_within: Duration  # a reply to a closed ticket reopens it; later, a new linked ticket
    archive_after: Duration  # closed tickets leave the hot set
    survey_every: Duration  # at most one satisfaction survey per customer in this period


@dataclass(frozen=True)
class AdminConfig:
    """Who hears about maild's own trouble, and after how long it counts as an incident."""

    address: str | None
    intake_alert_after: Duration  # intake failing this long: one alert, then one recovery mail
    outbox_alert_after: Duration  # the oldest unsent mail this old: likewise
    quarantine_alert_every: Duration  # newly quarantined mail: one list, at most this often


@dataclass(frozen=True)
class ComplaintsConfig:
    """A customer with `tickets` tickets, or `complaints` complaints, within `within` raises an
    alert to the team lead (and `to`), once per window."""

    by: str
    tickets: int
    complaints: int
    within: Duration
    to: tuple[str, ...]


@dataclass(frozen=True)
class DigestList:
    """Who reads one edition, and in which language."""

    recipients: tuple[str, ...]
    language: str


@dataclass(frozen=True)
class DigestConfig:
    """The weekly (and optionally monthly) analysis digest to leadership."""

    lists: tuple[DigestList, ...]  # no recipients: no digest is scheduled
    weekday: int  # 0 = Monday
    hour: int
    timezone: str
    monthly: bool

    @property
    def enabled(self) -> bool:
        return any(digest_list.recipients for digest_list in self.lists)


@dataclass(frozen=True)
class Config:
    support: SupportConfig
    store: StoreConfig
    intake: IntakeConfig
    smtp: SmtpConfig
    limits: LimitsConfig
    rules: tuple[Rule, ...]
    teams: tuple[Team, ...]
    policies: dict[str, Policy]
    escalation: Escalation
    paging: PagingConfig
    complaints: ComplaintsConfig
    agents: tuple[Agent, ...]
    security: SecurityConfig
    lifecycle: LifecycleConfig
    admin: AdminConfig
    digest: DigestConfig
    imap: ImapConfig | None = None
    path: Path | None = None

    def policy_for(self, priority: str, category: str) -> Policy:
        """Urgent is the tightest promise; else a category with its own policy; else priority.

        A category named like a priority ("general", the default category) has no policy of
        its own: [sla.general] is the general priority's.
        """
        if priority != "urgent" and category not in PRIORITIES and category in self.policies:
            return self.policies[category]
        return self.policies[priority]

    def team(self, name: str | None) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def agent(self, key_or_address: str | None) -> Agent | None:
        """The agent with this [agents] key or address (any case)."""
        wanted = (key_or_address or "").lower()
        return next((a for a in self.agents if wanted in (a.key.lower(), a.address)), None)


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config`, else `$MAILD_CONFIG`, else /etc/maild/maild.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH


def load_config(path: Path) -> Config:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(
            [f"no config file here; copy config.example.toml to {path} or pass --config FILE"],
            path,
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"not valid TOML: {e}"], path) from None
    return parse_config(data, path=path)


def parse_config(data: dict[str, Any], *, path: Path | None = None) -> Config:
    """Validate a parsed TOML document; raises ConfigError listing every problem."""
    problems: list[str] = []
    root = _Table(data, "", problems)

    support_t = root.table("support", required=True)
    address = support_t.address("address", required=True)
    support = SupportConfig(
        address=address or "invalid@invalid.invalid",
        name=support_t.string("name", "Support"),
        ticket_prefix=support_t.string(
            "ticket_prefix", "MD", pattern=_PREFIX, hint="1-10 letters, e.g. MD"
        ).upper(),
        language=support_t.choice("language", LANGUAGES, "en"),
        timezone=support_t.timezone("timezone", "UTC"),
    )
    support_t.reject_unknown()

    store_t = root.table("store", required=True)
    store = StoreConfig(path=Path(store_t.string("path", "", required=True)).expanduser())
    store_t.reject_unknown()

    intake_t = root.table("intake")
    mode = intake_t.choice("mode", INTAKE_MODES, "imap")
    host, port = intake_t.host_port("listen", "127.0.0.1:2525")
    intake = IntakeConfig(mode=mode, listen_host=host, listen_port=port)
    intake_t.reject_unknown()

    limits_t = root.table("limits")
    limits = LimitsConfig(
        message_bytes=limits_t.size("message_size", "25MiB"),
        auto_replies_per_hour=limits_t.integer("auto_replies_per_hour", 5, low=0),
        mime_depth=limits_t.integer("mime_depth", 32, low=1),
        mime_parts=limits_t.integer("mime_parts", 1000, low=1),
        header_lines=limits_t.integer("header_lines", 2000, low=10),
        header_line_bytes=limits_t.size("header_line_size", "64KiB"),
        decoded_bytes=limits_t.size("decoded_size", "100MiB"),
        parse_seconds=limits_t.number("parse_seconds", 20.0, low=0.1),
        parse_attempts=limits_t.integer("parse_attempts", 5, low=1),
        loop_tickets=limits_t.integer("loop_tickets", 4, low=2),
        loop_window=limits_t.duration("loop_window", "1h"),
    )
    limits_t.reject_unknown()

    imap = None
    imap_t = root.table("imap", required=(mode == "imap"), why='[intake] mode = "imap"')
    if imap_t.present:
        tls = imap_t.choice("tls", TLS_MODES, "ssl")
        imap = ImapConfig(
            host=imap_t.string("host", "", required=True),
            port=imap_t.port("port", 993 if tls == "ssl" else 143),
            username=imap_t.string("username", "", required=True),
            password=imap_t.secret(required=True) or "",
            tls=tls,
            ca_file=imap_t.existing_file("ca_file"),
            folder=imap_t.string("folder", "INBOX"),
            processed_folder=imap_t.string("processed_folder", "maild/processed") or None,
            quarantine_folder=imap_t.string("quarantine_folder", "maild/quarantine"),
            poll_seconds=imap_t.number("poll_seconds", 60.0, low=1.0),
            idle=imap_t.boolean("idle", True),
            batch_size=imap_t.integer("batch_size", 200, low=1),
            timeout=imap_t.number("timeout", 30.0, low=1.0),
        )
        if imap.quarantine_folder in (imap.folder, imap.processed_folder):
            problems.append("imap.quarantine_folder: must differ from folder and processed_folder")
        if imap.processed_folder == imap.folder:
            problems.append('imap.processed_folder: must differ from folder (or "" to keep mail)')
        imap_t.reject_unknown()

    smtp_t = root.table("smtp", required=True)
    transport = smtp_t.choice("transport", TRANSPORTS, "smtp")
    smtp_tls = smtp_t.choice("tls", TLS_MODES, "starttls")
    folder = smtp_t.string("folder", "", required=(transport == "folder"))
    smtp = SmtpConfig(
        transport=transport,
        host=smtp_t.string("host", "localhost"),
        port=smtp_t.port("port", {"ssl": 465, "starttls": 587, "none": 25}[smtp_tls]),
        username=smtp_t.string("username", "") or None,
        password=smtp_t.secret(required=False),
        tls=smtp_tls,
        ca_file=smtp_t.existing_file("ca_file"),
        folder=Path(folder).expanduser() if folder else None,
        timeout=smtp_t.number("timeout", 30.0, low=1.0),
    )
    if smtp.username and smtp.password is None:
        problems.append(
            "smtp.password: username is set, so set password, password_file or password_env"
        )
    smtp_t.reject_unknown()

    calendars = _calendars(root.table("calendars"), support.timezone)
    policies = _policies(root.table("sla"), calendars)
    teams = _teams(root.table("teams"))
    rules = _rules(root.table("classify"), policies)
    escalation, paging = _escalation(root.table("escalation"))
    complaints = _complaints(root.table("complaints"))
    agents = _agents(root.table("agents"), teams)
    security = _security(root.table("security"), agents)
    lifecycle_t = root.table("lifecycle")
    lifecycle = LifecycleConfig(
        autoclose_after=lifecycle_t.duration("autoclose_after", "5d"),
        reopen_within=lifecycle_t.duration("reopen_within", "30d"),
        archive_after=lifecycle_t.duration("archive_after", "90d"),
        survey_every=lifecycle_t.duration("survey_every", "30d"),
    )
    lifecycle_t.reject_unknown()
    admin_t = root.table("admin")
    admin = AdminConfig(
        address=admin_t.address("address") or None,
        intake_alert_after=admin_t.duration("intake_alert_after", "15m"),
        outbox_alert_after=admin_t.duration("outbox_alert_after", "1h"),
        quarantine_alert_every=admin_t.duration("quarantine_alert_every", "1h"),
    )
    admin_t.reject_unknown()
    digest = _digest(root.table("digest"), support)

    root.reject_unknown()
    if problems:
        raise ConfigError(problems, path)
    return Config(
        support=support,
        store=store,
        intake=intake,
        smtp=smtp,
        limits=limits,
        imap=imap,
        rules=rules,
        teams=teams,
        policies=policies,
        escalation=escalation,
        paging=paging,
        complaints=complaints,
        agents=agents,
        security=security,
        lifecycle=lifecycle,
        admin=admin,
        digest=digest,
        path=path,
    )


def _calendars(table: _Table, default_timezone: str) -> dict[str, Calendar]:
    """[calendars.NAME]; "24x7" is built in, and "office" unless the config defines it."""
    calendars: dict[str, Calendar] = {ALWAYS: AlwaysOpen(ALWAYS)}
    defined = table.tables()
    if ALWAYS in defined:
        table._problem(ALWAYS, '"24x7" is built in (always open); pick another name')
        del defined[ALWAYS]
    if OFFICE not in defined:
        defined[OFFICE] = _Table({}, table._key(OFFICE), table.problems)
    for name, t in defined.items():
        zone = t.timezone("timezone", default_timezone)
        days = t.parsed("days", "mon-fri", parse_days)
        hours = t.parsed("hours", "09:00-18:00", parse_hours)
        country = t.string("holidays", "") or None
        extra_holidays = t.dates("extra_holidays")
        extra_workdays = t.dates("extra_workdays")
        t.reject_unknown()
        try:
            calendars[name] = BusinessCalendar(
                name=name,
                timezone=ZoneInfo(zone),
                days=days,
                hours=hours,
                holidays_country=country,
                extra_holidays=extra_holidays,
                extra_workdays=extra_workdays,
            )
        except ValueError as e:  # no working days, or a country the holidays library lacks
            t.problems.append(f"{t.name}: {e}")
    return calendars


def _policies(table: _Table, calendars: dict[str, Calendar]) -> dict[str, Policy]:
    """[sla.NAME] for each priority (and any category); absent keys take the charter's values."""
    defined = table.tables()
    policies: dict[str, Policy] = {}
    for name in dict.fromkeys([*DEFAULT_POLICIES, *defined]):
        t = defined.get(name) or _Table({}, table._key(name), table.problems)
        first, update, resolve, calendar = DEFAULT_POLICIES.get(name, DEFAULT_POLICIES["general"])
        calendar_name = t.string("calendar", calendar)
        if calendar_name not in calendars:
            known = ", ".join(map(repr, calendars))
            t._problem(
                "calendar",
                f"no calendar {calendar_name!r}; define [calendars.{calendar_name}] "
                f"or use one of {known}",
            )
            calendar_name = ALWAYS
        policies[name] = Policy(
            name=name,
            first_response=t.duration("first_response", first),
            update_every=t.duration("update_every", update),
            resolve=t.duration("resolve", resolve),
            calendar=calendars[calendar_name],
        )
        t.reject_unknown()
    return policies


def _teams(table: _Table) -> tuple[Team, ...]:
    teams: list[Team] = []
    claimed: dict[str, str] = {}
    for name, t in table.tables().items():
        recipients = t.addresses("address")
        if not recipients:
            t._problem(
                "address", "required: the team's address, or a list of its agents' addresses"
            )
        categories = t.strings("categories")
        for category in categories:
            if category in claimed:
                t._problem(
                    "categories", f"{category!r} is already routed to team {claimed[category]!r}"
                )
            claimed.setdefault(category, name)
        lead = t.address("lead") or None
        t.reject_unknown()
        teams.append(Team(name=name, recipients=recipients, lead=lead, categories=categories))
    return tuple(teams)


def _rules(table: _Table, policies: dict[str, Policy]) -> tuple[Rule, ...]:
    """[[classify.rules]] first, then the shipped rules unless default_rules = false."""
    use_defaults = table.boolean("default_rules", True)
    rules: list[Rule] = []
    for index, t in enumerate(table.table_list("rules")):
        name = t.string("name", f"rule {index + 1}")
        priority = t.choice("priority", PRIORITIES, "") or None
        category = t.string("category", "") or None
        regex = t.string("regex", "") or None
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as e:
                t._problem("regex", f"not a valid regular expression: {e}")
                regex = None
        rule = Rule(
            name=name,
            priority=priority,
            category=category,
            subject=t.strings("subject"),
            body=t.strings("body"),
            text=t.strings("text"),
            regex=regex,
            from_domains=tuple(d.lower().lstrip("@") for d in t.strings("from_domains")),
            to=t.addresses("to"),
            complaint=t.boolean("complaint", False),
        )
        if not (
            rule.subject or rule.body or rule.text or rule.regex or rule.from_domains or rule.to
        ):
            t._problem(
                "name",
                f"rule {name!r} looks at nothing: "
                "give subject, body, text, regex, from_domains or to",
            )
        if not (rule.priority or rule.category or rule.complaint):
            t._problem(
                "name", f"rule {name!r} sets nothing: give priority, category or complaint = true"
            )
        t.reject_unknown()
        rules.append(rule)
    table.reject_unknown()
    return (*rules, *(DEFAULT_RULES if use_defaults else ()))


def _escalation(table: _Table) -> tuple[Escalation, PagingConfig]:
    warn_at = table.number("warn_at", 0.75, low=0.0)
    if not 0 < warn_at < 1:
        table._problem("warn_at", f"must be a fraction between 0 and 1 (e.g. 0.75), got {warn_at}")
        warn_at = 0.75
    levels: list[EscalationLevel] = []
    for t in table.table_list("levels"):
        level = EscalationLevel(after=t.duration("after", "0m"), to=t.addresses("to"))
        if levels and level.after.seconds(86400) < levels[-1].after.seconds(86400):
            t._problem("after", "levels must come in order of their delay")
        t.reject_unknown()
        levels.append(level)
    paging = PagingConfig(
        to=table.addresses("page"),
        priorities=tuple(
            p for p in table.strings("page_priorities", ("urgent",)) if _known_priority(table, p)
        ),
    )
    table.reject_unknown()
    return Escalation(warn_at=warn_at, levels=tuple(levels)), paging


def _known_priority(table: _Table, priority: str) -> bool:
    if priority not in PRIORITIES:
        table._problem("page_priorities", f"{priority!r} is not one of {', '.join(PRIORITIES)}")
        return False
    return True


def _agents(table: _Table, teams: tuple[Team, ...]) -> tuple[Agent, ...]:
    agents: list[Agent] = []
    for key, t in table.tables().items():
        address = t.address("address", required=True)
        team = t.string("team", "") or None
        if team is not None and not any(x.name == team for x in teams):
            known = ", ".join(x.name for x in teams) or "none defined"
            t._problem("team", f"no [teams.{team}] (teams: {known})")
        agent = Agent(key=key, address=address, name=t.string("name", key), team=team)
        if any(a.address == address for a in agents):
            t._problem("address", f"{address} is already another agent's address")
        t.reject_unknown()
        agents.append(agent)
    return tuple(agents)


def _security(table: _Table, agents: tuple[Agent, ...]) -> SecurityConfig:
    trust = table.choice("trust_agent_mail", TRUST_MODES, "authenticated")
    authserv_id = table.string("authserv_id", "")
    if agents and trust == "authenticated" and not authserv_id:
        table._problem(
            "authserv_id",
            'required with agents and trust_agent_mail = "authenticated": the id your '
            "receiving server writes first in Authentication-Results (e.g. mx.example.com)",
        )
    table.reject_unknown()
    return SecurityConfig(trust_agent_mail=trust, authserv_id=authserv_id.lower())


def _complaints(table: _Table) -> ComplaintsConfig:
    complaints = ComplaintsConfig(
        by=table.choice("by", COMPLAINT_KEYS, "address"),
        tickets=table.integer("tickets", 5, low=1),
        complaints=table.integer("complaints", 2, low=1),
        within=table.duration("within", "7d"),
        to=table.addresses("to"),
    )
    table.reject_unknown()
    return complaints


def _digest(table: _Table, support: SupportConfig) -> DigestConfig:
    """[digest]: the main list (recipients, language) plus [[digest.lists]] in other languages."""
    lists = [DigestList(table.addresses("recipients"), table.choice("language", LANGUAGES, "zh"))]
    for extra in table.table_list("lists"):
        lists.append(
            DigestList(extra.addresses("recipients"), extra.choice("language", LANGUAGES, "en"))
        )
        if not lists[-1].recipients:
            extra._problem("recipients", "list at least one address, or remove this list")
        extra.reject_unknown()
    weekday = table.choice("weekday", WEEKDAYS, "mon")
    digest = DigestConfig(
        lists=tuple(lists),
        weekday=WEEKDAYS.index(weekday),
        hour=table.integer("hour", 9, low=0),
        timezone=table.timezone("timezone", support.timezone),
        monthly=table.boolean("monthly", False),
    )
    if digest.hour > 23:
        table._problem("hour", f"{digest.hour} is not an hour of the day: use 0-23 (9 is 09:00)")
    table.reject_unknown()
    return digest


class _Table:
    """Typed reads from one TOML table that record a problem instead of raising.

    Every key the code reads is known; `reject_unknown` reports the rest, so the list of valid
    keys is the code itself and cannot drift from it.
    """

    def __init__(self, data: Any, name: str, problems: list[str], present: bool = True) -> None:
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.name = name
        self.problems = problems
        self.present = present
        self.known: list[str] = []

    def _key(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def _problem(self, key: str, text: str) -> None:
        self.problems.append(f"{self._key(key)}: {text}")

    def _shown(self, key: str, value: Any) -> str:
        """The value as a problem quotes it; for a secret only its kind, since config problems
        go to logs, terminals and bug reports."""
        if _SECRET_KEY.search(self._key(key)) or _holds_secret(value):
            return f"{_kind_of(value)}{_HIDDEN}"
        return repr(value)

    def _get(self, key: str, kind: type | tuple[type, ...], kind_name: str) -> Any:
        self.known.append(key)
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self._problem(key, f"expected {kind_name}, got a boolean")
            return None
        if not isinstance(value, kind):
            self._problem(key, f"expected {kind_name}, got {self._shown(key, value)}")
            return None
        return value

    def table(self, key: str, required: bool = False, why: str = "") -> _Table:
        self.known.append(key)
        value = self.data.get(key)
        if value is None:
            if required:
                because = f" (needed because {why})" if why else ""
                self.problems.append(f"[{self._key(key)}]: section missing{because}")
            return _Table({}, self._key(key), self.problems, present=False)
        if not isinstance(value, dict):
            self._problem(key, f"expected a [table], got {self._shown(key, value)}")
            return _Table({}, self._key(key), self.problems, present=False)
        return _Table(value, self._key(key), self.problems)

    def tables(self) -> dict[str, _Table]:
        """Every sub-table, for sections keyed by a name of the admin's choosing."""
        found: dict[str, _Table] = {}
        for key, value in self.data.items():
            self.known.append(key)
            if isinstance(value, dict):
                found[key] = _Table(value, self._key(key), self.problems)
            else:
                self._problem(
                    key, f"expected a [{self._key(key)}] table, got {self._shown(key, value)}"
                )
        return found

    def table_list(self, key: str) -> list[_Table]:
        """An array of tables ([[key]] or key = [{...}, ...])."""
        value = self._get(key, list, "a list of tables")
        if value is None:
            return []
        tables = []
        for index, item in enumerate(value):
            name = f"{self._key(key)}[{index}]"
            if isinstance(item, dict):
                tables.append(_Table(item, name, self.problems))
            else:
                self.problems.append(f"{name}: expected a table, got {self._shown(key, item)}")
        return tables

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A list of strings; a single string is taken as a list of one."""
        self.known.append(key)
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._problem(key, f"expected a list of strings, got {self._shown(key, value)}")
            return default
        return tuple(value)

    def addresses(self, key: str) -> tuple[str, ...]:
        found = []
        for value in self.strings(key):
            if _ADDRESS.match(value):
                found.append(value.lower())
            else:
                self._problem(
                    key, f"{self._shown(key, value)} is not an email address like lead@example.com"
                )
        return tuple(found)

    def duration(self, key: str, default: str) -> Duration:
        return self.parsed(key, default, parse_duration)

    def parsed(self, key: str, default: str, parse: Any) -> Any:
        """A string turned into a value by `parse`, whose ValueError says what is expected."""
        value = self.string(key, default)
        try:
            return parse(value)
        except ValueError as e:
            shown = self._shown(key, value)
            self._problem(key, str(e) if shown == repr(value) else f"{shown} is not valid")
            return parse(default)

    def timezone(self, key: str, default: str) -> str:
        value = self.string(key, default)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self._problem(
                key,
                f"{self._shown(key, value)} is not an IANA time zone such as Asia/Shanghai or UTC",
            )
            return default
        return value

    def dates(self, key: str) -> frozenset[date]:
        """A list of ISO dates ("2027-02-06") or TOML dates."""
        self.known.append(key)
        value = self.data.get(key)
        if value is None:
            return frozenset()
        if not isinstance(value, list):
            shown = self._shown(key, value)
            self._problem(key, f'expected a list of dates such as ["2027-02-06"], got {shown}')
            return frozenset()
        found = set()
        for item in value:
            try:
                found.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
            except ValueError:
                self._problem(key, f"{self._shown(key, item)} is not a date such as 2027-02-06")
        return frozenset(found)

    def reject_unknown(self) -> None:
        known = list(dict.fromkeys(self.known))
        for key in self.data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
                self._problem(key, f"unknown key{hint}")

    def string(
        self,
        key: str,
        default: str,
        *,
        required: bool = False,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> str:
        value = self._get(key, str, "a string")
        if value is None:
            if required and key not in self.data:
                self._problem(key, "required; set it in the config file")
            return default
        if pattern is not None and not pattern.match(value):
            self._problem(key, f"{self._shown(key, value)} is not valid ({hint})")
            return default
        return value

    def address(self, key: str, *, required: bool = False) -> str:
        value = self.string(key, "", required=required)
        if value and not _ADDRESS.match(value):
            self._problem(
                key, f"{self._shown(key, value)} is not an email address like support@example.com"
            )
            return ""
        return value.lower()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._get(key, str, "a string")
        if value is None:
            return default
        if value not in choices:
            self._problem(
                key, f"{self._shown(key, value)} is not one of {', '.join(map(repr, choices))}"
            )
            return default
        return value

    def integer(self, key: str, default: int, *, low: int | None = None) -> int:
        value = self._get(key, int, "a whole number")
        if value is None:
            return default
        if low is not None and value < low:
            self._problem(key, f"must be at least {low}, got {self._shown(key, value)}")
            return default
        return value

    def number(self, key: str, default: float, *, low: float | None = None) -> float:
        value = self._get(key, (int, float), "a number")
        if value is None:
            return default
        if low is not None and value < low:
            self._problem(key, f"must be at least {low}, got {self._shown(key, value)}")
            return default
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        self.known.append(key)
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._problem(key, f"expected true or false, got {self._shown(key, value)}")
            return default
        return value

    def port(self, key: str, default: int) -> int:
        value = self._get(key, int, "a port number")
        if value is None:
            return default
        if not 1 <= value <= 65535:
            self._problem(key, f"must be a port number 1-65535, got {self._shown(key, value)}")
            return default
        return value

    def host_port(self, key: str, default: str) -> tuple[str, int]:
        value = self.string(key, default)
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            self._problem(key, f"{self._shown(key, value)} is not host:port, e.g. 127.0.0.1:2525")
            host, _, port = default.rpartition(":")
        return host.strip("[]"), int(port)

    def size(self, key: str, default: str) -> int:
        self.known.append(key)
        raw = self.data.get(key, default)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        match = _SIZE.match(raw) if isinstance(raw, str) else None
        if not match:
            self._problem(
                key, f"{self._shown(key, raw)} is not a size such as 25MiB, 10MB or 1048576"
            )
            raw, match = default, _SIZE.match(default)
            assert match
        return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()]

    def existing_file(self, key: str) -> Path | None:
        value = self.string(key, "")
        if not value:
            return None
        path = Path(value).expanduser()
        if not path.is_file():
            self._problem(key, f"file {self._shown(key, value)} does not exist or is not readable")
        return path

    def secret(self, *, required: bool) -> str | None:
        """password, password_file or password_env: exactly one; the value is never echoed."""
        keys = ("password", "password_file", "password_env")
        self.known.extend(keys)
        given = [k for k in keys if k in self.data]
        if len(given) > 1:
            self._problem(given[1], f"set only one of {', '.join(given)}")
            return None
        if not given:
            if required:
                self._problem("password", "required; set password, password_file or password_env")
            return None
        key = given[0]
        value = self._get(key, str, "a string")
        if value is None:
            return None
        if key == "password":
            return value
        if key == "password_env":
            if value not in os.environ:
                self._problem(key, f"names an environment variable that is not set{_HIDDEN}")
                return None
            return os.environ[value]
        try:
            return Path(value).expanduser().read_text(encoding="utf-8").strip("\r\n")
        except OSError as e:
            self._problem(key, f"cannot read the file it names: {e.strerror}{_HIDDEN}")
            return None


# Keys (or tables) whose values may be credentials: their values never appear in a problem.
_HIDDEN = " (value not shown: it is a secret)"
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)|secret|token|api_?key|private_?key|credential", re.IGNORECASE
)


def _holds_secret(value: Any) -> bool:
    """Whether a misplaced table or list carries a secret-named key somewhere inside it."""
    if isinstance(value, dict):
        return any(_SECRET_KEY.search(str(k)) or _holds_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_secret(item) for item in value)
    return False


def _kind_of(value: Any) -> str:
    """What a value is, in the words of the config file, for a problem that cannot quote it."""
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "a boolean"),
        ((int, float), "a number"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a table"),
        (date, "a date"),
    )
    return next((name for kind, name in kinds if isinstance(value, kind)), "a value")
