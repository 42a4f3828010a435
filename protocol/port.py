"""Opening a port for the Stick driver, and saying in one line what is wrong with it."""

from __future__ import annotations

import re
from typing import Any

import serial

from .errors import PortError

#: How long one read waits for bytes where a new request can cut the wait short
#: (`cancel_read`: serial ports, loop://), and where it cannot (socket://, sim://).
READ_TIMEOUT = 0.1
POLL_TIMEOUT = 0.02


def open_port(url: str) -> serial.SerialBase:
    """A serial port, `socket://` (ser2net), `loop://` or `sim://`; raises PortError."""
    if url.startswith("sim:"):
        from . import virtual

        virtual.register()
    kwargs: dict[str, Any] = {
        "baudrate": 115200,
        "bytesize": 8,
        "parity": "N",
        "stopbits": 1,
        "timeout": READ_TIMEOUT,
        "write_timeout": 2.0,
    }
    if not url.startswith(("socket:", "rfc2217:", "loop:")):
        kwargs["exclusive"] = True
    try:
        ser: serial.SerialBase = serial.serial_for_url(url, **kwargs)
        if not hasattr(ser, "cancel_read"):
            ser.timeout = POLL_TIMEOUT  # nothing wakes its reads: look more often
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PortError(port_error_text(url, exc)) from None
    return ser


def wake(ser: serial.SerialBase | None) -> None:
    """Cut a read that waits on `ser` short, where the port can (`cancel_read`)."""
    cancel_read = getattr(ser, "cancel_read", None)
    if cancel_read is not None:
        try:
            cancel_read()
        except (OSError, serial.SerialException, ValueError, TypeError):
            pass


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
