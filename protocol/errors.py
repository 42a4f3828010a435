"""Exceptions of the Stick driver and Circle API; each reads well as a one-line message."""

from __future__ import annotations

import re


class PlugwiseError(Exception):
    """Anything that went wrong talking to the stick or a node."""


class PortError(PlugwiseError):
    """The port cannot be opened: missing, busy, or no permission (with a how-to-fix)."""


class NotAStick(PlugwiseError):
    """Something answers on the port, but not a Plugwise stick."""


class LinkDown(PlugwiseError):
    """The stick went away (unplugged, pty closed, socket dropped)."""


class NodeTimeout(PlugwiseError):
    """A node did not answer (00E1 after the retries, or no reply at all)."""

    def __init__(self, mac: str | None, what: str = "") -> None:
        self.mac = mac
        super().__init__(f"circle {mac} does not answer{f' ({what})' if what else ''}")


class NodeRefused(PlugwiseError):
    """A node answered with a negative acknowledgement."""

    def __init__(self, mac: str | None, status: int, what: str = "") -> None:
        self.mac = mac
        self.status = status
        super().__init__(f"circle {mac} refused {what or 'the request'} (status {status:04X})")


class ProtocolViolation(PlugwiseError):
    """A reply that makes no sense for its request (e.g. a schedule CRC that does not match)."""


class RemoteProtocolError(PlugwiseError):
    """The stick keeps sending something that makes no sense (e.g. it reports a CRC error for
    every resend of a request): the peer's garbage, never a reason to stop the logger."""


class BatchAbandoned(PlugwiseError):
    """A request given up because another request of its batch failed (a schedule upload)."""


class LocalProtocolError(Exception):
    """We misused the link (a bug in our code, not a device problem): not a PlugwiseError, so
    it is never taken for a circle being offline."""


def port_error_text(port: str, exc: BaseException) -> str:
    """One line saying what is wrong with the port and how to fix it."""
    text = str(exc)
    low = text.lower()
    errnos = {int(n) for n in re.findall(r"errno (\d+)", low)}
    if "permission denied" in low or 13 in errnos:
        return (
            f"{port}: permission denied. Add yourself to the group that owns the device "
            f"(usually: sudo adduser $USER dialout, then log in again)"
        )
    if "busy" in low or errnos & {11, 16} or "resource temporarily unavailable" in low:
        return f"{port}: the port is busy: another program (another pwtui?) has it open"
    if "connection refused" in low or 111 in errnos:
        return f"{port}: connection refused: is ser2net (or pwtui simulate --tcp) running there?"
    if "no such file" in low or 2 in errnos:
        return f"{port}: no such port. Is the stick plugged in? (ls /dev/ttyUSB*; or use sim:// to try the simulator)"
    return f"{port}: cannot open: {text}"
