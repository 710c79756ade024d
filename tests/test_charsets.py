"""Charset rules on hostile input: 8-bit text inside encoded words, codecs that are no charsets."""

from __future__ import annotations

import pytest

from maild.intake.charsets import codec_for, decode_bytes, decode_encoded_words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=?utf-8?q?café?=", "café"),
        ("=?UTF-8?B?café?=", "café"),
        ("=?gbk?q?退款?=", "退款"),
        ("=?gbk?b?退款?=", "退款"),
        ("=?utf-8?q?caf=C3=A9_au_lait_?= =?utf-8?q?crème?=", "café au lait crème"),
        ("=?x-unknown?q?naïve?=", "naïve"),
    ],
)
def test_8bit_text_inside_an_encoded_word_is_the_words_own_text(text: str, expected: str) -> None:
    decoded, _ = decode_encoded_words(text)
    assert decoded == expected


def test_raw_bytes_inside_an_encoded_word_are_decoded_by_its_charset() -> None:
    # Header bytes the email package kept as surrogate escapes: GBK bytes in a gbk word.
    escaped = "退款".encode("gbk").decode("ascii", "surrogateescape")
    assert decode_encoded_words(f"=?gbk?q?{escaped}?=") == ("退款", [])


def test_characters_a_words_charset_lacks_become_replacement_not_an_error() -> None:
    decoded, _ = decode_encoded_words("=?iso-8859-1?q?退款?= ok")
    assert decoded.endswith(" ok") and "退款" not in decoded


@pytest.mark.parametrize(
    "label", ["base64", "rot13", "zlib", "hex", "idna", "punycode", "undefined"]
)
def test_codecs_that_are_not_charsets_are_unknown_labels(label: str) -> None:
    assert codec_for(label) is None
    text, note = decode_bytes("你好".encode(), label)
    assert text == "你好" and note is not None and "decoded as utf-8" in note


@pytest.mark.parametrize("label", ["utf\x00-8", "koi8\x00", "\udcff"])
def test_labels_python_cannot_look_up_decode_with_the_guessers(label: str) -> None:
    assert codec_for(label) is None
    assert decode_bytes("账号".encode("gb18030"), label)[0] == "账号"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-8", "utf-8-sig"),
        ("latin1", "iso8859-1"),
        ("gb2312", "gb18030"),
        ("gb\x002312", "gb18030"),
        ("utf-7", "utf-7"),
    ],
)
def test_ordinary_labels_keep_their_codecs(label: str, codec: str) -> None:
    assert codec_for(label) == codec
