"""SLA durations from config text: parsing, printing back, and resolving days per calendar."""

import pytest

from maild.durations import Duration, parse_duration

EXAMPLES = '"30m", "2h" or "5d"'


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("30m", 30.0, "m"),
        ("2h", 2.0, "h"),
        ("1.5h", 1.5, "h"),
        ("5d", 5.0, "d"),
        ("0m", 0.0, "m"),
        ("2 h", 2.0, "h"),
        ("2H", 2.0, "h"),
        (" 5 D ", 5.0, "d"),
        (".5h", 0.5, "h"),
        ("90M", 90.0, "m"),
    ],
)
def test_parse_duration(text: str, amount: float, unit: str) -> None:
    assert parse_duration(text) == Duration(amount, unit)


@pytest.mark.parametrize(
    "text",
    ["2x", "", " ", "h", "2", "-2h", "2hh", "1,5h", "1.h", "2 hours", "inf h", "nan h", "1e3m"],
)
def test_parse_duration_rejects_with_an_example(text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_duration(text)
    assert str(error.value) == f"{text!r} is not a duration such as {EXAMPLES}"


def test_error_message_reads_well() -> None:
    with pytest.raises(ValueError, match=r"^'2x' is not a duration such as \"30m\", \"2h\" or"):
        parse_duration("2x")


@pytest.mark.parametrize("text", ["2h", "1.5h", "0m", "5d", "30m", "0.25d", "100000h"])
def test_str_round_trips(text: str) -> None:
    duration = parse_duration(text)
    assert str(duration) == text
    assert parse_duration(str(duration)) == duration


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (Duration(2, "h"), "2h"),
        (Duration(2.0, "h"), "2h"),
        (Duration(0.1, "m"), "0.1m"),
        (Duration(1e-7, "h"), "0.0000001h"),
        (Duration(1e20, "d"), "100000000000000000000d"),
        (Duration(1 / 3, "d"), "0.3333333333333333d"),
    ],
)
def test_str_is_short_positional_and_exact(duration: Duration, text: str) -> None:
    assert str(duration) == text
    assert parse_duration(text) == duration


def test_integer_amount_is_stored_as_float() -> None:
    assert Duration(2, "h") == parse_duration("2h")
    assert isinstance(Duration(2, "h").amount, float)
    assert hash(Duration(2, "h")) == hash(parse_duration("2 H"))


@pytest.mark.parametrize(
    ("text", "day_seconds", "seconds"),
    [
        ("30m", 86400.0, 1800.0),
        ("2h", 86400.0, 7200.0),
        ("1.5h", 9 * 3600.0, 5400.0),
        ("0m", 9 * 3600.0, 0.0),
        ("5d", 86400.0, 432000.0),
        ("5d", 9 * 3600.0, 162000.0),  # 45 h on a 09:00-18:00 calendar
        ("1d", 8 * 3600.0, 28800.0),  # 09:00-12:00 + 13:00-18:00
        ("0.5d", 9 * 3600.0, 16200.0),
    ],
)
def test_seconds(text: str, day_seconds: float, seconds: float) -> None:
    assert parse_duration(text).seconds(day_seconds) == seconds


def test_minutes_and_hours_ignore_the_day_length() -> None:
    assert parse_duration("2h").seconds(1.0) == 7200.0
    assert parse_duration("30m").seconds(0.0) == 1800.0


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        (-1.0, "h", ">= 0"),
        (float("nan"), "h", "finite"),
        (float("inf"), "d", "finite"),
        (1.0, "s", "m, h or d"),
        (1.0, "H", "m, h or d"),
        (1.0, "", "m, h or d"),
    ],
)
def test_invalid_duration(amount: float, unit: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Duration(amount, unit)


def test_duration_is_frozen() -> None:
    duration = parse_duration("2h")
    with pytest.raises(AttributeError):
        duration.amount = 3.0  # type: ignore[misc]
