import pytest

from maild.language import detect_language


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("系统崩溃", "你好，系统崩溃了", "zh"),
        ("帳號無法登入", "您好", "zh"),
        ("我的 iPhone 无法登录 App Store", "", "zh"),
        ("Payment failed", "My card was declined.\n\n王伟", "en"),
        (
            "Re: 系统崩溃",
            "Thanks, it works now. All fine on our side, closing.\n> 系统崩溃了吗",
            "en",
        ),
        ("", "> 你好\n> 你好", "zh-fallback"),
        ("", "", "en-fallback"),
        ("12345", "!!!", "zh-fallback"),
    ],
)
def test_detect_language(subject: str, text: str, expected: str) -> None:
    fallback = "zh" if expected == "zh-fallback" else "en"
    assert detect_language(subject, text, fallback=fallback) == expected.split("-")[0]
