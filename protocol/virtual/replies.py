"""What a virtual circle answers to each request (the node side of the virtual network).

`VirtualNetwork` (network.py) owns the line, the stick and simulated time; it routes a
request for a joined, reachable circle here and sends back what these functions return.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .. import messages as M
from .. import schedules, units
from ..fields import LogAddress
from .devices import VirtualCircle

if TYPE_CHECKING:
    from .network import VirtualNetwork


def node_replies(
    net: VirtualNetwork, c: VirtualCircle, msg: M.Message, seq: int, t: float
) -> list[M.Message] | None:
    """What circle `c` answers to `msg`; None when it does not (the stick sends 00E1)."""
    mac = c.mac
    if isinstance(msg, M.PingRequest):
        return [
            M.PingResponse(
                seq=seq,
                mac=mac,
                rssi_in_dbm=-net.rng.randrange(60, 90),
                rssi_out_dbm=-net.rng.randrange(60, 90),
                ping_ms=net.rng.randrange(10, 60),
            )
        ]
    if isinstance(msg, M.PowerRequest):
        # both counters are averages over their span, as on a real Circle: a switch
        # shows its full effect in the 8-s counter only 8 s later
        hour_start = t - t % 3600
        cons_wh = c.energy_wh(hour_start, t)
        prod_wh = c.energy_wh(hour_start, t, production=True)
        p1 = max(-32768, min(32767, c.pulses(c.average_watts(1.0, t), 1)))
        p8 = max(-32768, min(32767, c.pulses(c.average_watts(8.0, t), 8)))
        # the hour counters read back as Wh with seconds=3600 (PROTOCOL.md B §4)
        return [
            M.PowerResponse(
                seq=seq,
                mac=mac,
                pulses_1s=p1,
                pulses_8s=p8,
                pulses_hour=max(0, c.pulses(cons_wh, 3600)),
                pulses_hour_production=min(0, c.pulses(-prod_wh, 3600)),
                offset=net.rng.randrange(0, 16),
            )
        ]
    if isinstance(msg, M.SwitchRequest):
        c.set_relay(msg.relay, t)
        return [M.Ack(seq=seq, status=0x00D8 if msg.relay else 0x00DE, mac=mac)]
    if isinstance(msg, M.InfoRequest):
        ct = c.circle_time(t)
        pos = c.write_position(t)
        return [
            M.InfoResponse(
                seq=seq,
                mac=mac,
                datetime=ct.replace(second=0, microsecond=0),
                log_address=LogAddress(units.LOG_BASE + 8 * pos),
                relay=c.relay,
                hz=0x85,
                hw_version=c.hw_version,
                fw_version=datetime.fromtimestamp(c.fw_version, tz=UTC),
                node_type=c.node_type,
            )
        ]
    if isinstance(msg, M.CalibrationRequest):
        cal = c.calibration
        return [
            M.CalibrationResponse(
                seq=seq,
                mac=mac,
                gain_a=cal.gain_a,
                gain_b=cal.gain_b,
                off_tot=cal.off_tot,
                off_noise=cal.off_noise,
            )
        ]
    if isinstance(msg, M.ClockSetRequest):
        when = msg.datetime or datetime.fromtimestamp(t, tz=UTC)
        when = when.replace(hour=msg.hour, minute=msg.minute, second=msg.second)
        c.set_clock(when, t)
        return [M.Ack(seq=seq, status=0x00D7, mac=mac)]
    if isinstance(msg, M.ClockGetRequest):
        ct = c.circle_time(t)
        return [
            M.ClockResponse(
                seq=seq,
                mac=mac,
                hour=ct.hour,
                minute=ct.minute,
                second=ct.second,
                day_of_week=ct.isoweekday(),
                unknown=1,
                schedule_crc=c.schedule_crc,
            )
        ]
    if isinstance(msg, M.LogBlockRequest):
        block = msg.log_address.block
        if block is None:
            return None
        entries = tuple(c.entry_at(block * 4 + s, t) for s in range(4))
        return [M.LogBlockResponse(seq=seq, mac=mac, entries=entries, log_address=LogAddress.of(block))]
    if isinstance(msg, M.LogIntervalRequest):
        c.change_intervals(msg.consumption, msg.production, t)
        return [M.Ack(seq=seq, status=0x00F8, mac=mac)]
    if isinstance(msg, M.ScheduleCommitRequest):
        if 1 <= msg.index <= schedules.COMMITS:
            sl = schedules.commit_slice(msg.index)
            c.schedule_values[sl] = net.stick_buffer[sl]
        return [M.ScheduleCommitResponse(seq=seq, mac=mac, index=msg.index)]
    if isinstance(msg, M.ScheduleEnableRequest):
        c.schedule_enabled = msg.enabled
        c.apply_schedule(t)
        return [M.Ack(seq=seq, status=0x00E4 if msg.enabled else 0x00E5, mac=mac)]
    if isinstance(msg, M.ScheduleValueRequest):
        c.schedule_values = [msg.value] * schedules.SLOTS
        return [M.Ack(seq=seq, status=0x00FA, mac=mac)]
    if isinstance(msg, M.FeaturesRequest):
        return [M.FeaturesResponse(seq=seq, mac=mac, features="FFFFFFFFFFFFFFFE")]
    if isinstance(msg, M.ResetRequest):
        return [M.Ack(seq=seq, status=0x00F2, mac=mac)]
    if isinstance(msg, M.BroadcastIntervalRequest):
        return [M.Ack(seq=seq, status=0x00F1, mac=mac)]
    if isinstance(msg, M.ClearGroupRequest):
        return [M.Ack(seq=seq, status=0x00F9, mac=mac)]
    if isinstance(msg, M.RelayInitRequest):
        return [M.RelayInitResponse(seq=seq, mac=mac, set=msg.set, relay=int(c.relay))]
    if c.node_table is not None:
        return _circle_plus(net, c, msg, seq, t)
    return None


def _circle_plus(
    net: VirtualNetwork, c: VirtualCircle, msg: M.Message, seq: int, t: float
) -> list[M.Message] | None:
    """The requests only the Circle+ answers: its node table and real-time clock."""
    table = c.node_table or []
    if isinstance(msg, M.NodeTableRequest):
        if not 0 <= msg.index < 64:
            return None
        return [M.NodeTableResponse(seq=seq, mac=c.mac, node_mac=table[msg.index], index=msg.index)]
    if isinstance(msg, M.RemoveNodeRequest):
        ok = msg.remove_mac in table
        if ok:
            table[table.index(msg.remove_mac)] = M.EMPTY_MAC
            gone = net.circles.get(msg.remove_mac)
            if gone is not None:
                # As a real Circle does after a reset: it leaves and asks to join again (0006).
                gone.joined = False
                net.advertise(gone.mac, after=5.0)
        return [M.RemoveNodeResponse(seq=seq, mac=c.mac, removed_mac=msg.remove_mac, status=1 if ok else 0)]
    if isinstance(msg, M.RtcSetRequest):
        when = msg.datetime
        if when is None:
            return [M.Ack(seq=seq, status=0x00E7, mac=c.mac)]
        net.rtc_offset = when.timestamp() - t
        return [M.Ack(seq=seq, status=0x00DF, mac=c.mac)]
    if isinstance(msg, M.RtcGetRequest):
        rtc = M.RtcResponse.at(c.mac, datetime.fromtimestamp(t + net.rtc_offset, tz=UTC))
        return [dataclasses.replace(rtc, seq=seq)]
    return None
