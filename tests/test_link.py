"""The sans-I/O link core, fed frames by hand: no threads, no ports, a clock we move ourselves.

Frames come from the shared vectors (real captures where they exist) and PROTOCOL.md; the
few replies no capture has are built with the codec and named as such.
"""

from __future__ import annotations

import pytest
from conftest import frame_bytes, load_vectors
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import messages as M
from protocol import schedules
from protocol.errors import (
    BatchAbandoned,
    LinkDown,
    LocalProtocolError,
    NodeRefused,
    NodeTimeout,
    RemoteProtocolError,
)
from protocol.frames import encode_frame
from protocol.link import (
    Acked,
    Dropped,
    Event,
    Failed,
    FrameReceived,
    FrameSent,
    Handle,
    Link,
    Priority,
    Reply,
    Unsolicited,
)

VECTORS = load_vectors()


def vec(message_id: str, contains: str) -> bytes:
    """The one shared vector frame of this ID whose text contains `contains`."""
    hits = [v["frame"] for v in VECTORS if v["message_id"] == message_id and contains in v["frame"]]
    assert len(hits) == 1, f"{message_id}/{contains}: {len(hits)} vectors"
    return frame_bytes(hits[0])


def ack(seq: int, status: int = M.ACCEPTED, mac: str | None = None) -> bytes:
    """A `0000` frame (PROTOCOL.md B §2): short from the stick, with a MAC from a node."""
    return encode_frame(M.encode(M.Ack(seq=seq, status=status, mac=mac)))


def reply(msg: M.Message) -> bytes:
    return encode_frame(M.encode(msg))


def power_reply(mac: str, seq: int) -> bytes:
    return reply(
        M.PowerResponse(seq=seq, mac=mac, pulses_1s=1, pulses_8s=8, pulses_hour=100, pulses_hour_production=0)
    )


def events(link: Link) -> list[Event]:
    return list(iter(link.next_event, None))


def outcomes(link: Link) -> list[Event]:
    """Events without the wire trace and acks: what callers are told."""
    return [e for e in events(link) if not isinstance(e, FrameSent | FrameReceived | Acked)]


MAC_A = "000D6F00029082ED"  # the 0023/020A capture
MAC_B = "000D6F0001A404A5"  # the 0023/03B1 capture that ends in 00E1
MAC_P = "000D6F0001A20F97"  # the 0012/00F2 capture
CIRCLES = [f"000D6F00000000{i:02X}" for i in range(1, 9)]


# --- one request, end to end --------------------------------------------------------------


def test_request_ack_reply_from_a_capture() -> None:
    link = Link()
    h = link.submit(M.InfoRequest(mac=MAC_A))
    assert link.data_to_send() == vec("0023", MAC_A)
    assert link.data_to_send() == b"", "nothing more before the stick acks"
    link.receive_data(vec("0000", "020A00C1"))
    evs = events(link)
    assert Acked(h, 0x020A) in evs
    assert [type(e) for e in evs] == [FrameSent, FrameReceived, Acked]
    link.receive_data(vec("0024", "020A"))
    (got,) = outcomes(link)
    assert isinstance(got, Reply) and got.handle == h
    assert isinstance(got.message, M.InfoResponse) and got.message.mac == MAC_A
    assert link.outstanding == 0 and link.waiting_replies == 0


def test_frames_cut_anywhere_with_chatter_in_between() -> None:
    link = Link()
    h = link.submit(M.PowerRequest(mac=MAC_P))
    assert link.data_to_send() == vec("0012", MAC_P)
    stream = vec("0000", "00F200C1") + b"\x83# APSRequestNodeInfo: x\r\n" + b"\x83" + vec("0013", "00F2")
    for i in range(len(stream)):
        link.receive_data(stream[i : i + 1])
    (got,) = outcomes(link)
    assert isinstance(got, Reply) and got.handle == h and isinstance(got.message, M.PowerResponse)


def test_request_that_only_the_stick_acks_ends_at_00c1() -> None:
    link = Link()
    h = link.submit(M.JoinAcceptRequest(mac="000D6F00DEADBEEF"))
    assert link.data_to_send() == vec("0007", "DEADBEEF")
    link.receive_data(ack(0x0040))
    (got,) = outcomes(link)
    assert isinstance(got, Reply) and got.handle == h and isinstance(got.message, M.Ack)
    assert link.waiting_replies == 0


# --- pipelining and correlation -------------------------------------------------------------


def test_next_request_goes_at_each_ack_up_to_the_window() -> None:
    link = Link(window=3)
    handles = [link.submit(M.PowerRequest(mac=m)) for m in CIRCLES[:5]]
    sent = []
    for seq in range(0x10, 0x13):
        data = link.data_to_send()
        assert data, "the next request goes as soon as the previous one is acked"
        sent.append(data)
        assert link.data_to_send() == b""
        link.receive_data(ack(seq))
    assert link.waiting_replies == 3
    assert link.data_to_send() == b"", "the window is full"
    link.receive_data(power_reply(CIRCLES[1], 0x11))
    assert link.data_to_send() == reply(M.PowerRequest(mac=CIRCLES[3])), "a reply frees a slot"
    replies = [e for e in events(link) if isinstance(e, Reply)]
    assert [r.handle for r in replies] == [handles[1]]
    assert sent == [reply(M.PowerRequest(mac=m)) for m in CIRCLES[:3]]


def test_replies_in_any_order_reach_their_request_by_seq() -> None:
    link = Link(window=8)
    handles = {}
    for i, mac in enumerate(CIRCLES):
        handles[mac] = link.submit(M.PowerRequest(mac=mac))
        link.data_to_send()
        link.receive_data(ack(0x0100 + i))
    events(link)
    for i, mac in reversed(list(enumerate(CIRCLES))):
        link.receive_data(power_reply(mac, 0x0100 + i))
    got = {e.handle: e.message for e in outcomes(link) if isinstance(e, Reply)}
    assert len(got) == 8
    for mac, h in handles.items():
        msg = got[h]
        assert isinstance(msg, M.PowerResponse) and msg.mac == mac


def test_reply_with_the_right_seq_but_another_mac_is_dropped() -> None:
    link = Link()
    h = link.submit(M.PowerRequest(mac=CIRCLES[0]))
    link.data_to_send()
    link.receive_data(ack(0x0200))
    link.receive_data(power_reply(CIRCLES[1], 0x0200))
    (dropped,) = outcomes(link)
    assert isinstance(dropped, Dropped) and "nobody waits" in dropped.reason
    link.receive_data(power_reply(CIRCLES[0], 0x0200))
    (got,) = outcomes(link)
    assert isinstance(got, Reply) and got.handle == h


def test_duplicate_reply_is_dropped_once_the_request_ended() -> None:
    link = Link()
    link.submit(M.PowerRequest(mac=MAC_P))
    link.data_to_send()
    link.receive_data(vec("0000", "00F200C1") + vec("0013", "00F2") + vec("0013", "00F2"))
    got = outcomes(link)
    assert [type(e) for e in got] == [Reply, Dropped]
    assert link.counters.dropped == 1


def test_duplicate_stick_ack_is_not_taken_for_the_next_request() -> None:
    # B §9.6: a late duplicate of request 1's 00C1 arrives while request 2 is in flight
    link = Link()
    first = link.submit(M.PowerRequest(mac=CIRCLES[0]))
    second = link.submit(M.PowerRequest(mac=CIRCLES[1]))
    link.data_to_send()
    link.receive_data(ack(0x0030) + power_reply(CIRCLES[0], 0x0030))
    link.data_to_send()
    link.receive_data(ack(0x0030))  # the duplicate
    assert link.waiting_replies == 0, "the duplicate did not number request 2"
    link.receive_data(ack(0x0031) + power_reply(CIRCLES[1], 0x0031))
    got = [(e.handle, type(e)) for e in outcomes(link) if not isinstance(e, Dropped)]
    assert got == [(first, Reply), (second, Reply)]


def test_after_a_missing_ack_old_numbers_are_accepted_again() -> None:
    # a stick that restarted counts from where it likes: one ack timeout forgets the old seqs
    link = Link(ack_timeout=1.0)
    link.submit(M.PowerRequest(mac=CIRCLES[0]))
    h = link.submit(M.PowerRequest(mac=CIRCLES[1]))
    link.data_to_send()
    link.receive_data(ack(0x0001) + power_reply(CIRCLES[0], 0x0001))
    link.data_to_send()
    link.receive_data(ack(0x0001))  # taken for a duplicate …
    link.tick(1.0)  # … until the ack times out
    link.data_to_send()
    link.receive_data(ack(0x0001) + power_reply(CIRCLES[1], 0x0001))
    assert [e.handle for e in outcomes(link) if isinstance(e, Reply)][-1] == h


# --- node acks --------------------------------------------------------------------------------


def test_switch_confirmed_by_its_ok_ack_from_a_capture() -> None:
    link = Link()
    h = link.submit(M.SwitchRequest(mac="000D6F0000AF4C47", relay=True))
    link.data_to_send()
    link.receive_data(ack(0x038F))
    link.receive_data(vec("0000", "038F00D8"))
    (got,) = outcomes(link)
    assert isinstance(got, Reply) and got.handle == h
    assert isinstance(got.message, M.Ack) and got.message.status == 0x00D8


def test_refused_ack_fails_with_node_refused() -> None:
    link = Link()
    h = link.submit(M.SwitchRequest(mac=CIRCLES[0], relay=True))
    link.data_to_send()
    link.receive_data(ack(0x0005) + ack(0x0005, 0x00E2, CIRCLES[0]))
    (got,) = outcomes(link)
    assert isinstance(got, Failed) and got.handle == h
    assert isinstance(got.error, NodeRefused) and got.error.status == 0x00E2
    assert got.error.mac == CIRCLES[0] and link.counters.refused == 1


def test_an_ack_that_is_no_answer_to_the_request_is_dropped() -> None:
    link = Link()
    link.submit(M.SwitchRequest(mac=CIRCLES[0], relay=True))
    link.data_to_send()
    link.receive_data(ack(0x0006) + ack(0x0006, 0x00F8, CIRCLES[0]))
    (got,) = outcomes(link)
    assert isinstance(got, Dropped) and "00F8" in got.reason and link.outstanding == 1


# --- 00E1, timeouts, resends --------------------------------------------------------------------


def test_00e1_resends_then_fails_from_a_capture() -> None:
    link = Link(retries=1)
    h = link.submit(M.InfoRequest(mac=MAC_B))
    first = link.data_to_send()
    assert first == vec("0023", MAC_B)
    link.receive_data(vec("0000", "03B100C1") + vec("0000", "03B100E1"))
    assert outcomes(link) == []
    assert link.data_to_send() == first, "00E1: the request goes again"
    link.receive_data(ack(0x03B2) + ack(0x03B2, M.TIMEOUT))
    (got,) = outcomes(link)
    assert isinstance(got, Failed) and got.handle == h
    assert isinstance(got.error, NodeTimeout) and got.error.mac == MAC_B
    assert link.counters.retries == 1 and link.counters.timeouts == 1


def test_late_reply_after_00e1_still_counts() -> None:
    link = Link(retries=2)
    h = link.submit(M.InfoRequest(mac=MAC_A))
    link.data_to_send()
    link.receive_data(vec("0000", "020A00C1") + ack(0x020A, M.TIMEOUT))
    assert link.data_to_send() == vec("0023", MAC_A)  # the resend is in flight …
    link.receive_data(vec("0024", "020A"))  # … when the first attempt's reply comes
    (got,) = outcomes(link)
    assert isinstance(got, Reply) and got.handle == h
    link.receive_data(ack(0x020B) + ack(0x020B, M.TIMEOUT))  # the resend's ack and 00E1
    assert link.data_to_send() == b"", "the ended request is not resent"
    assert [type(e) for e in outcomes(link)] == [Dropped]


def test_00e1_of_an_earlier_attempt_does_not_resend_again() -> None:
    link = Link(retries=3, timeout=5.0)
    link.submit(M.InfoRequest(mac=MAC_A))
    link.data_to_send()
    link.receive_data(ack(0x0001))
    link.tick(5.0)  # no reply in time: resend
    link.data_to_send()
    link.receive_data(ack(0x0002) + ack(0x0001, M.TIMEOUT))
    assert [type(e) for e in outcomes(link)] == [Dropped]
    assert link.counters.retries == 1 and link.data_to_send() == b""


def test_reply_timeout_happens_at_tick() -> None:
    link = Link(timeout=10.0, retries=1, now=100.0)
    h = link.submit(M.PowerRequest(mac=MAC_P))
    frame = link.data_to_send()
    link.receive_data(ack(0x0042))
    link.tick(109.9)
    assert link.data_to_send() == b""
    link.tick(110.0)
    assert link.data_to_send() == frame, "no reply within the timeout: resend"
    link.tick(110.1)
    link.receive_data(ack(0x0043))
    link.tick(120.0)
    assert link.data_to_send() == b"" and link.outstanding == 1
    link.tick(120.1)
    (got,) = outcomes(link)
    assert isinstance(got, Failed) and got.handle == h and isinstance(got.error, NodeTimeout)
    assert "no reply" in str(got.error)


def test_no_stick_ack_resends_after_ack_timeout() -> None:
    link = Link(ack_timeout=1.5, retries=1)
    h = link.submit(M.PowerRequest(mac=MAC_P))
    frame = link.data_to_send()
    link.tick(1.4)
    assert link.data_to_send() == b""
    link.tick(1.5)
    assert link.data_to_send() == frame
    link.tick(3.0)
    (got,) = outcomes(link)
    assert isinstance(got, Failed) and got.handle == h and "no ack" in str(got.error)


def test_resend_goes_before_later_requests_of_its_priority() -> None:
    link = Link(retries=1)
    link.submit(M.PowerRequest(mac=CIRCLES[0]))
    link.submit(M.PowerRequest(mac=CIRCLES[1]))
    first = link.data_to_send()
    link.receive_data(ack(0x0001) + ack(0x0001, M.TIMEOUT))
    assert link.data_to_send() == first


def test_crc_error_resends_are_bounded() -> None:
    link = Link(crc_resends=2, retries=0)
    h = link.submit(M.PowerRequest(mac=MAC_P))
    frame = link.data_to_send()
    for _ in range(2):
        link.receive_data(ack(0x0001, M.CRC_ERROR))
        assert link.data_to_send() == frame, "00C2: resent at once"
    assert outcomes(link) == []
    link.receive_data(ack(0x0001, M.CRC_ERROR))
    (got,) = outcomes(link)
    assert isinstance(got, Failed) and got.handle == h and isinstance(got.error, RemoteProtocolError)
    assert link.counters.crc_resends == 2 and link.data_to_send() == b""


def test_crc_error_resend_does_not_use_up_a_retry() -> None:
    link = Link(crc_resends=3, retries=1)
    h = link.submit(M.PowerRequest(mac=MAC_P))
    link.data_to_send()
    link.receive_data(ack(0x0001, M.CRC_ERROR))
    link.data_to_send()
    link.receive_data(ack(0x0002) + ack(0x0002, M.TIMEOUT))
    assert link.data_to_send(), "the one retry is still there for the 00E1"
    assert outcomes(link) == []
    link.receive_data(vec("0000", "00F200C1") + vec("0013", "00F2"))
    (got,) = outcomes(link)
    assert isinstance(got, Reply) and got.handle == h


# --- cancellation --------------------------------------------------------------------------------


def test_cancelled_request_is_never_sent() -> None:
    link = Link()
    a = link.submit(M.PowerRequest(mac=CIRCLES[0]))
    b = link.submit(M.PowerRequest(mac=CIRCLES[1]))
    assert link.cancel(b) is True
    assert link.data_to_send() == reply(M.PowerRequest(mac=CIRCLES[0]))
    link.receive_data(ack(0x0001))
    assert link.data_to_send() == b""
    assert link.cancel(b) is False and link.counters.cancelled == 1
    assert link.outstanding == 1 and a.number in (1, 2)


def test_cancel_in_flight_consumes_its_ack_and_drops_its_reply() -> None:
    link = Link(window=1)
    h = link.submit(M.PowerRequest(mac=CIRCLES[0]))
    nxt = link.submit(M.PowerRequest(mac=CIRCLES[1]))
    link.data_to_send()
    link.cancel(h)
    link.receive_data(ack(0x0007))
    assert link.waiting_replies == 0
    assert link.data_to_send() == reply(M.PowerRequest(mac=CIRCLES[1])), "the window slot is free"
    link.receive_data(power_reply(CIRCLES[0], 0x0007) + ack(0x0008) + power_reply(CIRCLES[1], 0x0008))
    got = outcomes(link)
    assert [type(e) for e in got] == [Dropped, Reply]
    reply_ev = got[1]
    assert isinstance(reply_ev, Reply) and reply_ev.handle == nxt


def test_cancel_while_awaiting_reply_frees_the_window() -> None:
    link = Link(window=1)
    h = link.submit(M.PowerRequest(mac=CIRCLES[0]))
    link.submit(M.PowerRequest(mac=CIRCLES[1]))
    link.data_to_send()
    link.receive_data(ack(0x0001))
    assert link.data_to_send() == b""
    link.cancel(h)
    assert link.data_to_send() == reply(M.PowerRequest(mac=CIRCLES[1]))


# --- unsolicited traffic ---------------------------------------------------------------------------


def test_unsolicited_messages_from_captures() -> None:
    link = Link()
    link.receive_data(vec("0006", "002A") + vec("0061", "FFFD"))
    got = outcomes(link)
    assert [type(e) for e in got] == [Unsolicited, Unsolicited]
    adv, joined = (e.message for e in got if isinstance(e, Unsolicited))
    assert isinstance(adv, M.AdvertiseResponse) and adv.mac == "000D6F0000B1A240"
    assert isinstance(joined, M.JoinedResponse) and joined.seq == 0xFFFD


def test_unsolicited_message_while_a_request_waits() -> None:
    link = Link()
    h = link.submit(M.PowerRequest(mac=MAC_P))
    link.data_to_send()
    link.receive_data(vec("0000", "00F200C1") + vec("0006", "002A") + vec("0013", "00F2"))
    adv, answer = outcomes(link)
    assert isinstance(adv, Unsolicited) and isinstance(adv.message, M.AdvertiseResponse)
    assert isinstance(answer, Reply) and answer.handle == h


def test_stray_ping_reply_is_unsolicited_but_a_pending_ping_gets_it() -> None:
    link = Link()
    # 000E SEQ MAC rssi_in(2) rssi_out(2) ping_ms(4) (PROTOCOL.md B §3.2)
    stray = encode_frame("000E" + "0500" + CIRCLES[2] + "C5" + "C4" + "0014")
    link.receive_data(stray)
    assert [type(e) for e in outcomes(link)] == [Unsolicited]
    h = link.submit(M.PingRequest(mac=CIRCLES[2]))
    link.data_to_send()
    link.receive_data(ack(0x0500) + stray)
    (got,) = outcomes(link)
    assert isinstance(got, Reply) and got.handle == h


def test_undecodable_and_unknown_frames_are_dropped_with_a_reason() -> None:
    link = Link()
    link.receive_data(encode_frame("0013000112") + encode_frame("00AB" + "0001"))
    got = outcomes(link)
    assert all(isinstance(e, Dropped) for e in got) and len(got) == 2
    first = got[0]
    assert isinstance(first, Dropped) and "undecodable" in first.reason
    assert link.counters.dropped == 2


def test_bad_crc_frames_are_counted_and_never_delivered() -> None:
    link = Link()
    link.submit(M.PowerRequest(mac=MAC_P))
    link.data_to_send()
    good = vec("0000", "00F200C1")
    assert good.endswith(b"D842\r\n")
    link.receive_data(good[:-6] + b"D843\r\n")  # a CRC that does not match
    assert [e for e in events(link) if not isinstance(e, FrameSent)] == []
    assert link.bad_frames == 1 and link.waiting_replies == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=20))
def test_any_bytes_never_raise_and_never_end_a_request(chunks: list[bytes]) -> None:
    link = Link()
    link.submit(M.PowerRequest(mac=MAC_P))
    link.data_to_send()
    for c in chunks:
        link.receive_data(c)
    assert all(isinstance(e, FrameSent | FrameReceived | Dropped | Unsolicited) for e in events(link))


# --- priorities ---------------------------------------------------------------------------------------


def test_user_request_overtakes_queued_background_reads() -> None:
    link = Link()
    reads = [link.submit(M.CalibrationRequest(mac=m), Priority.BACKGROUND) for m in CIRCLES[:3]]
    normal = link.submit(M.PowerRequest(mac=CIRCLES[4]), Priority.NORMAL)
    user = link.submit(M.SwitchRequest(mac=CIRCLES[5], relay=False), Priority.USER)
    order = []
    for seq in range(1, 6):
        order.append(link.data_to_send())
        link.receive_data(ack(seq))
    assert (
        order
        == [  # by priority, first come first served within one
            reply(M.SwitchRequest(mac=CIRCLES[5], relay=False)),
            reply(M.PowerRequest(mac=CIRCLES[4])),
            *(reply(M.CalibrationRequest(mac=m)) for m in CIRCLES[:3]),
        ]
    )
    assert {e.handle for e in events(link) if isinstance(e, Acked)} == {*reads, normal, user}


# --- the schedule buffer ---------------------------------------------------------------------------------


def _upload(mac: str, value: int) -> list[M.Request]:
    return [*schedules.buffer_requests([value] * 672)[:2], *schedules.commit_requests(mac)[:1]]


def _serve(link: Link, seq: int) -> tuple[bytes, int]:
    """Send the next frame and have the stick ack it (and 003C/0012 answered); the next seq."""
    data = link.data_to_send()
    link.receive_data(ack(seq))
    msg = M.decode(data[4:-6].decode())
    if isinstance(msg, M.ScheduleCommitRequest):
        link.receive_data(reply(M.ScheduleCommitResponse(seq=seq, mac=msg.mac, index=msg.index)))
    elif isinstance(msg, M.PowerRequest):
        link.receive_data(power_reply(msg.mac, seq))
    return data, seq + 1


def test_one_schedule_upload_at_a_time_holds_the_buffer() -> None:
    link = Link()
    a = link.submit_all(_upload(CIRCLES[0], schedules.ON), Priority.BACKGROUND)
    first, seq = _serve(link, 1)  # upload A now owns the buffer
    b = link.submit_all(_upload(CIRCLES[1], schedules.OFF), Priority.USER)
    other = link.submit(M.PowerRequest(mac=CIRCLES[2]), Priority.USER)
    sent = [first]
    while link.outstanding:
        data, seq = _serve(link, seq)
        sent.append(data)
    kinds = [M.decode(d[4:-6].decode()) for d in sent]
    assert kinds[1] == M.PowerRequest(mac=CIRCLES[2]), "other requests are not held back"
    owners = [
        ("A" if k in _upload(CIRCLES[0], schedules.ON) else "B")
        for k in kinds
        if isinstance(k, M.ScheduleBufferRequest | M.ScheduleCommitRequest)
    ]
    assert owners == ["A", "A", "A", "B", "B", "B"], "B waited until A's commit ended"
    ended = {e.handle for e in events(link) if isinstance(e, Reply)}
    assert ended == {*a, *b, other}


def test_a_failed_schedule_request_abandons_its_upload_and_frees_the_buffer() -> None:
    link = Link(retries=0)
    a = link.submit_all(_upload(CIRCLES[0], schedules.ON))
    link.data_to_send()
    link.tick(2.0)  # no stick ack for A's first 003B: it fails
    b = link.submit_all(_upload(CIRCLES[1], schedules.OFF))
    got = [e for e in outcomes(link) if isinstance(e, Failed)]
    assert [e.handle for e in got] == a
    assert isinstance(got[0].error, NodeTimeout)
    assert all(isinstance(e.error, BatchAbandoned) for e in got[1:])
    seq = 1
    while link.outstanding:
        _, seq = _serve(link, seq)
    assert {e.handle for e in events(link) if isinstance(e, Reply)} == set(b)


def test_cancelling_part_of_an_upload_abandons_the_rest() -> None:
    link = Link()
    a = link.submit_all(_upload(CIRCLES[0], schedules.ON))
    link.cancel(a[0])
    got = outcomes(link)
    assert [e.handle for e in got if isinstance(e, Failed)] == a[1:]
    assert link.data_to_send() == b"" and link.outstanding == 0


def test_schedule_requests_only_go_in_a_batch() -> None:
    link = Link()
    with pytest.raises(LocalProtocolError, match="submit_all"):
        link.submit(schedules.buffer_requests([schedules.ON] * 672)[0])
    with pytest.raises(LocalProtocolError, match="submit_all"):
        link.submit(schedules.commit_requests(CIRCLES[0])[0])
    assert link.outstanding == 0


# --- misuse, loss of the port, settings ------------------------------------------------------------------


def test_misuse_raises_local_protocol_error() -> None:
    link = Link(now=5.0)
    with pytest.raises(LocalProtocolError, match="backwards"):
        link.tick(4.0)
    with pytest.raises(LocalProtocolError, match="not a request"):
        link.submit(M.Ack(seq=1, status=M.ACCEPTED))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="encode"):
        link.submit(M.PowerRequest(mac="not a mac"))
    with pytest.raises(LocalProtocolError, match="no requests"):
        link.submit_all([])
    with pytest.raises(LocalProtocolError, match="settings"):
        Link(window=0)
    assert link.cancel(Handle(99, M.PowerRequest(mac=MAC_P))) is False


def test_abort_fails_everything_and_the_link_starts_afresh() -> None:
    link = Link()
    queued = link.submit(M.PowerRequest(mac=CIRCLES[0]))
    waiting = link.submit(M.PowerRequest(mac=CIRCLES[1]), Priority.USER)
    link.data_to_send()
    link.receive_data(ack(0x0001))
    link.data_to_send()  # `queued` is in flight, no ack yet
    events(link)
    link.abort(LinkDown("link lost"))
    got = outcomes(link)
    assert {e.handle for e in got if isinstance(e, Failed) and isinstance(e.error, LinkDown)} == {
        queued,
        waiting,
    }
    assert link.outstanding == 0 and link.waiting_replies == 0
    h = link.submit(M.PowerRequest(mac=MAC_P))
    assert link.data_to_send() == vec("0012", MAC_P)
    link.receive_data(vec("0000", "00F200C1") + vec("0013", "00F2"))
    (ok,) = outcomes(link)
    assert isinstance(ok, Reply) and ok.handle == h


def test_every_request_declares_how_it_ends() -> None:
    from protocol.link import ends_at_stick_ack

    expected_reply = {
        M.StickInitRequest: "0011",
        M.PingRequest: "000E",
        M.PowerRequest: "0013",
        M.InfoRequest: "0024",
        M.CalibrationRequest: "0027",
        M.NodeTableRequest: "0019",
        M.RemoveNodeRequest: "001D",
        M.RtcGetRequest: "003A",
        M.ClockGetRequest: "003F",
        M.LogBlockRequest: "0049",
        M.FeaturesRequest: "0060",
        M.ScheduleCommitRequest: "003D",
        M.RelayInitRequest: "0139",
    }
    expected_acks = {
        M.SwitchRequest: ({0x00D8, 0x00DE}, {0x00E2}),
        M.ClockSetRequest: ({0x00D7}, set()),
        M.RtcSetRequest: ({0x00DF}, {0x00E7}),
        M.ScheduleEnableRequest: ({0x00E4, 0x00E5}, set()),
        M.LogIntervalRequest: ({0x00F8}, set()),
        M.ScheduleValueRequest: ({0x00FA}, set()),
        M.JoiningEnableRequest: ({0x00D9, 0x00DD}, set()),
        M.ResetRequest: ({0x00F2}, set()),
        M.BroadcastIntervalRequest: ({0x00F1}, set()),
        M.ClearGroupRequest: ({0x00F9}, set()),
    }
    for cls in M.CATALOGUE.values():
        if not issubclass(cls, M.Request):
            continue
        assert expected_reply.get(cls) == cls.REPLY, cls.NAME
        ok, refused = expected_acks.get(cls, (set(), set()))
        assert (set(cls.ACK_OK), set(cls.ACK_REFUSED)) == (ok, refused), cls.NAME
        if cls.REPLY is not None:
            assert cls.REPLY in M.CATALOGUE and M.CATALOGUE[cls.REPLY].RESPONSE
        if cls not in expected_reply and cls not in expected_acks:
            assert ends_at_stick_ack(cls.__new__(cls)), cls.NAME


# --- whatever the line does ------------------------------------------------------------------------

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["submit", "ack", "crc", "reply", "wrong_mac", "e1", "dup", "tick", "cancel"]),
        st.integers(min_value=0, max_value=7),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ACTIONS)
def test_every_request_ends_once_and_only_with_its_own_reply(actions: list[tuple[str, int]]) -> None:
    link = Link(window=3, retries=1, timeout=5.0, ack_timeout=1.0, crc_resends=2)
    now = 0.0
    seq = 0x0100
    sent: list[int] = []  # seqs the "stick" gave, in order
    macs: dict[int, str] = {}  # seq → MAC of the request it numbered
    in_flight: M.PowerRequest | None = None
    handles: list[Handle] = []
    ended: list[Event] = []
    cancelled: set[Handle] = set()

    sent_at = 0.0

    def pump() -> None:
        nonlocal in_flight, sent_at
        if in_flight is None and (data := link.data_to_send()):
            msg = M.decode(data[4:-6].decode())
            assert isinstance(msg, M.PowerRequest)
            in_flight, sent_at = msg, now
        ended.extend(e for e in events(link) if isinstance(e, Reply | Failed))
        assert link.waiting_replies <= link.window

    for kind, n in actions:
        if kind == "submit":
            handles.append(link.submit(M.PowerRequest(mac=CIRCLES[n])))
        elif kind in ("ack", "crc") and in_flight is not None:
            if kind == "ack":
                seq += 1
                sent.append(seq)
                macs[seq] = in_flight.mac
                link.receive_data(ack(seq))
            else:
                link.receive_data(ack(seq, M.CRC_ERROR))
            in_flight = None
        elif kind in ("reply", "wrong_mac", "e1", "dup") and sent:
            s = sent[n % len(sent)]
            if kind == "reply":
                link.receive_data(power_reply(macs[s], s))
            elif kind == "wrong_mac":
                other = CIRCLES[(CIRCLES.index(macs[s]) + 1) % len(CIRCLES)]
                link.receive_data(power_reply(other, s))
            elif kind == "e1":
                link.receive_data(ack(s, M.TIMEOUT))
            else:
                link.receive_data(ack(s))  # a duplicate stick ack
        elif kind == "tick":
            now += n * 0.5
            link.tick(now)
            if now >= sent_at + 1.0:
                in_flight = None  # its ack timed out: the link will send again
        elif kind == "cancel" and handles:
            h = handles[n % len(handles)]
            if link.cancel(h):
                cancelled.add(h)
        pump()
    # the line goes silent: everything still open ends by timeouts
    for _ in range(40):
        now += 1.0
        link.tick(now)
        in_flight = None  # nothing will ack what was sent
        pump()
    assert link.outstanding == 0
    ends = [e.handle for e in ended]
    assert len(ends) == len(set(ends)), "a request ended twice"
    assert set(ends) | cancelled == set(handles) and not set(ends) & cancelled
    for e in ended:
        if isinstance(e, Reply):
            assert isinstance(e.message, M.PowerResponse)
            assert e.message.mac == e.handle.request.mac  # type: ignore[attr-defined]


# --- the link against the simulator, in a plain loop (h11's ConnectionPair, here with a device) ---


@pytest.mark.parametrize("faults", ["", "dup=0.3,chatter=0.3"])  # the slow faults: test_stick
def test_link_drives_the_simulator_in_a_plain_loop(faults: str) -> None:
    import time

    from protocol import virtual

    net = virtual.VirtualNetwork(circles=8, seed=11, latency_ms=5, faults=faults)
    net.attach()
    link = Link(window=4, retries=4, timeout=1.0, now=time.monotonic())
    macs = [virtual.circle_mac(i) for i in range(1, 9)] * 4
    asked = {link.submit(M.InfoRequest(mac=m)): m for m in macs}
    ended: list[Reply | Failed] = []
    deadline = time.monotonic() + 60
    while link.outstanding and time.monotonic() < deadline:
        link.tick(time.monotonic())
        if data := link.data_to_send():
            net.write(data)
        link.receive_data(net.read(4096, 0.01))
        ended += [e for e in events(link) if isinstance(e, Reply | Failed)]
    assert link.outstanding == 0 and len(ended) == len(asked)
    replies = [e for e in ended if isinstance(e, Reply)]
    for r in replies:
        assert isinstance(r.message, M.InfoResponse) and r.message.mac == asked[r.handle]
    assert len(replies) >= len(asked) * (0.9 if faults else 1.0)
