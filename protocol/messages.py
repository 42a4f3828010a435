"""The message catalogue (PROTOCOL.md B §2–§3), declared as data.

Each message is a frozen dataclass whose fields carry their codec in the
field metadata; `encode()` and `decode()` below are the only code that lays
out or parses a payload.  Requests go host → stick (ID + fields), responses
come back (ID + SEQ + fields).  A field may be marked optional: it is decoded
only when the frame still has characters left, which covers the short and
long forms of `0000` and `0011`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from . import units
from .fields import (
    KEEP_LOG_ADDRESS,
    Bool,
    Codec,
    Dec,
    FieldError,
    Float32,
    Hex,
    HzCode,
    Int,
    LogAddr,
    LogAddress,
    LogEntry,
    LogEntryCodec,
    Mac,
    NodeType,
    Repeat,
    SInt,
    Status,
    UnixDate,
    Y2KDateTime,
)


class DecodeError(ValueError):
    """A body that does not match its message's layout."""


def f(codec: Codec, default: Any = dataclasses.MISSING, optional: bool = False) -> Any:
    """Declare a wire field: its codec, and optionally a default or optional flag."""
    meta = {"codec": codec, "optional": optional}
    if optional and default is dataclasses.MISSING:
        default = None
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class Message:
    ID: ClassVar[str] = ""
    NAME: ClassVar[str] = ""
    RESPONSE: ClassVar[bool] = False
    #: Names of properties added to the JSON form (derived values).
    EXTRAS: ClassVar[tuple[str, ...]] = ()
    seq: int | None = None


@dataclass(frozen=True, kw_only=True)
class Request(Message):
    """A host → stick message.  Each request declares how it ends (`protocol.link` reads this):
    `REPLY`, the ID of the node's reply; `ACK_OK`/`ACK_REFUSED`, the `0000` status codes by
    which a node confirms or refuses it.  A request with none of them ends at the stick's own
    `00C1`."""

    REPLY: ClassVar[str | None] = None
    ACK_OK: ClassVar[frozenset[int]] = frozenset()
    ACK_REFUSED: ClassVar[frozenset[int]] = frozenset()


@dataclass(frozen=True, kw_only=True)
class Response(Message):
    RESPONSE: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class UnknownMessage(Message):
    """A frame whose ID is not in the catalogue; kept, never an error."""

    message_id: str
    payload: str
    NAME: ClassVar[str] = "unknown"


CATALOGUE: dict[str, type[Message]] = {}
M = TypeVar("M", bound=type[Message])


def message(cls: M) -> M:
    if cls.ID in CATALOGUE:
        raise RuntimeError(f"duplicate message id {cls.ID}")
    CATALOGUE[cls.ID] = cls
    return cls


MAC = Mac()
BYTE = Int(2)
WORD = Int(4)

# --- acks ---------------------------------------------------------------------

ACCEPTED = 0x00C1
CRC_ERROR = 0x00C2
TIMEOUT = 0x00E1


@message
@dataclass(frozen=True, kw_only=True)
class Ack(Response):
    """`0000`: the stick's own ack (short) or a node's confirmation (with MAC)."""

    ID: ClassVar[str] = "0000"
    NAME: ClassVar[str] = "ack"
    EXTRAS: ClassVar[tuple[str, ...]] = ("status_name",)
    status: int = f(Status())
    mac: str | None = f(MAC, optional=True)

    @property
    def status_name(self) -> str:
        return units.ack_name(self.status)


@message
@dataclass(frozen=True, kw_only=True)
class AckV2(Response):
    ID: ClassVar[str] = "0100"
    NAME: ClassVar[str] = "ack_v2"
    EXTRAS: ClassVar[tuple[str, ...]] = ("status_name",)
    mac: str = f(MAC)
    status: int = f(Status())

    @property
    def status_name(self) -> str:
        return units.ack_name(self.status)


# --- stick and network set-up (B §3.1) --------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class StickInitRequest(Request):
    ID: ClassVar[str] = "000A"
    NAME: ClassVar[str] = "stick_init"
    REPLY: ClassVar[str | None] = "0011"


@message
@dataclass(frozen=True, kw_only=True)
class StickInitResponse(Response):
    ID: ClassVar[str] = "0011"
    NAME: ClassVar[str] = "stick_init_response"
    EXTRAS: ClassVar[tuple[str, ...]] = ("circle_plus_mac",)
    mac: str = f(MAC)
    unknown: int = f(BYTE, default=1)
    network_online: bool = f(Bool(), default=False)
    network_id: str | None = f(Hex(16), optional=True)
    short_network_id: str | None = f(Hex(4), optional=True)
    trailer: str | None = f(Hex(2), optional=True)

    @property
    def circle_plus_mac(self) -> str | None:
        if not self.network_id:
            return None
        return "00" + self.network_id[2:]


@message
@dataclass(frozen=True, kw_only=True)
class NetworkQueryRequest(Request):
    ID: ClassVar[str] = "0001"
    NAME: ClassVar[str] = "network_query"


@message
@dataclass(frozen=True, kw_only=True)
class NetworkInfoResponse(Response):
    ID: ClassVar[str] = "0002"
    NAME: ClassVar[str] = "network_info"
    EXTRAS: ClassVar[tuple[str, ...]] = ("new_node_mac",)
    channel: int = f(BYTE)
    source_mac: str = f(MAC)
    ext_pan_id: str = f(Hex(16))
    unique_network_id: str = f(Hex(16))
    new_node_mac_raw: str = f(Hex(16))
    pan_id: str = f(Hex(4))
    index: int = f(BYTE)

    @property
    def new_node_mac(self) -> str:
        """Its first byte belongs to the short PAN id; the MAC has `00` there (B §3.1)."""
        return "00" + self.new_node_mac_raw[2:]


@message
@dataclass(frozen=True, kw_only=True)
class NetworkQueryEndResponse(Response):
    ID: ClassVar[str] = "0003"
    NAME: ClassVar[str] = "network_query_end"
    status: int = f(Status())


@message
@dataclass(frozen=True, kw_only=True)
class ConnectRequest(Request):
    """`0004`: connect the stick to a Circle+; the MAC goes last."""

    ID: ClassVar[str] = "0004"
    NAME: ClassVar[str] = "connect"
    key: str = f(Hex(20), default="0" * 20)
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class ConnectResponse(Response):
    ID: ClassVar[str] = "0005"
    NAME: ClassVar[str] = "connect_response"
    existing: bool = f(Bool())
    allowed: bool = f(Bool())


@message
@dataclass(frozen=True, kw_only=True)
class AdvertiseResponse(Response):
    """`0006`: an unjoined node offering itself (unsolicited)."""

    ID: ClassVar[str] = "0006"
    NAME: ClassVar[str] = "advertise"
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class JoinAcceptRequest(Request):
    """`0007`: accept (or reject) an advertising node; the MAC goes last."""

    ID: ClassVar[str] = "0007"
    NAME: ClassVar[str] = "join_accept"
    accept: bool = f(Bool(), default=True)
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class JoiningEnableRequest(Request):
    ID: ClassVar[str] = "0008"
    NAME: ClassVar[str] = "joining_enable"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00D9, 0x00DD})
    enable: bool = f(Bool(), default=True)


@message
@dataclass(frozen=True, kw_only=True)
class ResetRequest(Request):
    ID: ClassVar[str] = "0009"
    NAME: ClassVar[str] = "reset"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00F2})
    mac: str = f(MAC)
    node_type: int = f(NodeType(), default=2)
    timeout: int = f(BYTE, default=4)


@message
@dataclass(frozen=True, kw_only=True)
class NetworkUnknownRequest(Request):
    ID: ClassVar[str] = "004E"
    NAME: ClassVar[str] = "network_004e"
    value: str = f(Hex(16), default="0" * 16)


@message
@dataclass(frozen=True, kw_only=True)
class JoinedResponse(Response):
    """`0061`: a node joined or re-joined (SEQ FFFD)."""

    ID: ClassVar[str] = "0061"
    NAME: ClassVar[str] = "joined"
    mac: str = f(MAC)


# --- node queries and commands (B §3.2) ----------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class PingRequest(Request):
    ID: ClassVar[str] = "000D"
    NAME: ClassVar[str] = "ping"
    REPLY: ClassVar[str | None] = "000E"
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class PingResponse(Response):
    ID: ClassVar[str] = "000E"
    NAME: ClassVar[str] = "ping_response"
    mac: str = f(MAC)
    #: Signal strength in dBm, a signed byte (C5 = -59; issue 11, plugwise-usb).
    rssi_in_dbm: int = f(SInt(2))
    rssi_out_dbm: int = f(SInt(2))
    ping_ms: int = f(WORD)

    @property
    def rssi_in(self) -> int:
        """Alias of `rssi_in_dbm` for callers written before the rename."""
        return self.rssi_in_dbm

    @property
    def rssi_out(self) -> int:
        return self.rssi_out_dbm


@message
@dataclass(frozen=True, kw_only=True)
class PowerRequest(Request):
    ID: ClassVar[str] = "0012"
    NAME: ClassVar[str] = "power"
    REPLY: ClassVar[str | None] = "0013"
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class PowerResponse(Response):
    ID: ClassVar[str] = "0013"
    NAME: ClassVar[str] = "power_response"
    mac: str = f(MAC)
    pulses_1s: int = f(SInt(4))
    pulses_8s: int = f(SInt(4))
    pulses_hour: int = f(Int(8))
    pulses_hour_production: int = f(SInt(8))
    offset: int = f(WORD, default=0)


@message
@dataclass(frozen=True, kw_only=True)
class ClockSetRequest(Request):
    """`0016`: set a circle's clock (UTC). The log address stays FFFFFFFF (A §8)."""

    ID: ClassVar[str] = "0016"
    NAME: ClassVar[str] = "clock_set"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00D7})
    EXTRAS: ClassVar[tuple[str, ...]] = ("log_address_raw",)
    mac: str = f(MAC)
    datetime: datetime | None = f(Y2KDateTime())
    log_address: LogAddress = f(LogAddr(), default=KEEP_LOG_ADDRESS)
    hour: int = f(BYTE)
    minute: int = f(BYTE)
    second: int = f(BYTE)
    day_of_week: int = f(BYTE)

    @property
    def log_address_raw(self) -> str:
        return f"{self.log_address.raw:08X}"

    @classmethod
    def at(cls, mac: str, when: dt.datetime) -> ClockSetRequest:
        when = units.to_utc(when)
        return cls(
            mac=mac,
            datetime=when,
            hour=when.hour,
            minute=when.minute,
            second=when.second,
            day_of_week=units.weekday(when),
        )


@message
@dataclass(frozen=True, kw_only=True)
class SwitchRequest(Request):
    ID: ClassVar[str] = "0017"
    NAME: ClassVar[str] = "switch"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00D8, 0x00DE})
    ACK_REFUSED: ClassVar[frozenset[int]] = frozenset({0x00E2})
    mac: str = f(MAC)
    relay: bool = f(Bool())


@message
@dataclass(frozen=True, kw_only=True)
class NodeTableRequest(Request):
    ID: ClassVar[str] = "0018"
    NAME: ClassVar[str] = "node_table"
    REPLY: ClassVar[str | None] = "0019"
    mac: str = f(MAC)
    index: int = f(BYTE)


EMPTY_MAC = "FFFFFFFFFFFFFFFF"


@message
@dataclass(frozen=True, kw_only=True)
class NodeTableResponse(Response):
    ID: ClassVar[str] = "0019"
    NAME: ClassVar[str] = "node_table_response"
    mac: str = f(MAC)
    node_mac: str = f(MAC)
    index: int = f(BYTE)

    @property
    def empty(self) -> bool:
        return self.node_mac == EMPTY_MAC


@message
@dataclass(frozen=True, kw_only=True)
class RemoveNodeRequest(Request):
    ID: ClassVar[str] = "001C"
    NAME: ClassVar[str] = "remove_node"
    REPLY: ClassVar[str | None] = "001D"
    mac: str = f(MAC)
    remove_mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class RemoveNodeResponse(Response):
    ID: ClassVar[str] = "001D"
    NAME: ClassVar[str] = "remove_node_response"
    mac: str = f(MAC)
    removed_mac: str = f(MAC)
    status: int = f(BYTE)


@message
@dataclass(frozen=True, kw_only=True)
class InfoRequest(Request):
    ID: ClassVar[str] = "0023"
    NAME: ClassVar[str] = "info"
    REPLY: ClassVar[str | None] = "0024"
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class InfoResponse(Response):
    ID: ClassVar[str] = "0024"
    NAME: ClassVar[str] = "info_response"
    EXTRAS: ClassVar[tuple[str, ...]] = ("log_slot", "model")
    mac: str = f(MAC)
    datetime: datetime | None = f(Y2KDateTime())
    log_address: LogAddress = f(LogAddr())
    relay: bool = f(Bool())
    hz: int = f(HzCode())
    hw_version: str = f(Hex(12))
    fw_version: dt.datetime = f(UnixDate())
    node_type: int = f(NodeType())

    @property
    def log_slot(self) -> int | None:
        return self.log_address.slot

    @property
    def model(self) -> str | None:
        return units.hw_model(self.hw_version)


@message
@dataclass(frozen=True, kw_only=True)
class CalibrationRequest(Request):
    ID: ClassVar[str] = "0026"
    NAME: ClassVar[str] = "calibration"
    REPLY: ClassVar[str | None] = "0027"
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class CalibrationResponse(Response):
    ID: ClassVar[str] = "0027"
    NAME: ClassVar[str] = "calibration_response"
    mac: str = f(MAC)
    gain_a: float = f(Float32())
    gain_b: float = f(Float32())
    off_tot: float = f(Float32())
    off_noise: float = f(Float32())

    @property
    def calibration(self) -> units.Calibration:
        return units.Calibration(self.gain_a, self.gain_b, self.off_tot, self.off_noise)


@dataclass(frozen=True, kw_only=True)
class _RtcFields(Message):
    """Circle+ real-time clock, each field two decimal digits, UTC."""

    EXTRAS: ClassVar[tuple[str, ...]] = ("datetime",)
    mac: str = f(MAC)
    second: int = f(Dec())
    minute: int = f(Dec())
    hour: int = f(Dec())
    day_of_week: int = f(Dec())
    day: int = f(Dec())
    month: int = f(Dec())
    year: int = f(Dec(offset=2000))

    @property
    def datetime(self) -> datetime | None:
        try:
            return datetime(self.year, self.month, self.day, self.hour, self.minute, self.second, tzinfo=UTC)
        except ValueError:
            return None

    @classmethod
    def at(cls, mac: str, when: dt.datetime) -> Any:
        when = units.to_utc(when)
        return cls(
            mac=mac,
            second=when.second,
            minute=when.minute,
            hour=when.hour,
            day_of_week=units.weekday(when),
            day=when.day,
            month=when.month,
            year=when.year,
        )


@message
@dataclass(frozen=True, kw_only=True)
class RtcSetRequest(_RtcFields, Request):
    ID: ClassVar[str] = "0028"
    NAME: ClassVar[str] = "rtc_set"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00DF})
    ACK_REFUSED: ClassVar[frozenset[int]] = frozenset({0x00E7})


@message
@dataclass(frozen=True, kw_only=True)
class RtcGetRequest(Request):
    ID: ClassVar[str] = "0029"
    NAME: ClassVar[str] = "rtc_get"
    REPLY: ClassVar[str | None] = "003A"
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class RtcResponse(_RtcFields, Response):
    ID: ClassVar[str] = "003A"
    NAME: ClassVar[str] = "rtc_response"


@message
@dataclass(frozen=True, kw_only=True)
class ClockGetRequest(Request):
    ID: ClassVar[str] = "003E"
    NAME: ClassVar[str] = "clock_get"
    REPLY: ClassVar[str | None] = "003F"
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class ClockResponse(Response):
    ID: ClassVar[str] = "003F"
    NAME: ClassVar[str] = "clock_response"
    mac: str = f(MAC)
    hour: int = f(BYTE)
    minute: int = f(BYTE)
    second: int = f(BYTE)
    day_of_week: int = f(BYTE)
    unknown: int = f(BYTE, default=1)
    schedule_crc: str = f(Hex(4))


@message
@dataclass(frozen=True, kw_only=True)
class LogBlockRequest(Request):
    ID: ClassVar[str] = "0048"
    NAME: ClassVar[str] = "log_block"
    REPLY: ClassVar[str | None] = "0049"
    mac: str = f(MAC)
    log_address: LogAddress = f(LogAddr())


@message
@dataclass(frozen=True, kw_only=True)
class LogBlockResponse(Response):
    ID: ClassVar[str] = "0049"
    NAME: ClassVar[str] = "log_block_response"
    mac: str = f(MAC)
    entries: tuple[LogEntry, ...] = f(Repeat(LogEntryCodec(), 4))
    log_address: LogAddress = f(LogAddr())


@message
@dataclass(frozen=True, kw_only=True)
class BroadcastIntervalRequest(Request):
    ID: ClassVar[str] = "004A"
    NAME: ClassVar[str] = "broadcast_interval"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00F1})
    mac: str = f(MAC)
    seconds: int = f(BYTE)
    enable: bool = f(Bool(), default=True)


@message
@dataclass(frozen=True, kw_only=True)
class LogIntervalRequest(Request):
    ID: ClassVar[str] = "0057"
    NAME: ClassVar[str] = "log_interval"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00F8})
    mac: str = f(MAC)
    consumption: int = f(WORD)
    production: int = f(WORD)


@message
@dataclass(frozen=True, kw_only=True)
class ClearGroupRequest(Request):
    ID: ClassVar[str] = "0058"
    NAME: ClassVar[str] = "clear_group"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00F9})
    mac: str = f(MAC)
    task_id: int = f(BYTE, default=0)


@message
@dataclass(frozen=True, kw_only=True)
class FeaturesRequest(Request):
    ID: ClassVar[str] = "005F"
    NAME: ClassVar[str] = "features"
    REPLY: ClassVar[str | None] = "0060"
    mac: str = f(MAC)


@message
@dataclass(frozen=True, kw_only=True)
class FeaturesResponse(Response):
    ID: ClassVar[str] = "0060"
    NAME: ClassVar[str] = "features_response"
    mac: str = f(MAC)
    features: str = f(Hex(16))


@message
@dataclass(frozen=True, kw_only=True)
class RelayInitRequest(Request):
    ID: ClassVar[str] = "0138"
    NAME: ClassVar[str] = "relay_init"
    REPLY: ClassVar[str | None] = "0139"
    mac: str = f(MAC)
    set: int = f(BYTE, default=0)
    relay: int = f(BYTE, default=0)


@message
@dataclass(frozen=True, kw_only=True)
class RelayInitResponse(Response):
    ID: ClassVar[str] = "0139"
    NAME: ClassVar[str] = "relay_init_response"
    mac: str = f(MAC)
    set: int = f(BYTE)
    relay: int = f(BYTE)


# --- schedules (B §3.3) -------------------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class ScheduleBufferRequest(Request):
    """`003B`: load 8 slots into the stick's buffer; no MAC."""

    ID: ClassVar[str] = "003B"
    NAME: ClassVar[str] = "schedule_buffer"
    offset: int = f(WORD)
    values: tuple[int, ...] = f(Repeat(SInt(4), 8))


@message
@dataclass(frozen=True, kw_only=True)
class ScheduleCommitRequest(Request):
    ID: ClassVar[str] = "003C"
    NAME: ClassVar[str] = "schedule_commit"
    REPLY: ClassVar[str | None] = "003D"
    mac: str = f(MAC)
    index: int = f(BYTE)


@message
@dataclass(frozen=True, kw_only=True)
class ScheduleCommitResponse(Response):
    ID: ClassVar[str] = "003D"
    NAME: ClassVar[str] = "schedule_commit_response"
    mac: str = f(MAC)
    index: int = f(BYTE)


@message
@dataclass(frozen=True, kw_only=True)
class ScheduleEnableRequest(Request):
    ID: ClassVar[str] = "0040"
    NAME: ClassVar[str] = "schedule_enable"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00E4, 0x00E5})
    mac: str = f(MAC)
    enabled: bool = f(Bool())
    flag: int = f(BYTE, default=1)


@message
@dataclass(frozen=True, kw_only=True)
class ScheduleValueRequest(Request):
    ID: ClassVar[str] = "0059"
    NAME: ClassVar[str] = "schedule_value"
    ACK_OK: ClassVar[frozenset[int]] = frozenset({0x00FA})
    mac: str = f(MAC)
    value: int = f(SInt(4))


# --- sleeping end devices (B §3.4): decoded so logs read well ------------------


@message
@dataclass(frozen=True, kw_only=True)
class AwakeResponse(Response):
    ID: ClassVar[str] = "004F"
    NAME: ClassVar[str] = "awake"
    EXTRAS: ClassVar[tuple[str, ...]] = ("reason_name",)
    mac: str = f(MAC)
    reason: int = f(BYTE)

    @property
    def reason_name(self) -> str:
        return units.awake_reason_name(self.reason)


@message
@dataclass(frozen=True, kw_only=True)
class SleepConfigRequest(Request):
    ID: ClassVar[str] = "0050"
    NAME: ClassVar[str] = "sleep_config"
    mac: str = f(MAC)
    config: str = f(Hex(16))


@message
@dataclass(frozen=True, kw_only=True)
class GroupSwitchResponse(Response):
    ID: ClassVar[str] = "0056"
    NAME: ClassVar[str] = "group_switch"
    mac: str = f(MAC)
    group: int = f(BYTE)
    state: int = f(BYTE)


@message
@dataclass(frozen=True, kw_only=True)
class SenseReportResponse(Response):
    ID: ClassVar[str] = "0105"
    NAME: ClassVar[str] = "sense_report"
    mac: str = f(MAC)
    humidity_raw: int = f(WORD)
    temperature_raw: int = f(WORD)


# --- the generic codec ------------------------------------------------------------


def wire_fields(cls: type[Message]) -> list[dataclasses.Field[Any]]:
    return [fl for fl in dataclasses.fields(cls) if "codec" in fl.metadata]


def encode(msg: Message) -> str:
    """The frame body (without CRC) of a message."""
    if isinstance(msg, UnknownMessage):
        seq = f"{msg.seq:04X}" if msg.seq is not None else ""
        return msg.message_id + seq + msg.payload
    parts = [msg.ID]
    if msg.RESPONSE:
        if msg.seq is None:
            raise FieldError(f"{msg.NAME}: a response needs a sequence number")
        parts.append(f"{msg.seq:04X}")
    for fl in wire_fields(type(msg)):
        value = getattr(msg, fl.name)
        if value is None and fl.metadata["optional"]:
            break
        try:
            parts.append(fl.metadata["codec"].encode(value))
        except (FieldError, TypeError, ValueError, AttributeError) as exc:
            raise FieldError(f"{msg.NAME}.{fl.name}: {exc}") from None
    return "".join(parts)


def _decode_fields(cls: type[Message], text: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    pos = 0
    for fl in wire_fields(cls):
        codec: Codec = fl.metadata["codec"]
        if pos + codec.width > len(text):
            if fl.metadata["optional"] and pos == len(text):
                break
            raise DecodeError(f"{cls.ID} {cls.NAME}: body too short for field {fl.name}")
        try:
            values[fl.name] = codec.decode(text[pos : pos + codec.width])
        except FieldError as exc:
            raise DecodeError(f"{cls.ID} {cls.NAME}: field {fl.name}: {exc}") from None
        pos += codec.width
    if pos != len(text):
        raise DecodeError(
            f"{cls.ID} {cls.NAME}: {len(text) - pos} unexpected characters after the last field"
        )
    return values


def decode(body: str) -> Message:
    """Decode a frame body (without CRC).

    Unknown IDs give an `UnknownMessage`; a known ID whose body does not fit
    its layout raises DecodeError.  Old v1 firmware sent responses without a
    SEQ; those decode with `seq=None`.
    """
    if len(body) < 4:
        raise DecodeError(f"body too short: {body!r}")
    mid, rest = body[:4], body[4:]
    cls = CATALOGUE.get(mid)
    if cls is None:
        if len(rest) >= 4:
            try:
                return UnknownMessage(message_id=mid, seq=int(rest[:4], 16), payload=rest[4:])
            except ValueError:
                pass
        return UnknownMessage(message_id=mid, seq=None, payload=rest)
    if not cls.RESPONSE:
        return cls(**_decode_fields(cls, rest))
    try:
        if len(rest) < 4:
            raise DecodeError(f"{mid} {cls.NAME}: no sequence number")
        seq = int(rest[:4], 16)
        return cls(seq=seq, **_decode_fields(cls, rest[4:]))
    except (DecodeError, ValueError) as first:
        try:
            return cls(seq=None, **_decode_fields(cls, rest))
        except DecodeError:
            raise DecodeError(str(first)) from None


def to_json(msg: Message) -> dict[str, Any]:
    """Field values in plain units, as `pwtui decode` prints them."""
    if isinstance(msg, UnknownMessage):
        return {"payload": msg.payload}
    out: dict[str, Any] = {}
    for fl in wire_fields(type(msg)):
        value = getattr(msg, fl.name)
        if value is None and fl.metadata["optional"]:
            continue
        out[fl.name] = fl.metadata["codec"].to_json(value)
    for extra in msg.EXTRAS:
        value = getattr(msg, extra)
        out[extra] = units.iso(value) if isinstance(value, datetime) else value
    return out
