"""Property tests: every message round-trips; the stream decoder survives junk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import fields as F
from protocol import messages
from protocol.frames import HEADER, FrameDecoder, encode_frame

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
