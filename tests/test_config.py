"""Config validation: every problem is reported with its key and a fix."""

import re
from pathlib import Path

import pytest

from maild.config import ConfigError, _Table, config_path, load_config, parse_config

MINIMAL = {
    "support": {"address": "support@example.com"},
    "store": {"path": "/tmp/maild-test"},
    "intake": {"mode": "smtp", "listen": "127.0.0.1:2525"},
    "smtp": {"host": "localhost"},
}


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return caught.value.problems


def test_minimal_config_has_charter_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.support.ticket_prefix == "MD"
    assert config.support.language == "en"
    assert config.smtp.tls == "starttls" and config.smtp.port == 587
    assert config.limits.message_bytes == 25 * 2**20
    assert config.imap is None


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILD_IMAP_PASSWORD", "secret")
    monkeypatch.setenv("MAILD_SMTP_PASSWORD", "secret")
    config = load_config(Path(__file__).parent.parent / "config.example.toml")
    assert config.imap is not None and config.imap.password == "secret"
    assert config.intake.mode == "imap"


def test_every_problem_named_by_key() -> None:
    found = problems(
        {
            "support": {"address": "not-an-address", "language": "fr", "ticket_prefix": "M-D"},
            "store": {},
            "intake": {"mode": "pop3", "listen": "nowhere"},
            "smtp": {"port": 70000, "tls": "yes"},
            "limits": {"message_size": "huge"},
        }
    )
    text = "\n".join(found)
    for key in (
        "support.address",
        "support.language",
        "support.ticket_prefix",
        "store.path",
        "intake.mode",
        "intake.listen",
        "smtp.port",
        "smtp.tls",
        "limits.message_size",
    ):
        assert key in text, f"{key} not reported in:\n{text}"


def test_unknown_key_suggests_the_right_one() -> None:
    data = {**MINIMAL, "smtp": {"hots": "x"}}
    assert problems(data) == ["smtp.hots: unknown key; did you mean 'host'?"]


def test_imap_section_required_in_imap_mode() -> None:
    data = {**MINIMAL, "intake": {"mode": "imap"}}
    assert any("[imap]" in p and "mode" in p for p in problems(data))


def test_password_from_env_file_or_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("PW", "from-env")
    base = {"host": "imap.example.com", "username": "u"}
    for given, expected in (
        ({"password": "pw-in-the-file"}, "pw-in-the-file"),
        ({"password_file": str(secret_file)}, "from-file"),
        ({"password_env": "PW"}, "from-env"),
    ):
        config = parse_config({**MINIMAL, "imap": {**base, **given}})
        assert config.imap is not None and config.imap.password == expected
        assert expected not in repr(config)


def test_password_problems() -> None:
    base = {"host": "imap.example.com", "username": "u"}
    both = problems({**MINIMAL, "imap": {**base, "password": "a", "password_env": "B"}})
    assert any("set only one" in p for p in both)
    missing = problems({**MINIMAL, "imap": {**base, "password_env": "NOT_SET_ANYWHERE_42"}})
    assert missing == [
        "imap.password_env: names an environment variable that is not set"
        " (value not shown: it is a secret)"
    ]
    none = problems({**MINIMAL, "imap": base})
    assert any(p.startswith("imap.password:") for p in none)


def test_folder_transport_needs_folder() -> None:
    assert any("smtp.folder" in p for p in problems({**MINIMAL, "smtp": {"transport": "folder"}}))


def test_sizes() -> None:
    for text, expected in (("10MB", 10**7), ("1MiB", 2**20), ("512", 512), (2048, 2048)):
        config = parse_config({**MINIMAL, "limits": {"message_size": text}})
        assert config.limits.message_bytes == expected


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"copy config\.example\.toml"):
        load_config(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[support\naddress=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILD_CONFIG", raising=False)
    assert config_path(None) == Path("/etc/maild/maild.toml")
    monkeypatch.setenv("MAILD_CONFIG", "/srv/m.toml")
    assert config_path(None) == Path("/srv/m.toml")
    assert config_path("/x.toml") == Path("/x.toml")


def test_sla_defaults_follow_the_charter() -> None:
    config = parse_config(MINIMAL)
    hours = {
        name: (p.target("first_response") / 3600, p.calendar.name)
        for name, p in config.policies.items()
    }
    assert hours == {
        "urgent": (2, "24x7"),
        "important": (4, "24x7"),
        "general": (8, "office"),
        "sensitive": (2, "office"),
    }
    general = config.policies["general"]
    assert general.target("resolve") == 5 * 9 * 3600  # 5 working days of 09:00-18:00
    assert config.escalation.warn_at == 0.75 and config.escalation.levels == ()
    assert [r.name for r in config.rules][:3] == ["complaint", "legal-privacy-press", "outage"]
    assert config.policy_for("important", "sensitive").name == "sensitive"
    assert config.policy_for("urgent", "sensitive").name == "urgent"
    assert config.policy_for("important", "general").name == "important"


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ({"sla": {"urgent": {"first_response": "2x"}}}, "sla.urgent.first_response: '2x' is not"),
        ({"sla": {"general": {"calendar": "shop"}}}, "sla.general.calendar: no calendar 'shop'"),
        ({"sla": {"urgent": {"respond": "1h"}}}, "sla.urgent.respond: unknown key"),
        ({"calendars": {"shop": {"days": "mon-fry"}}}, "calendars.shop.days:"),
        ({"calendars": {"shop": {"hours": "18:00-09:00"}}}, "calendars.shop.hours:"),
        ({"calendars": {"shop": {"timezone": "Mars/Base"}}}, "calendars.shop.timezone:"),
        ({"calendars": {"shop": {"holidays": "XX"}}}, "calendars.shop: "),
        ({"calendars": {"shop": {"extra_holidays": ["2027-13-01"]}}}, "is not a date"),
        ({"calendars": {"24x7": {}}}, '"24x7" is built in'),
        ({"teams": {"a": {"lead": "x@example.com"}}}, "teams.a.address: required"),
        ({"teams": {"a": {"address": "not-an-address"}}}, "is not an email address"),
        (
            {"teams": {"a": {"address": "a@x.io", "categories": ["billing"]},
                       "b": {"address": "b@x.io", "categories": ["billing"]}}},
            "'billing' is already routed to team 'a'",
        ),
        ({"escalation": {"warn_at": 1.5}}, "escalation.warn_at: must be a fraction"),
        (
            {"escalation": {"levels": [{"after": "2h", "to": []}, {"after": "1h", "to": []}]}},
            "levels must come in order",
        ),
        ({"escalation": {"page_priorities": ["asap"]}}, "'asap' is not one of"),
        ({"classify": {"rules": [{"name": "x", "priority": "urgent"}]}}, "looks at nothing"),
        ({"classify": {"rules": [{"name": "x", "text": ["a"]}]}}, "sets nothing"),
        ({"classify": {"rules": [{"regex": "(", "priority": "urgent"}]}}, "not a valid regular"),
        ({"classify": {"rules": [{"text": ["a"], "priority": "high"}]}}, "'high' is not one of"),
        ({"complaints": {"by": "company"}}, "complaints.by: 'company' is not one of"),
        ({"support": {"address": "s@x.io", "timezone": "CST"}}, "support.timezone:"),
    ],
)  # fmt: skip
def test_sla_config_problems_name_the_key(tables: dict, expected: str) -> None:
    found = problems({**MINIMAL, **tables})
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ({"agents": {"a": {"name": "A"}}}, "agents.a.address: required"),
        (
            {"agents": {"a": {"address": "a@x.io"}}},
            "security.authserv_id: required with agents",
        ),
        (
            {"agents": {"a": {"address": "a@x.io", "team": "nope"}},
             "security": {"trust_agent_mail": "always"}},
            "agents.a.team: no [teams.nope]",
        ),
        ({"security": {"trust_agent_mail": "sometimes"}}, "'sometimes' is not one of"),
        ({"lifecycle": {"autoclose_after": "soon"}}, "lifecycle.autoclose_after: 'soon'"),
        ({"lifecycle": {"archive": "90d"}}, "lifecycle.archive: unknown key"),
    ],
)  # fmt: skip
def test_agent_config_problems_name_the_key(tables: dict, expected: str) -> None:
    found = problems({**MINIMAL, **tables})
    assert any(expected in p for p in found), found


def test_agents_are_found_by_name_or_address() -> None:
    config = parse_config(
        {
            **MINIMAL,
            "agents": {"alice": {"address": "Alice@Example.com", "name": "Alice Wang"}},
            "security": {"authserv_id": "MX.example.com"},
        }
    )
    assert config.agent("alice") == config.agent("alice@example.com") == config.agents[0]
    assert config.agents[0].address == "alice@example.com"
    assert config.security.authserv_id == "mx.example.com"
    assert config.lifecycle.autoclose_after.seconds(86400) == 5 * 86400


def test_digest_defaults_and_lists() -> None:
    config = parse_config(MINIMAL)
    assert not config.digest.enabled  # no recipients: no digest is scheduled
    assert (config.digest.weekday, config.digest.hour, config.digest.monthly) == (0, 9, False)
    assert config.digest.timezone == "UTC"  # [support] timezone
    data = {
        **MINIMAL,
        "digest": {
            "recipients": ["CEO@example.com"], "weekday": "fri", "hour": 17,
            "lists": [{"recipients": ["board@example.com"], "language": "en"}],
        },
    }  # fmt: skip
    config = parse_config(data)
    assert config.digest.enabled and (config.digest.weekday, config.digest.hour) == (4, 17)
    assert [(d.recipients, d.language) for d in config.digest.lists] == [
        (("ceo@example.com",), "zh"), (("board@example.com",), "en")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("digest", "expected"),
    [
        ({"weekday": "monday"}, "digest.weekday: 'monday' is not one of 'mon'"),
        ({"hour": 24}, "digest.hour: 24 is not an hour of the day: use 0-23"),
        ({"language": "fr"}, "digest.language: 'fr' is not one of 'zh', 'en'"),
        ({"recipients": ["not-an-address"]}, "digest.recipients: 'not-an-address' is not an"),
        ({"timezone": "Mars/Olympus"}, "digest.timezone: 'Mars/Olympus' is not an IANA"),
        ({"lists": [{"language": "en"}]}, "digest.lists[0].recipients: list at least one"),
        ({"monthy": True}, "digest.monthy: unknown key; did you mean 'monthly'?"),
    ],
)
def test_digest_problems_name_the_key(digest: dict, expected: str) -> None:
    found = problems({**MINIMAL, "digest": digest})
    assert any(p.startswith(expected) for p in found), found


SECRET = "hunter2-Sup3r"


@pytest.mark.parametrize(
    ("imap", "expected"),
    [
        ({"password": [SECRET]}, "imap.password: expected a string, got a list (value not shown"),
        ({"password": {"v": SECRET}}, "imap.password: expected a string, got a table (value not"),
        ({"password": 12345}, "imap.password: expected a string, got a number (value not shown"),
        ({"password_env": [SECRET]}, "imap.password_env: expected a string, got a list (value"),
        ({"password_env": SECRET}, "imap.password_env: names an environment variable that is not"),
        ({"password_file": SECRET}, "imap.password_file: cannot read the file it names: No such"),
    ],
)
def test_secret_values_are_never_echoed(imap: dict, expected: str) -> None:
    base = {"host": "imap.example.com", "username": "u"}
    found = problems({**MINIMAL, "imap": {**base, **imap}})
    text = "\n".join(found)
    assert any(p.startswith(expected) for p in found), found
    assert SECRET not in text and "12345" not in text
    assert "(value not shown: it is a secret)" in text


def test_a_misplaced_table_holding_a_secret_is_not_echoed() -> None:
    found = problems({**MINIMAL, "imap": [{"host": "h", "password": SECRET}]})
    assert found[0] == "imap: expected a [table], got a list (value not shown: it is a secret)"
    assert SECRET not in "\n".join(found)
    found = problems({**MINIMAL, "support": {"address": {"token": SECRET}}})
    assert found == [
        "support.address: expected a string, got a table (value not shown: it is a secret)"
    ]


def test_values_of_ordinary_keys_are_still_quoted() -> None:
    assert problems({**MINIMAL, "smtp": {"host": ["mail.example.com"]}}) == [
        "smtp.host: expected a string, got ['mail.example.com']"
    ]


READERS = {
    "string": lambda t, k: t.string(k, "", pattern=re.compile("^x$"), hint="just x"),
    "choice": lambda t, k: t.choice(k, ("a", "b"), "a"),
    "integer": lambda t, k: t.integer(k, 1, low=10**9),
    "number": lambda t, k: t.number(k, 1.0, low=10.0**9),
    "boolean": lambda t, k: t.boolean(k, False),
    "port": lambda t, k: t.port(k, 1),
    "address": lambda t, k: t.address(k),
    "addresses": lambda t, k: t.addresses(k),
    "strings": lambda t, k: t.strings(k),
    "duration": lambda t, k: t.duration(k, "1h"),
    "timezone": lambda t, k: t.timezone(k, "UTC"),
    "host_port": lambda t, k: t.host_port(k, "127.0.0.1:25"),
    "size": lambda t, k: t.size(k, "1MiB"),
    "existing_file": lambda t, k: t.existing_file(k),
    "dates": lambda t, k: t.dates(k),
    "table": lambda t, k: t.table(k),
    "table_list": lambda t, k: t.table_list(k),
}
SECRET_NAMES = ("client_secret", "api_token", "passphrase", "smtp_password", "API_KEY")


ACCEPTED = {("strings", SECRET), ("boolean", True), ("size", 987654321)}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("value", [SECRET, 987654321, [SECRET, 987654321], True])
def test_no_reader_echoes_a_secret_named_key(reader: str, value: object) -> None:
    for name in SECRET_NAMES:
        found: list[str] = []
        READERS[reader](_Table({name: value}, "oauth", found), name)
        text = "\n".join(found)
        assert not [v for v in (SECRET, "987654321", "True") if v in text], text
        assert found or (reader, value) in ACCEPTED
        for problem in found:
            assert (
                problem.endswith("got a boolean") or "(value not shown: it is a secret)" in problem
            )


def test_every_key_under_a_secret_named_table_is_hidden() -> None:
    found: list[str] = []
    _Table({"imap": SECRET}, "tokens", found).integer("imap", 1)
    assert found == [
        "tokens.imap: expected a whole number, got a string (value not shown: it is a secret)"
    ]


def test_tables_of_secrets_are_not_echoed() -> None:
    found: list[str] = []
    _Table({"github_token": SECRET}, "teams", found).tables()
    assert found == [
        "teams.github_token: expected a [teams.github_token] table, got a string"
        " (value not shown: it is a secret)"
    ]
