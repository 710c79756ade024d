"""Threading rules: which ticket a message continues."""

import pytest

from maild.threader import (
    clean_subject,
    find_ticket,
    strip_reply_prefixes,
    ticket_numbers_in,
    ticket_token,
)


@pytest.mark.parametrize(
    "subject",
    [
        "[#MD-1042] printer on fire",
        "Re: [#MD-1042] printer on fire",
        "RE: RE: [#MD-1042] printer on fire",
        "回复: [#MD-1042] 打印机着火",
        "答复: 回复：[#MD-1042] 打印机着火",
        "转发: [#MD-1042] 打印机着火",
        "Fwd: FW: [#MD-1042] x",
        "AW: [#MD-1042] x",
        "Re[2]: [#MD-1042] x",
        "Re: [ #MD - 1042 ] mangled spacing",
        "Re: [#md-1042] lower case",
        "Re: [MD-1042] hash lost",
        "Re: [MD1042] dash lost",
        "回复：［＃MD－1042］全角",
        "回复：【#MD-1042】 brackets",
        "Re: my problem [#MD-1042]",
        "Re: folded\r\n [#MD-1042]\r\n subject",
        "Re: folded\r\n\t[#MD-\r\n 1042] token",
    ],
)
def test_token_survives_what_clients_do(subject: str) -> None:
    assert ticket_numbers_in(subject, "MD") == [1042]


@pytest.mark.parametrize(
    "subject",
    [
        "MD-1042 without brackets",
        "[#XY-1042] another prefix",
        "[#MD-] no number",
        "[#MD-abc]",
        "Invoice 1042",
        "",
    ],
)
def test_no_token(subject: str) -> None:
    assert ticket_numbers_in(subject, "MD") == []


def test_several_tokens_in_order() -> None:
    assert ticket_numbers_in("Fwd: [#MD-7] and [#MD-9]", "MD") == [7, 9]


def test_token_round_trip() -> None:
    assert ticket_token("MD", 1001) == "[#MD-1001]"
    assert ticket_numbers_in(ticket_token("HELP", 5), "HELP") == [5]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Re: hello", "hello"),
        ("RE: 回复: 答复: 转发: Fwd: FW: 问题", "问题"),
        ("回覆：帳號無法登入", "帳號無法登入"),
        ("Re[3]: x", "x"),
        ("Re:   spaced\t\tout  ", "spaced out"),
        ("Regarding the invoice", "Regarding the invoice"),
        ("Refund please", "Refund please"),
        ("Forward planning", "Forward planning"),
    ],
)
def test_strip_reply_prefixes(subject: str, expected: str) -> None:
    assert strip_reply_prefixes(subject) == expected


def test_clean_subject_drops_token_and_prefixes() -> None:
    assert clean_subject("回复: [#MD-12] 系统崩溃", "MD") == "系统崩溃"
    assert clean_subject("Re: [#MD-12]", "MD") == ""


def _finder(tickets: set[int], known: dict[str, int]):
    def find(subject: str, irt: list[str], refs: list[str]):
        return find_ticket(
            subject,
            irt,
            refs,
            prefix="MD",
            ticket_exists=tickets.__contains__,
            ticket_of_message=known.get,
        )

    return find


def test_token_wins_over_references() -> None:
    find = _finder({1, 2}, {"<a@x>": 2})
    match = find("Re: [#MD-1] x", ["<a@x>"], ["<a@x>"])
    assert (match.ticket, match.how) == (1, "token")


def test_unknown_token_falls_through_to_headers() -> None:
    find = _finder({2}, {"<a@x>": 2})
    match = find("Re: [#MD-999] x", [], ["<a@x>"])
    assert (match.ticket, match.how) == (2, "references")


def test_first_existing_token_is_used() -> None:
    find = _finder({9}, {})
    assert find("[#MD-7] [#MD-9]", [], []).ticket == 9


def test_in_reply_to_before_references() -> None:
    find = _finder({1, 2}, {"<old@x>": 1, "<parent@x>": 2})
    match = find("no token", ["<parent@x>"], ["<old@x>"])
    assert (match.ticket, match.how) == (2, "in-reply-to")


def test_newest_reference_wins() -> None:
    find = _finder({1, 2}, {"<first@x>": 1, "<last@x>": 2})
    match = find("x", [], ["<first@x>", "<unknown@y>", "<last@x>"])
    assert (match.ticket, match.how) == (2, "references")


def test_only_references_kept_by_the_client() -> None:
    find = _finder({5}, {"<ack@maild>": 5})
    assert find("changed subject", [], ["<ack@maild>"]).ticket == 5


def test_nothing_known_is_new() -> None:
    find = _finder({1}, {"<a@x>": 1})
    match = find("help", ["<b@x>"], ["<c@x>"])
    assert (match.ticket, match.how) == (None, "new")


def test_same_subject_alone_never_threads() -> None:
    find = _finder({1}, {})
    assert find("Re: help", [], []).ticket is None
