"""pyserial URL handler for `sim://`: a port whose other end is the virtual network.

pyserial finds it as `<package>.protocol_sim` once `protocol.virtual.register()`
has run, so the client opens `sim://…` exactly as it opens `/dev/ttyUSB0`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from serial.serialutil import PortNotOpenError, SerialException

from . import network_for
from .network import VirtualNetwork

if TYPE_CHECKING:
    # pyserial ships no types: this is the part of SerialBase this port relies on

    class _SerialBase:
        _port: str | None
        _timeout: float | None
        _exclusive: bool | None
        is_open: bool

else:
    from serial.serialutil import SerialBase as _SerialBase


class Serial(_SerialBase):
    """The client's end of the line; pyserial sets port, timeout and exclusive before open()."""

    _net: VirtualNetwork

    def open(self) -> None:
        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        if self.is_open:
            raise SerialException("port already open")
        try:
            self._net = network_for(self._port)
        except ValueError as exc:
            raise SerialException(str(exc)) from None
        if self._net.attached and self._exclusive:
            raise SerialException(f"could not open port {self._port}: [Errno 16] device or resource busy")
        try:
            self._net.attach()
        except OSError as exc:
            raise SerialException(f"could not open port {self._port}: {exc}") from None
        self.is_open = True

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            self._net.detach()

    def from_url(self, url: str) -> str:  # pyserial calls this with the URL
        return url

    def _reconfigure_port(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        try:
            return self._net.in_waiting()
        except OSError as exc:
            raise SerialException(str(exc)) from None

    def read(self, size: int = 1) -> bytes:
        if not self.is_open:
            raise PortNotOpenError()
        try:
            return self._net.read(size, self._timeout)
        except OSError as exc:
            raise SerialException(str(exc)) from None

    def write(self, data: bytes) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        try:
            self._net.write(bytes(data))
        except OSError as exc:
            raise SerialException(str(exc)) from None
        return len(data)

    def reset_input_buffer(self) -> None:
        if self.is_open:
            self._net.in_waiting()
            self._net._buffer.clear()

    def reset_output_buffer(self) -> None:
        pass

    def flush(self) -> None:
        pass

    @property
    def out_waiting(self) -> int:
        return 0
