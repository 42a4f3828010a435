"""Property tests: every message round-trips; the stream decoder survives junk."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import fields as F
from protocol import messages
from protocol.frames import HEADER, MAX_BODY, FrameDecoder, crc16, encode_frame

HEX = "0123456789ABCDEF"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def minute_datetimes() -> st.SearchStrategy[datetime]:
    return st.integers(0, 99 * 365 * 1440).map(lambda m: EPOCH + timedelta(minutes=m))


def strategy_for(codec: F.Codec) -> st.SearchStrategy:
    if isinstance(codec, F.Repeat):
        return st.tuples(*[strategy_for(codec.item)] * codec.count)
    if isinstance(codec, (F.Status,)):
        return st.integers(0, 0xFFFF)
    if isinstance(codec, (F.HzCode, F.NodeType)):
        return st.integers(0, 255)
    if isinstance(codec, F.Int):
        return st.integers(0, 16**codec.width - 1)
    if isinstance(codec, F.SInt):
        half = 1 << (4 * codec.width - 1)
        return st.integers(-half, half - 1)
    if isinstance(codec, F.Bool):
        return st.booleans()
    if isinstance(codec, F.Float32):
        return st.floats(width=32, allow_nan=False)
    if isinstance(codec, F.Hex):
        return st.text(HEX, min_size=codec.width, max_size=codec.width)
    if isinstance(codec, F.Dec):
        return st.integers(0, 99).map(lambda v: v + codec.offset)
    if isinstance(codec, F.Y2KDateTime):
        return minute_datetimes()
    if isinstance(codec, F.UnixDate):
        return st.integers(0, 2**32 - 1).map(lambda s: datetime.fromtimestamp(s, tz=UTC))
    if isinstance(codec, F.LogAddr):
        return st.integers(0, 2**32 - 1).map(F.LogAddress)
    if isinstance(codec, F.LogEntryCodec):
        written = st.builds(
            lambda when, pulses: F.LogEntry(when, pulses, F.units.encode_y2k(when)),
            minute_datetimes(),
            st.integers(-(2**31), 2**31 - 2),
        )
        return st.one_of(written, st.just(F.UNWRITTEN_ENTRY))
    raise AssertionError(f"no strategy for {codec!r}")


@st.composite
def any_message(draw: st.DrawFn) -> messages.Message:
    cls = draw(st.sampled_from(sorted(messages.CATALOGUE.values(), key=lambda c: c.ID)))
    kwargs = {}
    optional_cut = False
    for fl in messages.wire_fields(cls):
        if fl.metadata["optional"] and (optional_cut or draw(st.booleans())):
            optional_cut = True
            kwargs[fl.name] = None
            continue
        kwargs[fl.name] = draw(strategy_for(fl.metadata["codec"]))
    if cls.RESPONSE:
        kwargs["seq"] = draw(st.integers(0, 0xFFFF))
    return cls(**kwargs)


@settings(max_examples=600)
@given(any_message())
def test_every_message_round_trips(msg: messages.Message) -> None:
    body = messages.encode(msg)
    back = messages.decode(body)
    assert type(back) is type(msg)
    assert back == msg
    assert messages.encode(back) == body


def test_catalogue_covers_the_reference() -> None:
    ids = set(messages.CATALOGUE)
    needed = {
        "0000",
        "000A",
        "0011",
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "004E",
        "0061",
        "000D",
        "000E",
        "0012",
        "0013",
        "0016",
        "0017",
        "0018",
        "0019",
        "001C",
        "001D",
        "0023",
        "0024",
        "0026",
        "0027",
        "0028",
        "0029",
        "003A",
        "003E",
        "003F",
        "0040",
        "0048",
        "0049",
        "004A",
        "0057",
        "0058",
        "0059",
        "005F",
        "0060",
        "003B",
        "003C",
        "003D",
    }
    assert needed <= ids


def test_unknown_id_is_a_generic_frame_not_an_error() -> None:
    msg = messages.decode("AA7700120123")
    assert isinstance(msg, messages.UnknownMessage)
    assert msg.message_id == "AA77" and msg.seq == 0x0012 and msg.payload == "0123"


def test_mac_goes_last_for_0004_and_0007() -> None:
    assert messages.encode(messages.JoinAcceptRequest(mac="000D6F0000D3595D")) == "000701000D6F0000D3595D"
    body = messages.encode(messages.ConnectRequest(mac="000D6F0001A5A372"))
    assert body == "0004" + "0" * 20 + "000D6F0001A5A372"


def test_0011_short_and_long_forms() -> None:
    short = messages.decode("0011000C000D6F0000B835CB0100")
    assert short == messages.StickInitResponse(
        seq=0x000C, mac="000D6F0000B835CB", unknown=1, network_online=False
    )
    assert short.circle_plus_mac is None
    long = messages.decode("001100E7000D6F0001A59EDC0101FD0D6F0001A5A37234FDFF")
    assert long == messages.StickInitResponse(
        seq=0x00E7,
        mac="000D6F0001A59EDC",
        unknown=1,
        network_online=True,
        network_id="FD0D6F0001A5A372",
        short_network_id="34FD",
        trailer="FF",
    )
    assert long.circle_plus_mac == "000D6F0001A5A372"


def test_wrong_length_known_id_raises_decode_error() -> None:
    with pytest.raises(
        messages.DecodeError, match=r"^0013 power_response: body too short for field pulses_8s$"
    ):
        messages.decode("001300F2000D6F0001A20F970002")
    with pytest.raises(
        messages.DecodeError, match=r"^0012 power: 2 unexpected characters after the last field$"
    ):
        messages.decode("0012000D6F0001A20F9700")


# --- stream decoder ------------------------------------------------------------------

JUNK_PIECES = [
    b"\x83",
    b"# APSRequestNodeInfo: Source MAC: 000D6F0001A59EDC# APSRequestNodeInfo: Destination MAC: \r\n",
    b"000D6F0001A20F97\r\n",
    b"\x05",
    b"\x05\x05",
    b"\x05\x05\x03",
    b"\x05\x05\x03\x030013",
    b"\r\n",
    b"PutFifoUnicast 33 : Handle 129 : 000D6F0001A20F97\r\n",
    b"\x05\x05\x03\x03ZZZZ\r\n",
    b"\x05\x05\x03\x030000000100C1FEEE\r\n",  # bad CRC
]
junk = st.one_of(
    st.sampled_from(JUNK_PIECES),
    st.binary(max_size=40).map(lambda b: b.replace(b"\x05", b"")),
)


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(any_message().map(lambda m: ("frame", m)), junk.map(lambda j: ("junk", j))), max_size=25
    ),
    st.lists(st.integers(1, 50), min_size=1, max_size=30),
)
def test_stream_decoder_keeps_every_valid_frame(items: list, cuts: list[int]) -> None:
    stream = b""
    expected = []
    for kind, value in items:
        if kind == "frame":
            body = messages.encode(value)
            expected.append(body)
            stream += encode_frame(body)
        else:
            stream += value
    stream += b"\x05\x05\x03\x030000"  # a trailing partial frame stays buffered, not delivered
    dec = FrameDecoder()
    got = []
    pos = 0
    i = 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        got.extend(fr.body for fr in dec.feed(stream[pos : pos + n]))
        pos += n
        i += 1
    assert got == expected
    assert dec.stats.frames == len(expected)
    assert dec.buffered == len(b"\x05\x05\x03\x030000")  # the partial frame waits for more


def test_unbounded_garbage_keeps_memory_bounded() -> None:
    dec = FrameDecoder()
    for _ in range(2000):
        dec.feed(b"garbage without a header " * 20)
    assert dec.buffered <= 3
    dec.feed(HEADER + b"0" * 100_000)
    assert dec.buffered < 400
    assert dec.feed(encode_frame("000A")) and dec.stats.malformed >= 1


def test_frame_split_inside_header() -> None:
    dec = FrameDecoder()
    frame = b"\x83" + encode_frame("0000000100C1")
    out = []
    for b in frame:
        out += dec.feed(bytes([b]))
    assert [f.body for f in out] == ["0000000100C1"]


# --- edges found by mutation testing (make mutate, docs/MUTANTS.md) ---------------------


def test_crc16_of_text_and_bytes() -> None:
    assert crc16("000A") == crc16(b"000A") == "B43C"
    assert crc16("0000000100C1") == "FEED"


def test_clean_stream_counts_frames_and_no_junk() -> None:
    dec = FrameDecoder()
    frames = dec.feed(encode_frame("000A") + encode_frame("0000000100C1"))
    assert [f.body for f in frames] == ["000A", "0000000100C1"]
    assert [f.crc for f in frames] == ["B43C", "FEED"] and all(f.crc_ok for f in frames)
    assert (dec.stats.frames, dec.stats.junk_bytes, dec.stats.malformed, dec.stats.bad_crc) == (2, 0, 0, 0)
    assert dec.buffered == 0


def test_junk_and_partial_header_are_counted_exactly() -> None:
    dec = FrameDecoder()
    assert dec.feed(b"xy\x05") == []
    assert (dec.stats.junk_bytes, dec.buffered) == (2, 1)  # a lone 05 may start a header
    assert dec.feed(b"abc") == []
    assert (dec.stats.junk_bytes, dec.buffered) == (6, 0)
    assert dec.feed(b"\x83" + encode_frame("000A"))[0].body == "000A"
    assert dec.stats.junk_bytes == 7 and dec.stats.frames == 1


def test_bad_frames_never_hold_back_the_good_one_behind_them() -> None:
    good = encode_frame("000A")
    cases = {
        "cut off by a new header": HEADER + b"0000" + good,
        "not hex": HEADER + b"zz00000000\r\n" + good,
        "too short": HEADER + b"ABC\r\n" + good,
    }
    for name, data in cases.items():
        dec = FrameDecoder()
        assert [f.body for f in dec.feed(data + HEADER + b"0012")] == ["000A"], name
        assert (dec.stats.malformed, dec.stats.bad_crc, dec.buffered) == (1, 0, 8), name


def test_headers_without_footer_are_dropped_one_by_one() -> None:
    dec = FrameDecoder()
    assert dec.feed(HEADER + b"00" + HEADER + b"00" + HEADER + b"00") == []
    assert dec.stats.malformed == 2 and dec.buffered == 6 and dec.stats.junk_bytes == 12


def test_body_length_limit() -> None:
    longest = "0000" + "0" * (MAX_BODY - 4)
    assert [f.body for f in FrameDecoder().feed(encode_frame(longest))] == [longest]
    dec = FrameDecoder()
    assert dec.feed(encode_frame(longest + "0")) == [] and dec.stats.malformed == 1
    # without a footer: kept while it could still become a frame, dropped once it cannot
    waiting = FrameDecoder()
    waiting.feed(HEADER + b"0" * (MAX_BODY + 4))
    assert waiting.buffered == 4 + MAX_BODY + 4 and waiting.stats.malformed == 0
    waiting.feed(b"0")
    assert waiting.buffered == 0 and waiting.stats.malformed == 1


def test_bad_crcs_are_counted_and_kept_with_their_crc() -> None:
    dec = FrameDecoder(keep_bad=True)
    frames = dec.feed(b"\x05\x05\x03\x030000000100C1FEEE\r\n" * 2)
    assert [(f.body, f.crc, f.crc_ok) for f in frames] == [("0000000100C1", "FEEE", False)] * 2
    assert dec.stats.bad_crc == 2 and dec.stats.frames == 0


def test_field_edges() -> None:
    with pytest.raises(F.FieldError, match=r"^not decimal digits: 'AB'$"):
        F.Dec().decode("AB")
    # PROTOCOL A §5: FFFFFFFF in either half of a log entry = not written yet
    assert F.LogEntryCodec().decode("FFFFFFFF00000010") == F.UNWRITTEN_ENTRY
    assert F.LogEntryCodec().decode("110B1C5CFFFFFFFF") == F.UNWRITTEN_ENTRY
    assert F.LogEntryCodec().decode("110B1C5C000007C1").pulses == 0x7C1
    assert F.LogEntryCodec().encode(F.UNWRITTEN_ENTRY) == "FFFFFFFFFFFFFFFF"
    assert F.NodeType().to_json(2) == "circle"
    assert F.UnixDate().to_json(datetime(2011, 6, 27, 8, 52, 18, tzinfo=UTC)) == "2011-06-27T08:52:18Z"
    assert F.Y2KDateTime().to_json(datetime(2017, 11, 6, 1, 0, tzinfo=UTC)) == "2017-11-06T01:00:00Z"
    assert F.LogAddress.of(5, 2).raw == 0x44000 + 5 * 32 + 2 * 8
    assert F.LogAddress.of(5) == F.LogAddress(0x44000 + 5 * 32)


def test_log_entries_in_json() -> None:
    codec = F.LogEntryCodec()
    assert codec.to_json(codec.decode("110B1C5C000007C1")) == {
        "datetime": "2017-11-06T01:00:00Z",
        "pulses": 1985,
    }
    assert codec.to_json(codec.decode("0000338CFFFFFFE3")) == {
        "datetime": None,
        "pulses": -29,
        "datetime_raw": "0000338C",
    }
    assert codec.to_json(F.UNWRITTEN_ENTRY) is None
    block = messages.decode(
        "0049016C000D6F00002366BB110B1C5C000007C1FFFFFFFFFFFFFFFF0000338C0000001DFFFFFFFF0000000100044020"
    )
    assert messages.to_json(block)["entries"] == [
        {"datetime": "2017-11-06T01:00:00Z", "pulses": 1985},
        None,
        {"datetime": None, "pulses": 29, "datetime_raw": "0000338C"},
        None,
    ]


def test_to_json_of_optional_fields_extras_and_unknown_ids() -> None:
    short = messages.decode("0011000C000D6F0000B835CB0100")
    assert messages.to_json(short) == {
        "mac": "000D6F0000B835CB",
        "unknown": 1,
        "network_online": False,
        "circle_plus_mac": None,
    }
    long = messages.decode("001100E7000D6F0001A59EDC0101FD0D6F0001A5A37234FDFF")
    assert messages.to_json(long)["network_id"] == "FD0D6F0001A5A372"
    assert messages.to_json(long)["trailer"] == "FF"
    rtc = messages.decode("003A00EB000D6F0001A5A37257531404021117")
    assert messages.to_json(rtc)["datetime"] == "2017-11-02T14:53:57Z"
    assert messages.to_json(messages.decode("AA7700120123")) == {"payload": "0123"}


def test_a_body_cut_at_a_field_boundary_is_an_error() -> None:
    with pytest.raises(messages.DecodeError, match=r"^0012 power: body too short for field mac$"):
        messages.decode("0012")


def test_field_declarations() -> None:
    """`f()` marks wire fields; only fields declared optional may be missing from a body."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Probe(messages.Request):
        a: int = messages.f(messages.BYTE)
        b: int = messages.f(messages.BYTE, default=7)
        c: str | None = messages.f(messages.MAC, optional=True)

    a, b, c = dataclasses.fields(Probe)[1:]
    assert dict(a.metadata) == {"codec": messages.BYTE, "optional": False}
    assert a.default is dataclasses.MISSING
    assert b.default == 7 and dict(b.metadata) == {"codec": messages.BYTE, "optional": False}
    assert c.default is None and dict(c.metadata) == {"codec": messages.MAC, "optional": True}
    assert Probe(a=1).c is None


def test_catalogue_registration() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Extra(messages.Request):
        ID: ClassVar[str] = "FFF0"

    try:
        assert messages.message(Extra) is Extra and messages.CATALOGUE["FFF0"] is Extra
        with pytest.raises(RuntimeError, match=r"^duplicate message id FFF0$"):
            messages.message(Extra)
    finally:
        messages.CATALOGUE.pop("FFF0", None)


def test_field_limits_and_errors() -> None:
    assert F.Int(2).encode(255) == "FF" and F.Int(2).encode(0) == "00"
    for bad in (256, -1):
        with pytest.raises(F.FieldError, match=rf"^{bad} does not fit 2 hex digits$"):
            F.Int(2).encode(bad)
    s16 = F.SInt(4)
    assert (s16.encode(-32768), s16.encode(32767), s16.encode(-1)) == ("8000", "7FFF", "FFFF")
    assert (s16.decode("8000"), s16.decode("7FFF"), s16.decode("FFFF")) == (-32768, 32767, -1)
    for bad in (32768, -32769):
        with pytest.raises(F.FieldError, match=rf"^{bad} does not fit a signed 16-bit field$"):
            s16.encode(bad)
    assert F.Dec().encode(99) == "99" and F.Dec(offset=2000).encode(2000) == "00"
    for bad in (100, -1):
        with pytest.raises(F.FieldError, match=rf"^{bad} does not fit 2 decimal digits$"):
            F.Dec().encode(bad)
    with pytest.raises(F.FieldError, match=r"^1999 does not fit 2 decimal digits$"):
        F.Dec(offset=2000).encode(1999)
    with pytest.raises(F.FieldError, match=r"^'ABC' is not 4 hex digits$"):
        F.Hex(4).encode("abc")
    with pytest.raises(F.FieldError, match=r"^not hex: 'ZZ'$"):
        F.Int(2).decode("ZZ")
    with pytest.raises(F.FieldError, match=r"^expected 4 values, got 3$"):
        F.Repeat(F.SInt(4), 4).encode((1, 2, 3))
    assert F.LogAddr().encode(0x44020) == "00044020" == F.LogAddr().encode(F.LogAddress(0x44020))


def test_dates_are_utc_whatever_the_machine_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        build = F.UnixDate().decode("4E0844C2")
        assert build == datetime(2011, 6, 27, 8, 52, 18, tzinfo=UTC) and build.utcoffset() == timedelta(0)
        naive = datetime(2017, 11, 2, 14, 55)
        assert F.units.to_utc(naive) == datetime(2017, 11, 2, 14, 55, tzinfo=UTC)
        plus_one = datetime(2017, 11, 2, 15, 55, tzinfo=F.units.UTC).astimezone(
            __import__("datetime").timezone(timedelta(hours=1))
        )
        converted = F.units.to_utc(plus_one)
        assert converted == datetime(2017, 11, 2, 15, 55, tzinfo=UTC) and converted.utcoffset() == timedelta(
            0
        )
        assert converted.hour == 15
    finally:
        monkeypatch.undo()
        time.tzset()
    assert F.UnixDate().to_json(None) == ""  # type: ignore[arg-type]


def test_y2k_december_and_raw_zero() -> None:
    assert F.units.decode_y2k(0x110C0000) == datetime(2017, 12, 1, tzinfo=UTC)
    assert F.units.decode_y2k(0x00000000) is None  # what the stick reports about itself
    zero = F.LogEntry(None, 5, 0)  # written, but its stamp is no date
    assert F.LogEntryCodec().encode(zero) == "0000000000000005"
    assert F.LogEntryCodec().to_json(zero) == {"datetime": None, "pulses": 5, "datetime_raw": "00000000"}


def test_rtc_at_uses_utc_fields() -> None:
    when = datetime(2017, 11, 2, 15, 56, 7, tzinfo=timezone(timedelta(hours=1)))
    rtc = messages.RtcSetRequest.at("000D6F0001A5A372", when)
    assert (rtc.second, rtc.minute, rtc.hour, rtc.day_of_week, rtc.day, rtc.month, rtc.year) == (
        7,
        56,
        14,
        4,
        2,
        11,
        2017,
    )
    assert rtc.mac == "000D6F0001A5A372" and rtc.datetime == datetime(2017, 11, 2, 14, 56, 7, tzinfo=UTC)
    assert messages.encode(rtc) == "0028000D6F0001A5A372075614040211" + "17"


def test_decode_errors_name_the_message_and_field() -> None:
    with pytest.raises(messages.DecodeError, match=r"^body too short: '00'$"):
        messages.decode("00")
    with pytest.raises(messages.DecodeError, match=r"^0013 power_response: no sequence number$"):
        messages.decode("0013")
    # SEQ present but nothing after it: the error is about the fields, not the SEQ
    with pytest.raises(messages.DecodeError, match=r"^0013 power_response: body too short for field mac$"):
        messages.decode("00130001")
    with pytest.raises(messages.DecodeError, match=r"^0028 rtc_set: field year: not decimal digits: '1A'$"):
        messages.decode("0028000D6F0001A5A3720056140402111A")


def test_unknown_ids_keep_what_they_can() -> None:
    assert messages.decode("AA770012") == messages.UnknownMessage(message_id="AA77", seq=0x12, payload="")
    assert messages.decode("AA77XY") == messages.UnknownMessage(message_id="AA77", seq=None, payload="XY")
    assert messages.decode("AA77") == messages.UnknownMessage(message_id="AA77", seq=None, payload="")
    unknown = messages.UnknownMessage(message_id="AA77", seq=0x12, payload="0123")
    assert messages.encode(unknown) == "AA7700120123"
    assert messages.encode(messages.UnknownMessage(message_id="AA77", seq=None, payload="0123")) == "AA770123"


def test_encode_errors_name_the_message_and_field() -> None:
    with pytest.raises(F.FieldError, match=r"^ack: a response needs a sequence number$"):
        messages.encode(messages.Ack(status=0x00C1))
    with pytest.raises(F.FieldError, match=r"^power.mac: 'XYZ' is not 16 hex digits$"):
        messages.encode(messages.PowerRequest(mac="XYZ"))


def test_every_malformed_frame_is_counted() -> None:
    dec = FrameDecoder()
    assert dec.feed(HEADER + b"zz00000000\r\n" + HEADER + b"ABC\r\n") == []
    assert dec.stats.malformed == 2
