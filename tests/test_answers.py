"""Reading customers' replies: confirmations, survey scores and status requests, in English,
Simplified and Traditional Chinese, full-width forms and emoji, with history left in."""

import pytest

from maild.answers import SurveyAnswer, confirms_resolution, is_status_request, read_survey_answer

# --- confirmation of a resolution --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "YES",
        "Yes.",
        "Yes, thanks!",
        "yes!!!",
        "ok",
        "OK!",
        "Okay thanks",
        "OK thank you",
        "confirmed",
        "I confirm",
        "Confirm",
        "solved",
        "Resolved, cheers",
        "it works now, thanks",
        "It's working now",
        "fixed",
        "All good now, thanks",
        "Perfect, thanks!",
        "Thank you, the problem is solved",
        "Yes, please close the ticket",
        "Yes, no problem",
        "No worries, all good",
        "Fixed, no more errors",
        "No issues anymore",
        "Yes, thanks again",
        "Ｙｅｓ",  # full-width letters
        "ＯＫ",
        "👍",
        "👍🏻",  # with a skin tone
        "Yes 👍",
        "✅",
        "解决了",
        "已解决",
        "问题解决了",
        "好的",
        "好的，谢谢",
        "好，谢谢",
        "可以了",
        "可以",
        "没问题了",
        "没事了",
        "谢谢，已经好了",
        "不错，可以了",
        "不好意思，已经好了",
        "是",
        "是的",
        "是的，谢谢！",
        "对",
        "嗯",
        "ok了",
        "確認",  # Traditional
        "問題解決了",
        "謝謝，已經好了",
        "沒問題了",
        "已經解決",
        "好的\n\n-- \nAnn Lee\n客户服务部 经理 很长的签名不算在字数里面 不要紧 不用管",
    ],
)
def test_clear_confirmations(text: str) -> None:
    assert confirms_resolution(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "No.",
        "nope",
        "not yet",
        "not solved",
        "still broken",
        "Not working",
        "doesn't work",
        "doesn’t work",  # typographic apostrophe
        "doesnt work",
        "yes but it fails again",
        "ok, but the invoice is wrong",
        "Yes. It works but slow",
        "Works sometimes",
        "ok, let me check",
        "ok i will try",
        "Yes, one more thing",
        "ok 👎",
        "👎",
        "yes?",
        "Is it solved?",
        "solved？",  # full-width question mark
        "thanks",  # polite, but not a yes
        "Thank you",
        "No problem",  # "you're welcome", not "solved"
        "good question",
        "还是不行",
        "没有解决",
        "没解决",
        "未解决",
        "不行",
        "不是",
        "好的，但是还有一个问题",
        "已经好了，不过发票还没开",
        "可以了，另外发票怎么开",
        "好了吗",
        "好的，我试试",
        "谢谢",
        "有时候可以",
        "確認一下",  # "let me check"
        "還是不行",
        "沒有解決",
        "",
        "   \n  ",
        "> yes",  # only quoted text
    ],
)
def test_not_confirmations(text: str) -> None:
    assert confirms_resolution(text) is False


def test_twelve_words_confirm_thirteen_say_more() -> None:
    twelve = "yes it works now thank you so much for the quick help"
    assert len(twelve.split()) == 12
    assert confirms_resolution(twelve) is True
    assert confirms_resolution(twelve + " team") is False


def test_thirty_chinese_characters_confirm_thirty_one_say_more() -> None:
    thirty = "谢谢" * 13 + "已经好了"
    assert len(thirty) == 30
    assert confirms_resolution(thirty) is True
    assert confirms_resolution("谢" + thirty) is False


@pytest.mark.parametrize(
    "text",
    [
        "Yes, solved.\n\nOn Mon, 3 Jun 2024 at 10:00, Support <support@example.com> wrote:\n"
        "> We believe this is solved. Is anything still wrong?",
        "Yes\nOn Mon, 3 Jun 2024 at 10:00, Support Team <support@example.com>\nwrote:\n"
        "> not solved?",
        "Yes\nSupport Team <support@example.com> wrote:\n> still broken?",
        "ok\n-----Original Message-----\nFrom: Support\nIs it still broken?",
        "yes\n\nFrom: Support <s@example.com>\nSent: Monday\nSubject: not solved?",
        "Yes\n________________________________\nanything else? no",
        "好的\n\n在 2024年6月3日 周一 10:00，客服 <support@example.com> 写道：\n> 还有问题吗？",
        "好的\n\n於 2024年6月3日 週一 10:00，客服 <support@example.com> 寫道：\n還有問題嗎？",
        "可以了\n发件人: 客服\n还有问题吗？",
        "可以了\n發件人：客服\n還有問題嗎？",
        "可以了\n------------------ 原始邮件 ------------------\n还是不行吗？",
        "> still broken?\nyes",
        "yes\n\nSent from my iPhone",
        "是的\n\n发自我的iPhone",
    ],
)
def test_history_and_signatures_are_not_the_customers_words(text: str) -> None:
    assert confirms_resolution(text) is True


def test_words_below_history_are_not_read() -> None:
    assert confirms_resolution("On Mon, 3 Jun 2024, Ann <ann@example.com> wrote:\nyes") is False


def test_a_from_line_without_headers_under_it_is_the_customers() -> None:
    assert confirms_resolution("Yes\nFrom: my side, not solved") is False
    assert confirms_resolution("Yes\nFrom: my side, not solved\nDate: Monday") is True


# --- satisfaction score --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", SurveyAnswer(5, "")),
        ("1", SurveyAnswer(1, "")),
        ("5 - great", SurveyAnswer(5, "great")),
        ("5 great support", SurveyAnswer(5, "great support")),
        ("4/5", SurveyAnswer(4, "")),
        ("5/5, would recommend", SurveyAnswer(5, "would recommend")),
        ("4 out of 5", SurveyAnswer(4, "")),
        ("score: 3", SurveyAnswer(3, "")),
        ("Rating 2 - too slow", SurveyAnswer(2, "too slow")),
        ("3 stars", SurveyAnswer(3, "")),
        ("5-star service", SurveyAnswer(5, "service")),
        ("4.", SurveyAnswer(4, "")),
        ("3分", SurveyAnswer(3, "")),
        ("5分，很满意", SurveyAnswer(5, "很满意")),
        ("评分：4分，客服很耐心", SurveyAnswer(4, "客服很耐心")),
        ("４星", SurveyAnswer(4, "")),
        ("五星", SurveyAnswer(5, "")),
        ("两颗星", SurveyAnswer(2, "")),
        ("５", SurveyAnswer(5, "")),  # full-width digit
        ("５分 服務很好", SurveyAnswer(5, "服務很好")),
        ("ＳＣＯＲＥ：５", SurveyAnswer(5, "")),
        ("Ｇｒｅａｔ！４／５", SurveyAnswer(4, "Ｇｒｅａｔ！")),
        ("5\n\nGreat support", SurveyAnswer(5, "Great support")),
    ],
)
def test_numbers(text: str, expected: SurveyAnswer) -> None:
    assert read_survey_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("很满意", SurveyAnswer(5, "")),
        ("非常满意，谢谢", SurveyAnswer(5, "谢谢")),
        ("满意", SurveyAnswer(4, "")),
        ("满意的", SurveyAnswer(4, "")),
        ("一般", SurveyAnswer(3, "")),
        ("还行吧", SurveyAnswer(3, "")),
        ("不满意", SurveyAnswer(2, "")),  # not read as 满意
        ("不满意，等了三天", SurveyAnswer(2, "等了三天")),
        ("很不满意", SurveyAnswer(1, "")),  # not read as 很满意 or 不满意
        ("非常不满意！！", SurveyAnswer(1, "")),
        ("非常差", SurveyAnswer(1, "")),
        ("很滿意，謝謝", SurveyAnswer(5, "謝謝")),  # Traditional; the comment as written
        ("滿意", SurveyAnswer(4, "")),
        ("還行", SurveyAnswer(3, "")),
        ("很不滿意", SurveyAnswer(1, "")),
        ("非常不滿意", SurveyAnswer(1, "")),
        ("满意度：满意", SurveyAnswer(4, "")),
        ("很满意😊", SurveyAnswer(5, "😊")),
        ("very satisfied", SurveyAnswer(5, "")),
        ("Very Satisfied!", SurveyAnswer(5, "")),
        ("Ｖｅｒｙ ｓａｔｉｓｆｉｅｄ", SurveyAnswer(5, "")),
        ("satisfied", SurveyAnswer(4, "")),
        ("Satisfied with the speed", SurveyAnswer(4, "with the speed")),
        ("neutral", SurveyAnswer(3, "")),
        ("OK", SurveyAnswer(3, "")),
        ("ok, but slow", SurveyAnswer(3, "but slow")),
        ("dissatisfied", SurveyAnswer(2, "")),
        ("unsatisfied", SurveyAnswer(2, "")),
        ("not satisfied, slow", SurveyAnswer(2, "slow")),
        ("very dissatisfied", SurveyAnswer(1, "")),
        ("Very dissatisfied. Nobody answered.", SurveyAnswer(1, "Nobody answered.")),
    ],
)
def test_words(text: str, expected: SurveyAnswer) -> None:
    assert read_survey_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("five stars", SurveyAnswer(5, "")),
        ("Five!", SurveyAnswer(5, "")),
        ("two stars - slow", SurveyAnswer(2, "slow")),
        ("★★★★★", SurveyAnswer(5, "")),
        ("★★★☆☆", SurveyAnswer(3, "")),
        ("⭐⭐⭐⭐", SurveyAnswer(4, "")),
        ("⭐️⭐️", SurveyAnswer(2, "")),  # with emoji variation selectors
        ("★★★★★ 客服很好", SurveyAnswer(5, "客服很好")),
    ],
)
def test_stars(text: str, expected: SurveyAnswer) -> None:
    assert read_survey_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Quick help. Very satisfied!", SurveyAnswer(5, "Quick help.")),
        ("Thanks, 5/5", SurveyAnswer(5, "Thanks")),
        ("Great support!\n5", SurveyAnswer(5, "Great support!")),
        ("Quick help, 4, will use again", SurveyAnswer(4, "Quick help, will use again")),
        ("客服很专业，很满意，下次还会用", SurveyAnswer(5, "客服很专业，下次还会用")),
        ("Line one\n5\nLine three", SurveyAnswer(5, "Line one\nLine three")),
        ("12345, 很满意", SurveyAnswer(5, "12345")),
    ],
)
def test_a_clause_that_is_only_a_score(text: str, expected: SurveyAnswer) -> None:
    assert read_survey_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "10",
        "0",
        "6",
        "score: 10",
        "10 - amazing",
        "8/10",
        "4/10",
        "4.5",
        "零分",
        "★★★★★★",
        "zero stars",
        "I am not satisfied",  # a score word inside a sentence is not read
        "Was I satisfied? Not at all",  # "satisfied" is no clause of its own
        "很满意客服",
        "我不满意",
        "满意度很高",  # 满意度 is not 满意
        "一般来说还可以",  # 一般来说 is not 一般
        "5分钟就解决了",  # five minutes, not five points
        "2天才回复",
        "3 天",
        "2 days later it broke again",
        "3 times I asked",
        "三分之一的问题没解决",
        "one more thing: slow",
        "The agent was rude",
        "👍",
        "",
    ],
)
def test_no_score(text: str) -> None:
    assert read_survey_answer(text) == SurveyAnswer(None, text.strip())


def test_the_first_score_decides() -> None:
    assert read_survey_answer("10, 很满意") == SurveyAnswer(None, "10, 很满意")
    assert read_survey_answer("一般，不满意") == SurveyAnswer(3, "不满意")


def test_history_and_signature_are_no_comment() -> None:
    text = (
        "4\n\nGood, but slow.\n-- \nAnn Lee\nAcme\n\n"
        "On Mon, 3 Jun 2024, Support <support@example.com> wrote:\n> How satisfied were you?"
    )
    assert read_survey_answer(text) == SurveyAnswer(4, "Good, but slow.")
    chinese = "很满意\n> 您对本次服务满意吗？\n\n在 2024年6月3日 写道：\n> 1 2 3 4 5"
    assert read_survey_answer(chinese) == SurveyAnswer(5, "")


def test_a_score_quoted_from_our_mail_is_not_the_customers() -> None:
    assert read_survey_answer("> 5 (best)\nslow replies") == SurveyAnswer(None, "slow replies")


def test_comment_keeps_the_customers_spelling_when_normalising_changes_length() -> None:
    # "ﬁ" becomes "fi" when normalised: the cut must still land in the right place.
    assert read_survey_answer("ﬁne service. ５分") == SurveyAnswer(5, "ﬁne service.")
    assert read_survey_answer("５分 ﬁne") == SurveyAnswer(5, "ﬁne")


# --- status requests -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "status",
        "Status",
        "STATUS",
        "Status?",
        "status 🙏",
        "Re: Status",
        "RE: Fwd: status",
        "ＳＴＡＴＵＳ",  # full-width
        "ＲＥ：status",
        "  ticket   status  ",
        "Ticket Status",
        "My Tickets!",
        "状态",
        "进度",
        "进度？",
        "【状态】",
        "回复：进度",
        "查询进度",
        "查询状态",
        "工单状态",
        "狀態",  # Traditional
        "進度",
        "查詢進度",
        "工單狀態",
        "回覆：狀態",
    ],
)
def test_status_subjects(subject: str) -> None:
    assert is_status_request(subject, "Hi, when will my refund arrive?") is True


@pytest.mark.parametrize(
    "body",
    [
        "status",
        "\n\n  Status  \n\n",
        "狀態？",
        "进度",
        "Ｓｔａｔｕｓ",
        "status\n-- \nAnn Lee\nHead of IT, Acme",
        "Status\n\nSent from my iPhone",
        "进度\n\n发自我的iPhone",
        "> old question\nstatus\n> more quoted",
        "狀態？\n\n在 2024年6月3日 寫道：\n> 你好，有什么可以帮您？",
        "my tickets\n\nOn Mon, 3 Jun 2024, Support <support@example.com> wrote:\n> help",
    ],
)
def test_status_bodies(body: str) -> None:
    assert is_status_request("", body) is True
    assert is_status_request("Question", body) is True


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Status of my refund is wrong, please check", ""),
        ("Status of my refund is wrong, please check", "Order 1234"),
        ("status update on invoice 77", ""),
        ("statuses", ""),
        ("my ticket", ""),
        ("[#MD-1042] status", ""),
        ("状态不对", ""),
        ("查询进度很慢", ""),
        ("", "status please"),
        ("", "Hi,\nstatus"),
        ("", "status\nthanks"),
        ("", "What is the status of my ticket?"),
        ("", "请问我的工单进度如何"),
        ("", "> status"),
        ("", "On Mon, 3 Jun 2024, Ann <ann@example.com> wrote:\nstatus"),
        ("", ""),
        ("Help", "Printer on fire"),
    ],
)
def test_not_status_requests(subject: str, body: str) -> None:
    assert is_status_request(subject, body) is False
