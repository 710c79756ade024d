"""The digest's HTML in a real browser: headless Chromium (Debian's `chromium`, installed by
scripts/test) lays it out at a phone's width and at a desktop's, and a screenshot is kept.

Chromium parses the page as a mail client's HTML view would: the test checks what the browser
built (every section, no script element), not what the template wrote. The screenshots go to
$MAILD_SCREENSHOTS when set (to look at them), else to the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from maild.notify.digest import render
from tests.digest_fixtures import sample_report
from tests.test_digest_mail import SECTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As root in CI and with the machine's network closed: no sandbox, no background connections.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1")  # fmt: skip


def chromium(profile: Path, *args: str) -> str:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run scripts/test (it installs Debian's chromium)")
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_digest_renders_in_chromium_at_phone_and_desktop_width(
    tmp_path: Path, language: str
) -> None:
    report, config = sample_report(tmp_path / "store")
    page = tmp_path / f"digest-{language}.html"
    page.write_text(render(report, config, language).html, encoding="utf-8")
    dom = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    for section in SECTIONS:
        assert f'id="{section}"' in dom
    assert "<script" not in dom  # the customer's "<script>" is text on the page
    assert "MD-1008" in dom and "支付失败" in dom

    shots = Path(os.environ.get("MAILD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    for name, width, height in (("phone", 390, 3600), ("desktop", 1024, 2600)):
        shot = shots / f"digest-{language}-{name}.png"
        chromium(tmp_path / "profile", f"--window-size={width},{height}",
                 f"--screenshot={shot}", page.as_uri())  # fmt: skip
        assert png_size(shot) == (width, height)
        assert shot.stat().st_size > 40_000  # a rendered page, not a blank one
