"""The package as an admin installs it: a wheel that carries its templates and the example
configuration, and `maild init` working from the installed package alone."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.test_daemon import maild_command

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_templates_and_the_example_config(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("maild-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "maild/config.example.toml" in names
    assert {
        "maild/notify/templates/ack.zh.txt.j2",
        "maild/notify/templates/alert.en.txt.j2",
        "maild/notify/templates/digest.html.j2",
        "maild/stopwords/zh.txt",
        "maild/stopwords/en.txt",
    } <= names
    assert any(name.endswith("entry_points.txt") for name in names)


def test_init_writes_a_private_config_that_check_reads(tmp_path: Path) -> None:
    config, data = tmp_path / "etc" / "maild.toml", tmp_path / "data"
    made = maild_command("--config", str(config), "init", "--data", str(data))
    assert made.returncode == 0, made.stderr
    assert config.stat().st_mode & 0o777 == 0o600 and data.stat().st_mode & 0o777 == 0o700
    assert f'path = "{data}"' in config.read_text(encoding="utf-8")
    again = maild_command("--config", str(config), "init", "--data", str(data))
    assert again.returncode == 1 and "not overwriting" in again.stderr
    version = maild_command("--version")
    assert version.returncode == 0 and version.stdout.startswith("maild ")
