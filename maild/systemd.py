"""systemd readiness, status and watchdog notifications (sd_notify(3)), spoken by hand.

The protocol is newline-separated KEY=VALUE lines in one datagram to $NOTIFY_SOCKET: too small
to be worth a dependency. Outside systemd (no NOTIFY_SOCKET) every call does nothing, and a
failed send is logged at debug and ignored: telling systemd must never stop the daemon.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import unicodedata
from collections.abc import Callable, Mapping

log = logging.getLogger("maild.systemd")

STATUS_MAX_CHARS = 200
# A datagram to a stalled PID 1 must not hang the daemon's loop.
SEND_TIMEOUT_SECONDS = 2.0


class Notifier:
    """Tells the service manager we are ready, reloading, stopping or still alive.

    Read from the environment once: systemd sets NOTIFY_SOCKET for Type=notify units, and
    WATCHDOG_USEC (with WATCHDOG_PID) when WatchdogSec= is set.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        env = os.environ if environ is None else environ
        self._address = socket_address(env.get("NOTIFY_SOCKET", ""))
        self.enabled: bool = self._address is not None
        self.watchdog_interval: float | None = (
            watchdog_interval(env, os.getpid()) if self.enabled else None
        )
        self._clock = clock
        self._last_ping: float | None = None

    def ready(self, status: str = "") -> None:
        """Start-up is done (Type=notify): systemctl start returns, dependents start."""
        self._send("READY=1", *_status(status), f"MAINPID={os.getpid()}")

    def status(self, text: str) -> None:
        """One line for `systemctl status`; an empty one clears it."""
        self._send(f"STATUS={status_line(text)}")

    def stopping(self, status: str = "") -> None:
        """Shutting down: systemd shows 'deactivating' rather than a hung service."""
        self._send("STOPPING=1", *_status(status))

    def reloading(self) -> None:
        """A reload began; call ready() when it is done (systemd shows 'reloading' until then).

        systemd ≥ 253 wants MONOTONIC_USEC with it, to tell this reload from an older one.
        """
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send("RELOADING=1", f"MONOTONIC_USEC={now_usec}")

    def watchdog(self) -> None:
        """Still alive. Cheap to call every loop turn: sends at most once per half interval."""
        if self.watchdog_interval is None:
            return
        now = self._clock()
        if self._last_ping is not None and now - self._last_ping < self.watchdog_interval / 2:
            return
        self._last_ping = now
        self._send("WATCHDOG=1")

    def _send(self, *assignments: str) -> None:
        if self._address is None or not assignments:
            return
        data = "\n".join(assignments).encode("utf-8", "replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(SEND_TIMEOUT_SECONDS)
                sock.sendto(data, self._address)
        except OSError as e:
            log.debug("sd_notify to %r failed: %s", self._address, e)


def socket_address(value: str) -> str | None:
    """The address to send to: a path, or an abstract name ('@' becomes NUL); None if none.

    Other forms (e.g. systemd ≥ 254's vsock:CID:PORT for VMs) are not ours to serve.
    """
    if not value:
        return None
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    log.warning("NOTIFY_SOCKET=%r is not a path or an abstract socket; not notifying", value)
    return None


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between pings (half of WATCHDOG_USEC), like sd_watchdog_enabled(3).

    None when there is no watchdog, or it watches another process (WATCHDOG_PID).
    """
    watched = environ.get("WATCHDOG_PID")
    if watched is not None:
        try:
            if int(watched) != pid:
                return None
        except ValueError:
            return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000 / 2


def status_line(text: str) -> str:
    """Text fit for STATUS=: one line (a newline would start a new assignment), ≤ 200 chars."""
    visible = "".join(c for c in text if c.isspace() or unicodedata.category(c) != "Cc")
    line = " ".join(visible.split())
    if len(line) > STATUS_MAX_CHARS:
        line = line[: STATUS_MAX_CHARS - 1] + "…"
    return line


def _status(text: str) -> tuple[str, ...]:
    line = status_line(text)
    return (f"STATUS={line}",) if line else ()
