"""How times, spans and commitments read in mail, in Chinese and English.

Pure. Times carry their UTC offset ("2026-11-23 17:00 (UTC+08:00)") rather than a zone
abbreviation: "CST" is China to one reader and Chicago to another.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from maild.calendar import AlwaysOpen, Calendar
from maild.durations import Duration

PRIORITY_NAMES = {
    "zh": {"urgent": "紧急", "important": "重要", "general": "一般"},
    "en": {"urgent": "urgent", "important": "important", "general": "general"},
}
STATUS_NAMES = {
    "zh": {
        "new": "已受理，等待处理",
        "open": "处理中",
        "pending": "等待您的回复",
        "resolved": "已解决，等待您确认",
        "closed": "已关闭",
    },
    "en": {
        "new": "received, waiting for an engineer",
        "open": "in progress",
        "pending": "waiting for your reply",
        "resolved": "resolved, waiting for your confirmation",
        "closed": "closed",
    },
}
COMMITMENT_NAMES = {
    "zh": {"first_response": "首次回复", "resolve": "解决", "update": "进展通报"},
    "en": {"first_response": "first response", "resolve": "resolution", "update": "update"},
}


def moment(value: datetime, zone: str) -> str:
    """A time as a reader in `zone` sees it, with its offset."""
    local = value.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def span(seconds: float, language: str) -> str:
    """A length of time, rounded to the minute: '1 h 30 min', '1小时30分钟', '2 d 3 h'."""
    minutes = round(abs(seconds) / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    units = ("天", "小时", "分钟") if language == "zh" else (" d", " h", " min")
    parts = [f"{n}{u}" for n, u in zip((days, hours, minutes), units, strict=True) if n]
    if not parts:
        return "不到1分钟" if language == "zh" else "less than a minute"
    return ("" if language == "zh" else " ").join(parts)


def commitment(duration: Duration, calendar: Calendar, language: str) -> str:
    """'2 hours', '8 working hours', '5 working days'; '2小时', '8个工作小时', '5个工作日'."""
    amount = f"{duration.amount:g}"
    working = not isinstance(calendar, AlwaysOpen)
    if language == "zh":
        unit = {"m": "分钟", "h": "小时", "d": "天"}[duration.unit]
        if working:
            unit = {"m": "个工作分钟", "h": "个工作小时", "d": "个工作日"}[duration.unit]
        return f"{amount}{unit}"
    unit = {"m": "minute", "h": "hour", "d": "day"}[duration.unit]
    plural = "" if duration.amount == 1 else "s"
    return f"{amount} {'working ' if working else ''}{unit}{plural}"
