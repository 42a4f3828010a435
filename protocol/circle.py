"""The Circle API: what a program asks of a Circle or Circle+, in plain units.

Every call is a request through the Stick driver; the `*_future` forms return
at once so that many circles can be asked in one pipelined burst
(`poll_power`, `Circle.log_range`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar, runtime_checkable

from . import messages as M
from . import schedules, units
from .errors import LocalProtocolError, NodeRefused, NodeTimeout, PlugwiseError, ProtocolViolation
from .fields import LogAddress, LogEntry
from .link import Priority
from .units import Calibration

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R", bound=M.Message)


def then(fut: Future[T], fn: Callable[[T], U]) -> Future[U]:
    """A future of fn(result) — chains without blocking a thread.  Cancelling the new
    future cancels `fut` too, so a caller that gives up frees its request in the link."""
    out: Future[U] = Future()

    def done(f: Future[T]) -> None:
        if f.cancelled():
            out.cancel()
            return
        try:
            value = fn(f.result())
        except BaseException as exc:
            _settle(out, exc)
        else:
            _settle(out, value)

    def back(o: Future[U]) -> None:
        if o.cancelled():
            fut.cancel()

    fut.add_done_callback(done)
    out.add_done_callback(back)
    return out


def _settle(fut: Future[U], outcome: U | BaseException) -> None:
    try:
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)
    except InvalidStateError:
        pass  # cancelled meanwhile


def wait_or_cancel(fut: Future[T], timeout: float, mac: str | None) -> T:
    """The result within `timeout`; else the request is cancelled and NodeTimeout raised."""
    try:
        return fut.result(timeout)
    except TimeoutError:
        fut.cancel()
        raise NodeTimeout(mac, f"no answer within {timeout:.0f} s") from None


@dataclass(frozen=True)
class CircleInfo:
    mac: str
    node_type: str
    datetime: datetime | None
    log_address: LogAddress
    relay: bool
    hz: int | None
    hw_version: str
    model: str | None
    fw_version: dt.datetime  # `datetime` is a field name above

    @property
    def log_block(self) -> int | None:
        return self.log_address.block


@dataclass(frozen=True)
class PowerReading:
    mac: str
    watts_1s: float | None  # None: a bad reading (> 10 kW)
    watts_8s: float
    wh_hour: float  # consumed so far this hour
    wh_hour_production: float  # produced so far this hour, ≥ 0
    time: datetime


@dataclass(frozen=True)
class ClockReading:
    mac: str
    circle_time: datetime
    host_time: datetime
    drift_s: float
    schedule_crc: str


@dataclass(frozen=True)
class LogRecord:
    mac: str
    block: int
    slot: int
    end: datetime
    minutes: int
    wh: float  # ≥ 0 for both kinds
    watts: float  # average over the interval, ≥ 0
    production: bool
    pulses: int


@dataclass(frozen=True)
class PingResult:
    mac: str
    rssi_in: int
    rssi_out: int
    ping_ms: int


class Requester(Protocol):
    """What the Circle API needs of a stick: `protocol.stick.Stick`, or a client of the
    stick a running logger owns (`timeout`/`retries` size how long a call waits)."""

    timeout: float
    retries: int

    def submit(
        self, msg: M.Request, priority: Priority | int = ..., timeout: float | None = ...
    ) -> Future[M.Message]: ...


@runtime_checkable
class BatchRequester(Requester, Protocol):
    """A stick that takes ordered batches too (schedule uploads need one)."""

    def submit_all(
        self, msgs: Iterable[M.Request], priority: Priority | int = ..., timeout: float | None = ...
    ) -> list[Future[M.Message]]: ...


class Circle:
    def __init__(
        self, stick: Requester, mac: str, log_interval: int = 60, calibration: Calibration | None = None
    ) -> None:
        """`calibration`: one read before (a cache), so power readings need no request for it."""
        self.stick = stick
        self.mac = mac.upper()
        self.log_interval = log_interval
        self._calibration: Calibration | None = calibration

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.mac})"

    def _ask(self, msg: M.Request, priority: Priority | int) -> Future[M.Message]:
        return self.stick.submit(msg, priority)

    def _ask_for(self, msg: M.Request, kind: type[R], priority: Priority | int) -> Future[R]:
        """Ask, and check that the answer is the `kind` of message the request declares."""
        return then(self._ask(msg, priority), lambda r: _expect(r, kind, self.mac))

    def _wait(self, fut: Future[T]) -> T:
        return wait_or_cancel(fut, self.stick.timeout * (self.stick.retries + 1) + 5, self.mac)

    # --- info, calibration, power -------------------------------------------------------

    def info_future(self, priority: Priority | int = Priority.NORMAL) -> Future[CircleInfo]:
        def conv(r: M.InfoResponse) -> CircleInfo:
            return CircleInfo(
                self.mac,
                units.node_type_name(r.node_type),
                r.datetime,
                r.log_address,
                r.relay,
                units.hz_from_code(r.hz),
                r.hw_version,
                r.model,
                r.fw_version,
            )

        return then(self._ask_for(M.InfoRequest(mac=self.mac), M.InfoResponse, priority), conv)

    def info(self, priority: Priority | int = Priority.USER) -> CircleInfo:
        return self._wait(self.info_future(priority))

    def calibration_future(self, priority: Priority | int = Priority.NORMAL) -> Future[Calibration]:
        if self._calibration is not None:
            f: Future[Calibration] = Future()
            f.set_result(self._calibration)
            return f

        def conv(r: M.CalibrationResponse) -> Calibration:
            self._calibration = r.calibration
            return r.calibration

        return then(self._ask_for(M.CalibrationRequest(mac=self.mac), M.CalibrationResponse, priority), conv)

    def calibration(self, priority: Priority | int = Priority.USER) -> Calibration:
        return self._wait(self.calibration_future(priority))

    def power_future(self, priority: Priority | int = Priority.NORMAL) -> Future[PowerReading]:
        cal = self._calibration
        if cal is None:
            raise RuntimeError("calibration not known yet; call calibration() first")

        def conv(r: M.PowerResponse) -> PowerReading:
            w1 = cal.watts(r.pulses_1s, 1)
            return PowerReading(
                mac=self.mac,
                watts_1s=None if abs(w1) > units.MAX_PLAUSIBLE_WATTS else w1,
                watts_8s=cal.watts(r.pulses_8s, 8),
                wh_hour=max(0.0, cal.wh(r.pulses_hour, 3600)),
                wh_hour_production=max(0.0, -cal.wh(r.pulses_hour_production, 3600)),
                time=datetime.now(UTC),
            )

        return then(self._ask_for(M.PowerRequest(mac=self.mac), M.PowerResponse, priority), conv)

    def power(self, priority: Priority | int = Priority.USER) -> PowerReading:
        self.calibration(priority)
        return self._wait(self.power_future(priority))

    # --- relay, clock, settings -------------------------------------------------------------

    def switch_future(self, on: bool, priority: Priority | int = Priority.USER) -> Future[bool]:
        def conv(ack: M.Ack) -> bool:
            return ack.status == 0x00D8

        return then(self._ask_for(M.SwitchRequest(mac=self.mac, relay=on), M.Ack, priority), conv)

    def switch(self, on: bool, priority: Priority | int = Priority.USER) -> bool:
        """Switch the relay; returns the state the circle confirmed."""
        state = self._wait(self.switch_future(on, priority))
        if state != on:
            raise NodeRefused(self.mac, 0x00E2, f"switching {'on' if on else 'off'}")
        return bool(state)

    def clock_future(self, priority: Priority | int = Priority.NORMAL) -> Future[ClockReading]:
        def conv(r: M.ClockResponse) -> ClockReading:
            host = datetime.now(UTC)
            # 003F has no date: take the host's date nearest to the circle's time of day
            candidates = []
            for day_shift in (-1, 0, 1):
                base = host.replace(hour=r.hour, minute=r.minute, second=r.second, microsecond=0)
                candidates.append(base + timedelta(days=day_shift))
            ct = min(candidates, key=lambda c: abs((c - host).total_seconds()))
            return ClockReading(self.mac, ct, host, (ct - host).total_seconds(), r.schedule_crc)

        return then(self._ask_for(M.ClockGetRequest(mac=self.mac), M.ClockResponse, priority), conv)

    def clock(self, priority: Priority | int = Priority.USER) -> ClockReading:
        return self._wait(self.clock_future(priority))

    def set_clock(self, when: datetime | None = None, priority: Priority | int = Priority.NORMAL) -> None:
        """Set the circle's clock to UTC; the log address is always FFFFFFFF (A §8)."""
        when = units.to_utc(when) if when else datetime.now(UTC)
        self._wait(self._ask(M.ClockSetRequest.at(self.mac, when), priority))

    def set_log_interval(
        self, consumption: int, production: int = 0, priority: Priority | int = Priority.NORMAL
    ) -> None:
        """Minutes between the circle's own log records (0057); production 0 logs none."""
        self._wait(
            self._ask(
                M.LogIntervalRequest(mac=self.mac, consumption=consumption, production=production), priority
            )
        )

    def ping(self, priority: Priority | int = Priority.NORMAL) -> PingResult:
        r = self._wait(self._ask_for(M.PingRequest(mac=self.mac), M.PingResponse, priority))
        return PingResult(self.mac, r.rssi_in, r.rssi_out, r.ping_ms)

    def features(self, priority: Priority | int = Priority.NORMAL) -> str:
        r = self._wait(self._ask_for(M.FeaturesRequest(mac=self.mac), M.FeaturesResponse, priority))
        return r.features

    def reset(self, priority: Priority | int = Priority.USER) -> None:
        self._wait(self._ask(M.ResetRequest(mac=self.mac), priority))

    # --- log buffer ----------------------------------------------------------------------

    def log_block_future(
        self, block: int, priority: Priority | int = Priority.BACKGROUND
    ) -> Future[M.LogBlockResponse]:
        request = M.LogBlockRequest(mac=self.mac, log_address=LogAddress.of(block))
        return self._ask_for(request, M.LogBlockResponse, priority)

    def log_block(self, block: int, priority: Priority | int = Priority.USER) -> list[LogRecord]:
        return self.log_range(block, block, priority)

    def log_range(
        self,
        first: int,
        last: int,
        priority: Priority | int = Priority.BACKGROUND,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[LogRecord]:
        """Read blocks first…last (wrapping after 6015), pipelined; records oldest first."""
        cal = self.calibration(priority)
        blocks = units.blocks_between(first, last)
        futures = [(b, self.log_block_future(b, priority)) for b in blocks]
        raw: list[tuple[int, int, M.LogBlockResponse]] = []
        for i, (b, fut) in enumerate(futures):
            resp = self._wait(fut)
            raw.append((b, i, resp))
            if progress:
                progress(i + 1, len(futures))
        return self.records(cal, [(b, r.entries) for b, _, r in raw])

    def records(self, cal: Calibration, blocks: Sequence[tuple[int, Sequence[LogEntry]]]) -> list[LogRecord]:
        """Turn raw entries into records (PROTOCOL.md B §6): production entries share
        their consumption entry's timestamp; interval length from timestamp steps."""
        flat: list[tuple[int, int, LogEntry]] = []
        for b, entries in blocks:
            for s, e in enumerate(entries):
                if e.written and e.valid:
                    flat.append((b, s, e))
        out: list[LogRecord] = []
        prev_when: dict[bool, datetime] = {}
        for i, (b, s, e) in enumerate(flat):
            assert e.when is not None
            production = e.pulses < 0 or (
                i > 0 and flat[i - 1][2].when == e.when and not (flat[i - 1][2].pulses < 0)
            )
            last = prev_when.get(production)
            minutes = self.log_interval
            if last is not None and e.when > last:
                step = int((e.when - last).total_seconds() // 60)
                if 0 < step <= 24 * 60:
                    minutes = step
            prev_when[production] = e.when
            seconds = minutes * 60
            wh = cal.wh(e.pulses, seconds)
            wh = max(0.0, -wh) if production else max(0.0, wh)
            out.append(
                LogRecord(self.mac, b, s, e.when, minutes, wh, wh * 3600.0 / seconds, production, e.pulses)
            )
        return out

    # --- schedules --------------------------------------------------------------------------

    def upload_schedule(
        self, values: Sequence[int], force: bool = False, priority: Priority | int = Priority.NORMAL
    ) -> bool:
        """Load 672 circle-ready values (UTC, pulses) into the circle; False if it already had them."""
        want = schedules.schedule_crc(values)
        if not force and self.clock(priority).schedule_crc == want:
            return False
        if not isinstance(self.stick, BatchRequester):
            raise LocalProtocolError(f"{type(self.stick).__name__} cannot upload schedules (no submit_all)")
        # one batch: the link keeps other uploads off the stick's buffer until it ends
        requests = [*schedules.buffer_requests(values), *schedules.commit_requests(self.mac)]
        for fut in self.stick.submit_all(requests, priority):
            self._wait(fut)
        got = self.clock(priority).schedule_crc
        if got != want:
            raise ProtocolViolation(
                f"circle {self.mac} reports schedule CRC {got} after upload, expected {want}"
            )
        return True

    def schedule_enable(self, on: bool, priority: Priority | int = Priority.USER) -> bool:
        ack = self._wait(self._ask_for(M.ScheduleEnableRequest(mac=self.mac, enabled=on), M.Ack, priority))
        return ack.status == 0x00E4

    def schedule_value(self, value: int, priority: Priority | int = Priority.NORMAL) -> None:
        self._wait(self._ask(M.ScheduleValueRequest(mac=self.mac, value=value), priority))


class CirclePlus(Circle):
    """The coordinator: node table, joining, removing, real-time clock."""

    def node_table_futures(
        self, priority: Priority | int = Priority.NORMAL
    ) -> list[Future[M.NodeTableResponse]]:
        """The 64 slots of the table, all asked at once; each answers on its own."""
        return [
            self._ask_for(M.NodeTableRequest(mac=self.mac, index=i), M.NodeTableResponse, priority)
            for i in range(64)
        ]

    def node_table(self, priority: Priority | int = Priority.NORMAL) -> list[tuple[int, str]]:
        """Occupied slots of the 64-slot table, pipelined."""
        table = []
        for f in self.node_table_futures(priority):
            r = self._wait(f)
            if not r.empty:
                table.append((r.index, r.node_mac))
        return table

    def remove_node(self, mac: str, priority: Priority | int = Priority.USER) -> bool:
        request = M.RemoveNodeRequest(mac=self.mac, remove_mac=mac)
        r = self._wait(self._ask_for(request, M.RemoveNodeResponse, priority))
        return r.status == 1

    def accept_join(self, mac: str, accept: bool = True, priority: Priority | int = Priority.USER) -> None:
        self._wait(self._ask(M.JoinAcceptRequest(mac=mac, accept=accept), priority))

    def rtc(self, priority: Priority | int = Priority.USER) -> datetime | None:
        r = self._wait(self._ask_for(M.RtcGetRequest(mac=self.mac), M.RtcResponse, priority))
        return r.datetime

    def set_rtc(self, when: datetime | None = None, priority: Priority | int = Priority.NORMAL) -> None:
        when = units.to_utc(when) if when else datetime.now(UTC)
        self._wait(self._ask(M.RtcSetRequest.at(self.mac, when), priority))


def poll_power(
    circles: Iterable[Circle], priority: Priority | int = Priority.NORMAL
) -> dict[str, PowerReading | Exception]:
    """Power of many circles in one pipelined burst; failures come back as exceptions."""
    circles = list(circles)
    out: dict[str, PowerReading | Exception] = {}
    cal_futs = {c.mac: c.calibration_future(priority) for c in circles}
    ready = []
    for c in circles:
        try:
            c._wait(cal_futs[c.mac])
            ready.append(c)
        except PlugwiseError as exc:
            out[c.mac] = exc
    futs = {c.mac: c.power_future(priority) for c in ready}
    for mac, f in futs.items():
        try:
            out[mac] = wait_or_cancel(f, 60, mac)
        except PlugwiseError as exc:
            out[mac] = exc
    return out


def _expect(msg: M.Message, kind: type[R], mac: str) -> R:
    """The answer as the message type its request declares; anything else is a violation."""
    if not isinstance(msg, kind):
        raise ProtocolViolation(f"circle {mac}: expected {kind.NAME or kind.__name__}, got {msg.NAME}")
    return msg
