"""Everything maild creates is private to its user (0700/0600), whoever starts it how."""

from __future__ import annotations

import os
import smtplib
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.test_daemon import (
    accepts,
    listen_address,
    maild_command,
    maild_process,
    stop,
    wait_until,
)
from tests.test_end_to_end import customer_mail


def created_under(root: Path) -> Iterator[tuple[Path, int]]:
    yield root, stat.S_IMODE(root.stat().st_mode)
    for path in root.rglob("*"):
        yield path, stat.S_IMODE(path.lstat().st_mode)


def loose(root: Path) -> list[str]:
    """Paths under root that anyone but their owner may read, write or enter."""
    return [f"{path} {mode:o}" for path, mode in created_under(root) if mode & 0o077]


def test_a_daemon_started_by_hand_keeps_its_files_private(
    config_file: Callable[..., Path],
    daemons: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    previous = os.umask(0o022)  # an admin's everyday shell
    try:
        path = config_file()
        host, port = listen_address(path)
        proc = maild_process(path, "run")
        daemons.append(proc)
        wait_until(lambda: accepts(host, port))
        mail = customer_mail("li@example.cn", "发票", "请开发票")
        with smtplib.SMTP(host, port) as client:
            client.sendmail("li@example.cn", ["support@maild.test"], mail)
        wait_until(lambda: any((tmp_path / "outgoing").glob("*.eml")))
        stop(proc)
    finally:
        os.umask(previous)
    data = tmp_path / "data"
    assert {p.name for p in data.iterdir()} >= {"db.journal", "raw", "spool", "maild.lock"}
    assert loose(data) == []
    assert loose(tmp_path / "outgoing") == []


def test_init_writes_a_private_config_and_data_directory(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        config, data = tmp_path / "etc" / "maild.toml", tmp_path / "var"
        done = maild_command("--config", str(config), "init", "--data", str(data))
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "etc" / "maild.toml").stat().st_mode) == 0o600
    assert loose(tmp_path / "var") == []
