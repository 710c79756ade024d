"""A real, throwaway Dovecot IMAP server on loopback for tests and benchmarks.

Each `Dovecot` gets its own config, CA, users and maildirs under /dev/shm, so it never touches the
system's Dovecot and can run beside other instances. Kept free of pytest so bench/ can use it.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from maild.config import ImapConfig

HOST = "127.0.0.1"
NOBODY = 65534  # Owns the mail when we run as root, as a real install's vmail user would.
START_TIMEOUT = 10.0
TERM_GRACE = 2.0
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")


def dovecot_binary() -> str | None:
    """The dovecot executable; /usr/sbin is often missing from a non-root PATH."""
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


def dovecot_available() -> bool:
    return dovecot_binary() is not None


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ImapAccount:
    """One mailbox on a test server, with what a client needs to reach it."""

    username: str
    password: str
    host: str
    port: int
    tls_port: int
    ca_file: Path

    def imap_config(self, **overrides: Any) -> ImapConfig:
        """Plain IMAP on the plain port with short waits; override any field."""
        config = ImapConfig(
            host=self.host,
            username=self.username,
            password=self.password,
            port=self.port,
            tls="none",
            ca_file=self.ca_file,
            poll_seconds=1.0,
            timeout=10.0,
        )
        return replace(config, **overrides)


class Dovecot:
    """Dovecot daemon with a plain (STARTTLS-capable) and an implicit-TLS listener.

    `capabilities` replaces the advertised IMAP capability list (Dovecot's `imap_capability`),
    which is how tests reach a client's fallbacks for servers without MOVE or IDLE.
    `prefix` puts every folder under a namespace prefix such as "INBOX." (Courier's layout).
    """

    def __init__(self, *, capabilities: str | None = None, prefix: str = "") -> None:
        self.capabilities = capabilities
        self.prefix = prefix
        self.host = HOST
        self.port = 0
        self.tls_port = 0
        self._dir: Path | None = None

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("Dovecot is not started")
        return self._dir

    @property
    def ca_file(self) -> Path:
        return self.dir / "ssl" / "ca.crt"

    @property
    def log_file(self) -> Path:
        return self.dir / "dovecot.log"

    @property
    def _passwd_dir(self) -> Path:
        return self.dir / "passwd.d"

    @property
    def _base_dir(self) -> Path:
        return self.dir / "run"

    def maildir_path(self, user: str) -> Path:
        return self.dir / "mail" / user / "Maildir"

    def start(self) -> None:
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("dovecot is not installed (Debian package dovecot-imapd)")
        # Short path under /dev/shm: unix sockets in base_dir must fit in 108 bytes.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self._dir = Path(tempfile.mkdtemp(prefix="dc", dir=shm))
        try:
            self._prepare()
            self._launch(binary)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole process group after a grace period."""
        if self._dir is None:
            return
        pid = self._master_pid()
        if pid is not None:
            _terminate(pid)
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def add_user(self, name: str, password: str) -> None:
        """Add a user while the server runs.

        One passwd-file per user: Dovecot rechecks a passwd-file at most once a second, so a user
        appended to a shared file right after another login is refused until the next second.
        """
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or any(c in password for c in ":\r\n"):
            raise ValueError("names are [A-Za-z0-9_.-]+; passwords hold no ':' or line breaks")
        (self._passwd_dir / name).write_text(f"{name}:{{PLAIN}}{password}\n", encoding="utf-8")

    def new_account(self) -> ImapAccount:
        """A fresh user with a random name and password: an isolated mailbox per test."""
        account = ImapAccount(
            username=f"u{secrets.token_hex(6)}",
            password=secrets.token_urlsafe(12),
            host=self.host,
            port=self.port,
            tls_port=self.tls_port,
            ca_file=self.ca_file,
        )
        self.add_user(account.username, account.password)
        return account

    def client(self, user: str, password: str) -> IMAPClient:
        """A logged-in plain-text client; the caller logs out."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.login(user, password)
        return client

    def append(self, user: str, password: str, raw: bytes, folder: str = "INBOX") -> int:
        """Deliver `raw` into `folder` as another mail client would; returns its UID."""
        client = self.client(user, password)
        try:
            response = client.append(folder, raw)
        finally:
            client.logout()
        match = _APPENDUID.search(response)
        if match is None:
            raise RuntimeError(f"no APPENDUID in {response!r}")
        return int(match.group(1))

    def folder_messages(self, user: str, password: str, folder: str) -> list[bytes]:
        """The raw messages in `folder`, in UID order, without setting \\Seen."""
        client = self.client(user, password)
        try:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["NOT", "DELETED"]))
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
        finally:
            client.logout()
        return [fetched[uid][b"BODY[]"] for uid in uids]

    def kick(self, user: str) -> None:
        """End `user`'s sessions the polite way, as a server shutdown does: BYE, then close."""
        self._doveadm("kick", user)

    def kill_sessions(self, user: str) -> None:
        """SIGKILL `user`'s imap processes: the connection just closes, with no BYE."""
        rows = self._doveadm("who", "-1", user).splitlines()[1:]  # user proto pid ip
        for row in filter(str.strip, rows):
            os.kill(int(row.split()[2]), signal.SIGKILL)

    def _doveadm(self, *args: str) -> str:
        conf = str(self.dir / "dovecot.conf")
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        done = subprocess.run(
            [doveadm, "-c", conf, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return done.stdout

    def _prepare(self) -> None:
        # mkdtemp gives 0700; Dovecot's unprivileged processes must traverse the tree.
        for sub in ("", "run", "state", "ssl", "mail", "passwd.d"):
            path = self.dir / sub
            path.mkdir(exist_ok=True)
            path.chmod(0o755)
        uid, gid = self._mail_ids()
        os.chown(self.dir / "mail", uid, gid)
        self.port, self.tls_port = free_port(), free_port()
        _make_certificates(self.dir / "ssl")
        (self.dir / "dovecot.conf").write_text(self._config(uid, gid), encoding="utf-8")

    def _mail_ids(self) -> tuple[int, int]:
        if os.geteuid() == 0:
            return NOBODY, NOBODY
        return os.getuid(), os.getgid()

    def _config(self, uid: int, gid: int) -> str:
        d = self.dir
        lines = [
            f"base_dir = {self._base_dir}",
            f"state_dir = {d / 'state'}",
            f"log_path = {self.log_file}",
            "protocols = imap",
            f"listen = {HOST}",
            "ssl = yes",
            f"ssl_cert = <{d / 'ssl' / 'server.crt'}",
            f"ssl_key = <{d / 'ssl' / 'server.key'}",
            "auth_mechanisms = plain login",
            "disable_plaintext_auth = no",
            "auth_failure_delay = 0",
            "first_valid_uid = 1",
            f"mail_location = maildir:{d / 'mail'}/%u/Maildir",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {self._passwd_dir}/%u",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={uid} gid={gid} home={d / 'mail'}/%u",
            "}",
            "namespace inbox {",
            "  inbox = yes",
            f"  prefix = {self.prefix}",
            "  separator = .",
            "}",
            "service imap-login {",
            "  chroot =",
            f"  inet_listener imap {{\n    address = {HOST}\n    port = {self.port}\n  }}",
            f"  inet_listener imaps {{\n    address = {HOST}\n    port = {self.tls_port}\n"
            "    ssl = yes\n  }",
            "}",
            "service anvil {",
            "  chroot =",
            # Mode 0 disables anvil's auth penalty: otherwise one failed login makes the next
            # login from 127.0.0.1 wait about 4 s, which slows every test after a failure test.
            "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }",
            "}",
        ]
        if os.geteuid() != 0:
            user = pwd.getpwuid(os.getuid()).pw_name
            for key in ("default_internal_user", "default_internal_group", "default_login_user"):
                lines.append(f"{key} = {user}")
        if self.capabilities is not None:
            lines.append(f"imap_capability = {self.capabilities}")
        return "\n".join(lines) + "\n"

    def _launch(self, binary: str) -> None:
        # Redirect all three streams: the daemon inherits them, and a caller capturing our
        # output would otherwise wait forever for the pipe to close.
        with (self.dir / "startup.log").open("wb") as out:
            done = subprocess.run(
                [binary, "-c", str(self.dir / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=START_TIMEOUT,
            )
        if done.returncode != 0:
            raise RuntimeError(f"dovecot failed to start:\n{self._logs()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._master_pid() is not None and all(
                _accepts(self.host, p) for p in (self.port, self.tls_port)
            ):
                return
            time.sleep(0.02)
        raise RuntimeError(f"dovecot did not come up in {START_TIMEOUT} s:\n{self._logs()}")

    def _master_pid(self) -> int | None:
        try:
            return int((self._base_dir / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _logs(self) -> str:
        texts = []
        for name in ("startup.log", "dovecot.log"):
            path = self.dir / name
            if path.exists():
                texts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(texts)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (not ours to reap) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _terminate(pid: int) -> None:
    """SIGTERM the daemon's whole process group, SIGKILL it if it lingers.

    Signalling only the master makes it wait about a second for its children; signalling the
    group (the master runs setsid, so the group is Dovecot's alone) ends it in milliseconds.
    """
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return
    _signal(pid, group, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if _alive(pid):
        _signal(pid, group, signal.SIGKILL)


def _signal(pid: int, group: int, sig: signal.Signals) -> None:
    try:
        if group == pid:
            os.killpg(group, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _make_certificates(where: Path) -> None:
    """A private CA and a server certificate for localhost/127.0.0.1, signed by it."""
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    (where / "server.ext").write_text(
        "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid, issuer\n",
        encoding="ascii",
    )
    commands = [
        f"req -x509 {ec} -days 2 -keyout ca.key -out ca.crt -subj '/CN=maild test CA'"
        " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        f"req {ec} -keyout server.key -out server.csr -subj /CN=localhost",
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
        " -out server.crt -extfile server.ext",
    ]
    for command in commands:
        subprocess.run(
            ["openssl", *shlex.split(command)],
            cwd=where,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=30,
        )
