"""Field encodings used by the message catalogue.

Each codec turns a fixed number of hex characters into a Python value and
back, and knows how that value reads in JSON.  Messages are declared as lists
of these (see messages.py); nothing else parses payloads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import units


class FieldError(ValueError):
    """A field's text does not fit its encoding."""


def _hex_int(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise FieldError(f"not hex: {text!r}") from None


class Codec:
    width: int = 0

    def decode(self, text: str) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> str:
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class Int(Codec):
    """Unsigned big-endian integer, `width` hex chars."""

    width: int

    def decode(self, text: str) -> int:
        return _hex_int(text)

    def encode(self, value: int) -> str:
        value = int(value)
        if not 0 <= value < 16**self.width:
            raise FieldError(f"{value} does not fit {self.width} hex digits")
        return f"{value:0{self.width}X}"


@dataclass(frozen=True)
class SInt(Codec):
    """Two's-complement signed integer."""

    width: int

    def decode(self, text: str) -> int:
        v = _hex_int(text)
        bits = 4 * self.width
        return v - (1 << bits) if v >= 1 << (bits - 1) else v

    def encode(self, value: int) -> str:
        bits = 4 * self.width
        value = int(value)
        if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
            raise FieldError(f"{value} does not fit a signed {bits}-bit field")
        return f"{value & ((1 << bits) - 1):0{self.width}X}"


@dataclass(frozen=True)
class Bool(Codec):
    width: int = 2

    def decode(self, text: str) -> bool:
        return _hex_int(text) != 0

    def encode(self, value: bool) -> str:
        return "01" if value else "00"


@dataclass(frozen=True)
class Float32(Codec):
    width: int = 8

    def decode(self, text: str) -> float:
        value: float = struct.unpack(">f", _hex_int(text).to_bytes(4, "big"))[0]
        return value

    def encode(self, value: float) -> str:
        return struct.pack(">f", float(value)).hex().upper()


@dataclass(frozen=True)
class Hex(Codec):
    """Text kept as sent (hardware versions, feature masks, unknown bytes)."""

    width: int

    def decode(self, text: str) -> str:
        _hex_int(text)
        return text

    def encode(self, value: str) -> str:
        value = str(value).upper()
        if len(value) != self.width:
            raise FieldError(f"{value!r} is not {self.width} hex digits")
        _hex_int(value)
        return value


@dataclass(frozen=True)
class Mac(Hex):
    width: int = 16


@dataclass(frozen=True)
class Status(Codec):
    """An ack code such as 00C1; JSON shows the 4 hex digits."""

    width: int = 4

    def decode(self, text: str) -> int:
        return _hex_int(text)

    def encode(self, value: int) -> str:
        return f"{int(value):04X}"

    def to_json(self, value: int) -> str:
        return f"{value:04X}"


@dataclass(frozen=True)
class Dec(Codec):
    """Two characters that are decimal digits (Circle+ RTC); `offset` adds e.g. 2000 to years."""

    width: int = 2
    offset: int = 0

    def decode(self, text: str) -> int:
        if not text.isdigit():
            raise FieldError(f"not decimal digits: {text!r}")
        return int(text) + self.offset

    def encode(self, value: int) -> str:
        v = int(value) - self.offset
        if not 0 <= v < 10**self.width:
            raise FieldError(f"{value} does not fit {self.width} decimal digits")
        return f"{v:0{self.width}d}"


@dataclass(frozen=True)
class Y2KDateTime(Codec):
    """`YY MM mmmm`: year−2000, month, minutes since the month began; UTC."""

    width: int = 8

    def decode(self, text: str) -> datetime | None:
        return units.decode_y2k(_hex_int(text))

    def encode(self, value: datetime | None) -> str:
        # None is what the stick reports about itself: all zeros.
        return "00000000" if value is None else f"{units.encode_y2k(value):08X}"

    def to_json(self, value: datetime | None) -> str | None:
        return units.iso(value)


@dataclass(frozen=True)
class UnixDate(Codec):
    """Firmware build time: seconds since 1970 (B §3.2, 0024)."""

    width: int = 8

    def decode(self, text: str) -> datetime:
        return datetime.fromtimestamp(_hex_int(text), tz=UTC)

    def encode(self, value: datetime) -> str:
        return f"{int(value.timestamp()):08X}"

    def to_json(self, value: datetime) -> str:
        return units.iso(value) or ""


@dataclass(frozen=True)
class LogAddress:
    """A raw log-buffer address; 0024 reports it to 8-byte (entry) resolution."""

    raw: int

    @classmethod
    def of(cls, block: int, slot: int = 0) -> LogAddress:
        return cls(units.block_to_address(block, slot))

    @property
    def valid(self) -> bool:
        return units.address_valid(self.raw)

    @property
    def block(self) -> int | None:
        return units.address_to_block(self.raw) if self.valid else None

    @property
    def slot(self) -> int | None:
        return units.address_to_slot(self.raw) if self.valid else None


KEEP_LOG_ADDRESS = LogAddress(0xFFFFFFFF)


@dataclass(frozen=True)
class LogAddr(Codec):
    width: int = 8

    def decode(self, text: str) -> LogAddress:
        return LogAddress(_hex_int(text))

    def encode(self, value: LogAddress | int) -> str:
        raw = value.raw if isinstance(value, LogAddress) else int(value)
        return f"{raw:08X}"

    def to_json(self, value: LogAddress) -> int | None:
        return value.block


@dataclass(frozen=True)
class HzCode(Codec):
    """Mains frequency byte: 85 = 50 Hz, C5 = 60 Hz; the stick says 80."""

    width: int = 2

    def decode(self, text: str) -> int:
        return _hex_int(text)

    def encode(self, value: int) -> str:
        return f"{int(value):02X}"

    def to_json(self, value: int) -> int | None:
        return units.hz_from_code(value)


@dataclass(frozen=True)
class NodeType(Codec):
    width: int = 2

    def decode(self, text: str) -> int:
        return _hex_int(text)

    def encode(self, value: int) -> str:
        return f"{int(value):02X}"

    def to_json(self, value: int) -> str:
        return units.node_type_name(value)


@dataclass(frozen=True)
class LogEntry:
    """One 8-byte log-buffer entry; `when` marks the end of its interval.

    `raw_datetime` keeps what was sent, so old firmware's hour counters
    (which are not dates) stay visible instead of vanishing."""

    when: datetime | None
    pulses: int
    raw_datetime: int | None = None

    @property
    def written(self) -> bool:
        return (
            self.raw_datetime != units.UNWRITTEN if self.raw_datetime is not None else self.when is not None
        )

    @property
    def valid(self) -> bool:
        return self.when is not None


UNWRITTEN_ENTRY = LogEntry(None, -1, units.UNWRITTEN)


@dataclass(frozen=True)
class LogEntryCodec(Codec):
    width: int = 16

    def decode(self, text: str) -> LogEntry:
        if text[:8] == "FFFFFFFF" or text[8:] == "FFFFFFFF":
            return UNWRITTEN_ENTRY
        raw = _hex_int(text[:8])
        return LogEntry(units.decode_y2k(raw), SInt(8).decode(text[8:]), raw)

    def encode(self, value: LogEntry) -> str:
        if not value.written:
            return "F" * 16
        if value.when is None:
            stamp = f"{value.raw_datetime or 0:08X}"
        else:
            stamp = Y2KDateTime().encode(value.when)
        return stamp + SInt(8).encode(value.pulses)

    def to_json(self, value: LogEntry) -> dict[str, Any] | None:
        if not value.written:
            return None
        out: dict[str, Any] = {"datetime": units.iso(value.when), "pulses": value.pulses}
        if value.when is None:
            out["datetime_raw"] = f"{value.raw_datetime or 0:08X}"
        return out


@dataclass(frozen=True)
class Repeat(Codec):
    """`count` consecutive values of one codec, as a tuple."""

    item: Codec
    count: int

    @property
    def width(self) -> int:  # type: ignore[override]
        return self.item.width * self.count

    def decode(self, text: str) -> tuple[Any, ...]:
        w = self.item.width
        return tuple(self.item.decode(text[i * w : (i + 1) * w]) for i in range(self.count))

    def encode(self, value: Any) -> str:
        values = tuple(value)
        if len(values) != self.count:
            raise FieldError(f"expected {self.count} values, got {len(values)}")
        return "".join(self.item.encode(v) for v in values)

    def to_json(self, value: Any) -> list[Any]:
        return [self.item.to_json(v) for v in value]
