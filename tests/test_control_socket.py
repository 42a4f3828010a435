"""The control socket against a real Engine on sim://: operations, malformed input,
mode 0600, stale socket files, and a slow client that must not hold up the engine."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from waiting import wait_for

from protocol import messages as M
from protocol import units, virtual
from pwtui import events as E
from pwtui.config import load_config
from pwtui.control.client import ControlClient, ControlError
from pwtui.control.protocol import MAX_LINE
from pwtui.control.server import ControlServer
from pwtui.control.socketfile import SocketInUse
from pwtui.control.wire import TYPES, WireError, from_wire, to_wire
from pwtui.engine import Engine

C1, C2, C3 = (virtual.circle_mac(i) for i in (1, 2, 3))


def write_config(folder: Path, url: str) -> Path:
    cfg = folder / "pwtui.toml"
    cfg.write_text(f"""
[stick]
port = "{url}"
timeout = 2.0
[logging]
power_interval = 1
[[circle]]
mac = "{C1}"
name = "fridge"
[[circle]]
mac = "{C2}"
name = "tv"
[[circle]]
mac = "{C3}"
name = "washer"
always_on = true
""")
    return cfg


class Owner:
    """A real engine on its own simulated network, serving the control socket."""

    def __init__(self, folder: Path, latency: int = 0) -> None:
        url = f"sim://?circles=3&seed=5&latency={latency}"
        virtual.forget(url)
        self.config = load_config(write_config(folder, url))
        self.engine = Engine(self.config)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.engine.run, args=(self.stop,), daemon=True)
        self.thread.start()
        self.path = self.config.paths.data / "pwtui.sock"
        self.server = ControlServer(self.engine, self.path)
        self.server.start()
        wait_for(
            lambda: (
                self.engine.snapshot().link.up and sum(c.online for c in self.engine.snapshot().circles) >= 3
            ),
            60,
        )

    def close(self) -> None:
        self.server.stop()
        self.stop.set()
        self.thread.join(10)


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[Owner]:
    o = Owner(tmp_path)
    try:
        yield o
    finally:
        o.close()


class Raw:
    """A bare socket client: exactly the bytes we choose, replies read line by line."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> dict[str, Any]:
        """The next line that is not a push (ping or event)."""
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("server closed the connection")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            obj: dict[str, Any] = json.loads(line)
            if "ping" not in obj and "event" not in obj:
                return obj

    def close(self) -> None:
        self.sock.close()


# --- the socket file -----------------------------------------------------------------


def test_socket_is_mode_0600_and_removed_on_stop(owner: Owner) -> None:
    st = owner.path.lstat()
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert not list(owner.path.parent.glob(".pwtui.sock.*")), "the private bind name is left behind"
    owner.server.stop()
    assert not owner.path.exists()


def test_stale_socket_is_replaced_live_one_and_other_files_are_not(tmp_path: Path) -> None:
    path = tmp_path / "pwtui.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # what a kill -9 leaves: the file, nobody listening
    engine = Engine(load_config(write_config(tmp_path, "sim://?circles=1&latency=0")))
    first = ControlServer(engine, path)
    first.start()
    try:
        with ControlClient(path) as c:
            assert c.connect()["pid"] == os.getpid()
        with pytest.raises(SocketInUse, match="already serves"):
            ControlServer(engine, path).start()
        assert path.exists(), "a live socket was removed"
    finally:
        first.stop()
    path.write_text("not a socket")
    with pytest.raises(SocketInUse, match="not a socket"):
        ControlServer(engine, path).start()
    assert path.read_text() == "not a socket"


# --- operations ----------------------------------------------------------------------


def test_hello_snapshot_status(owner: Owner) -> None:
    with ControlClient(owner.path) as c:
        hello = c.connect()
        assert hello["pid"] == os.getpid() and hello["port"] == owner.engine.port and hello["version"]
        snap = from_wire(c.call("snapshot")["snapshot"], E.Snapshot)
        assert isinstance(snap, E.Snapshot) and snap.link.up
        assert {C1, C2, C3} <= {ci.mac for ci in snap.circles}
        assert snap.circle(C1) is not None and snap.circle(C1).name == "fridge"  # type: ignore[union-attr]
        status = c.call("status")["status"]
        assert status["pid"] == os.getpid() and status["link"] == "up" and status["clients"] == 1
        assert {x["mac"] for x in status["circles"]} >= {C1, C2, C3}


def test_subscribe_pushes_events_as_they_happen(owner: Owner) -> None:
    events: list[E.Event] = []
    with ControlClient(owner.path, on_event=events.append) as c:
        c.connect()
        reply = c.call("subscribe")
        first = from_wire(reply["snapshot"], E.Snapshot)
        wait_for(lambda: any(isinstance(e, E.CycleUpdate) and e.snapshot.time > first.time for e in events))


def test_commands_are_answered_under_the_clients_own_id(owner: Owner) -> None:
    results: list[E.Event] = []
    with ControlClient(owner.path, on_event=results.append) as c:
        c.connect()
        off = E.Switch(mac=C1, on=False, id=4242)
        accepted = c.call("command", command=to_wire(off))
        assert accepted["accepted"] is True and accepted["command_id"] == 4242
        wait_for(lambda: any(isinstance(e, E.CommandResult) and e.command_id == 4242 for e in results))
        (done,) = [e for e in results if isinstance(e, E.CommandResult)]
        assert done.ok and done.mac == C1
        # a refusal comes back with its reason
        c.call("command", command=to_wire(E.Switch(mac=C3, on=False, id=7)))
        wait_for(lambda: any(isinstance(e, E.CommandResult) and e.command_id == 7 for e in results))
        refused = next(e for e in results if isinstance(e, E.CommandResult) and e.command_id == 7)
        assert not refused.ok and "always on" in refused.message
    wait_for(lambda: owner.engine.snapshot().circle(C1).relay is False)  # type: ignore[union-attr]


def test_results_of_one_client_are_not_sent_to_another(owner: Owner) -> None:
    mine: list[E.Event] = []
    theirs: list[E.Event] = []
    with (
        ControlClient(owner.path, on_event=mine.append) as a,
        ControlClient(owner.path, on_event=theirs.append) as b,
    ):
        a.connect()
        b.connect()
        b.call("subscribe")
        a.call("command", command=to_wire(E.SyncClock(mac=C2, id=1)))
        wait_for(lambda: any(isinstance(e, E.CommandResult) for e in mine))
        b.call("hello")  # b's replies are in order: anything pushed to b came before this
        assert not any(isinstance(e, E.CommandResult) for e in theirs)


def test_raw_request_and_its_errors(owner: Owner) -> None:
    with ControlClient(owner.path) as c:
        c.connect()
        reply = c.call("request", body=M.encode(M.InfoRequest(mac=C1)), timeout=30)
        info = M.decode(reply["body"])
        assert isinstance(info, M.InfoResponse) and info.mac == C1
        with pytest.raises(ControlError) as err:
            c.call("request", body=M.encode(M.InfoRequest(mac="000D6F00010000EE")), timeout=60)
        assert err.value.reply["kind"] == "NodeTimeout" and "does not answer" in str(err.value)
        with pytest.raises(ControlError, match="not a request"):
            c.call("request", body=M.encode(M.Ack(seq=1, status=M.ACCEPTED)))
        with pytest.raises(ControlError, match="body"):
            c.call("request", body="0023ZZ")


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "line,needle",
    [
        (b"{nope", "not JSON"),
        (b"\xff\xfe garbage", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"op": "fly", "id": 1}', "unknown op"),
        (b'{"op": 5, "id": 1}', "unknown op"),
        (b'{"op": "hello", "id": [1]}', "'id'"),
        (b'{"op": "command", "id": 1}', "must be an object"),
        (b'{"op": "command", "id": 1, "command": {"type": "ReloadFiles"}}', "integer 'id'"),
        (b'{"op": "command", "id": 1, "command": {"type": "Snapshot"}}', "not a Command"),
        (b'{"op": "command", "id": 1, "command": {"type": "Switch", "mac": "X"}}', "missing 'on'"),
        (
            b'{"op": "command", "id": 1, "command": {"type": "Switch", "mac": 1, "on": true}}',
            "expected a text",
        ),
        (b'{"op": "request", "id": 1, "body": 12}', "hex body"),
        (b'{"op": "request", "id": 1, "body": "0023000D6F0001000001", "priority": 9}', "priority"),
    ],
)
def test_malformed_input_gets_an_error_and_the_server_goes_on(owner: Owner, line: bytes, needle: str) -> None:
    raw = Raw(owner.path)
    try:
        raw.send(line + b"\n")
        reply = raw.reply()
        assert reply["ok"] is False and needle in reply["error"], reply
        raw.send(b'{"op": "hello", "id": 2}\n')  # the same connection still works
        assert raw.reply()["pid"] == os.getpid()
    finally:
        raw.close()
    assert owner.thread.is_alive()


def test_an_endless_line_closes_only_that_connection(owner: Owner) -> None:
    raw = Raw(owner.path)
    try:
        raw.send(b"x" * (MAX_LINE + 1))
        assert "longer than" in raw.reply()["error"]  # told why, then closed
        with pytest.raises(EOFError):
            raw.reply()
    finally:
        raw.close()
    with ControlClient(owner.path) as c:
        assert c.connect()["pid"] == os.getpid()


def _logged(seen: list[E.Event], prefix: str) -> bool:
    return any(isinstance(e, E.EngineLog) and e.message.startswith(prefix) for e in seen)


def test_a_slow_client_never_blocks_the_engine(owner: Owner) -> None:
    slow = Raw(owner.path)  # subscribes, then never reads again
    slow.send(b'{"op": "subscribe", "id": 1}\n')
    wait_for(lambda: owner.server.clients == 1)
    seen: list[E.Event] = []
    with ControlClient(owner.path, on_event=seen.append) as fast:
        fast.connect()
        fast.call("subscribe")
        text = "x" * 2000
        slowest = 0.0
        for i in range(3000):  # ~6 MB: far more than a socket buffer and the send queue hold
            started = time.monotonic()
            owner.engine._emit(E.EngineLog(datetime.now(UTC), "info", "test", f"{i} {text}"))
            slowest = max(slowest, time.monotonic() - started)
            if i % 100 == 99:  # the fast client keeps up, as a console does
                wait_for(partial(_logged, seen, f"{i} "))
        assert slowest < 0.5, f"one event took {slowest:.1f} s to hand out: the engine waited for a client"
        wait_for(lambda: owner.server.clients == 1)  # the slow one is gone, the fast one stays
        assert fast.alive
    slow.close()


# --- wire format -----------------------------------------------------------------------


def test_wire_round_trip_and_tolerance() -> None:
    snap = E.Snapshot(
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        link=E.LinkStatus(port="sim://", up=True, stick_mac="A", attached_pid=3),
        circles=(
            E.CircleStatus(
                mac=C1,
                watts=-3.5,
                relay=None,
                recent_watts=(1.0, 2.0),
                calibration=(1.0, 0.5, 0.0, 0.25),
                fw_version=datetime(2011, 6, 27, tzinfo=UTC),
            ),
        ),
        node_table=((0, C1),),
        mqtt="retrying",
        pid=9,
    )
    data = json.loads(json.dumps(to_wire(snap)))
    assert from_wire(data) == snap
    data["from_a_newer_owner"] = {"x": 1}
    data["link"]["also_new"] = True
    assert from_wire(data) == snap
    cmd = E.SetControl(mac=C1, changes=(("name", "x"), ("log_interval", 5), ("always_on", True)), id=3)
    assert from_wire(json.loads(json.dumps(to_wire(cmd))), E.Command) == cmd
    bad: Any
    for bad in (
        {"type": "Snapshot", "time": "2026", "link": {"port": "p"}, "mqtt": "maybe"},
        {"type": 1},
        [],
    ):
        with pytest.raises(WireError):
            from_wire(bad)


def test_limits_on_clients_and_requests_in_flight(owner: Owner) -> None:
    from pwtui.control.protocol import MAX_CLIENTS, MAX_IN_FLIGHT

    raws: list[Raw] = []
    try:
        for _ in range(MAX_CLIENTS):
            raws.append(Raw(owner.path))
            wait_for(lambda: owner.server.clients == len(raws))
        extra = Raw(owner.path)
        assert "too many clients" in extra.reply()["error"]
        extra.close()
    finally:
        for r in raws:
            r.close()
    wait_for(lambda: owner.server.clients == 0)
    raw = Raw(owner.path)
    try:
        body = M.encode(M.InfoRequest(mac="000D6F00010000EE"))  # unanswered for seconds: all stay in flight
        raw.send(
            b"".join(
                b'{"op":"request","id":%d,"body":"%s"}\n' % (i, body.encode())
                for i in range(MAX_IN_FLIGHT + 5)
            )
        )
        busy = [raw.reply() for _ in range(5)]
        assert all(r["ok"] is False and "in flight" in r["error"] for r in busy), busy
        assert sorted(r["id"] for r in busy) == list(range(MAX_IN_FLIGHT, MAX_IN_FLIGHT + 5))
    finally:
        raw.close()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_command_like = st.fixed_dictionaries(
    {"type": st.sampled_from([*sorted(TYPES), "Nope", 5])},
    optional={"mac": _json | st.just(C1), "on": _json, "changes": _json, "id": _json, "schedule": _json},
)
_requests = st.fixed_dictionaries(
    {"op": st.sampled_from(["hello", "snapshot", "status", "command", "fly", 3, None])},
    optional={"id": _json, "command": _command_like | _json},
)


def test_fuzzed_requests_get_one_reply_each_and_never_hurt_the_server(owner: Owner) -> None:
    raw = Raw(owner.path)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(_requests.map(lambda r: json.dumps(r).encode()), st.binary(max_size=200)))
    def check(line: bytes) -> None:
        if b"\n" in line or not line.strip():
            return
        raw.send(line + b"\n")
        reply = raw.reply()
        assert isinstance(reply.get("ok"), bool), reply
        if not reply["ok"]:
            assert reply["error"]

    try:
        check()
        raw.send(b"[" * 100000 + b"\n")  # deeper than the JSON parser's recursion limit
        assert "not JSON" in raw.reply()["error"]
        raw.send(b'{"op": "hello", "id": 1}\n')
        assert raw.reply()["pid"] == os.getpid()
    finally:
        raw.close()
    assert owner.thread.is_alive() and owner.engine.snapshot().link.up


def test_remote_stick_speaks_the_circle_api(owner: Owner) -> None:
    from protocol.circle import Circle
    from protocol.errors import NodeTimeout
    from pwtui.control.client import find_owner
    from pwtui.control.remote import RemoteStick

    wait_for(lambda: (c := owner.engine.snapshot().circle(C1)) is not None and c.calibration is not None)
    client = find_owner(owner.path.parent)
    assert client is not None
    with RemoteStick(client) as stick:
        info = stick.open()
        assert info.mac == owner.engine.snapshot().link.stick_mac
        # the owner knows the calibration: answered here, without a round trip
        known = owner.engine.snapshot().circle(C1)
        assert known is not None and known.calibration is not None
        cal = stick.submit(M.CalibrationRequest(mac=C1))
        assert cal.done() and cal.result().calibration == units.Calibration(*known.calibration)
        circle = Circle(stick, C1)  # type: ignore[arg-type]
        assert circle.power().watts_8s is not None
        assert circle.info().mac == C1
        with pytest.raises(NodeTimeout, match="does not answer"):
            Circle(stick, "000D6F00010000EE").info()  # type: ignore[arg-type]
        refused = stick.command(E.Switch(mac=C3, on=False))
        assert not refused.ok and "always on" in refused.message
        done = stick.command(E.Switch(mac=C1, on=True))
        assert done.ok


def test_remote_command_fails_at_once_when_the_owner_goes_away(tmp_path: Path) -> None:
    from protocol.errors import LinkDown
    from pwtui.control.client import find_owner
    from pwtui.control.remote import RemoteStick

    owner = Owner(tmp_path, latency=1000)  # a clock sync then takes a second or more
    try:
        client = find_owner(owner.path.parent)
        assert client is not None
        stick = RemoteStick(client)
        stick.open()
        outcome: list[object] = []

        def sync() -> None:
            try:
                outcome.append(stick.command(E.SyncClock(mac=C1)))
            except LinkDown as exc:
                outcome.append(exc)

        worker = threading.Thread(target=sync, daemon=True)
        worker.start()
        wait_for(lambda: owner.server._commands, 10)  # accepted by the owner, at work
        owner.server.stop()
        worker.join(5)
        assert not worker.is_alive(), "the one-shot still waits for a result that cannot come"
        assert len(outcome) == 1 and isinstance(outcome[0], LinkDown), outcome
    finally:
        owner.close()


def _any_wire_type(name: str) -> st.SearchStrategy[Any]:
    extra = {"data": st.none() | st.dictionaries(st.text(), st.integers() | st.text())}
    return st.builds(TYPES[name], **(extra if name == "CommandResult" else {}))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TYPES)).flatmap(_any_wire_type))
def test_every_event_command_and_snapshot_round_trips(obj: Any) -> None:
    data = json.loads(json.dumps(to_wire(obj)))
    back = from_wire(data)
    assert type(back) is type(obj)
    text = json.dumps(data)
    assert json.dumps(to_wire(back)) == text  # compared as text: NaN == NaN there
    if "NaN" not in text:
        assert back == obj  # and as values: every field decoded to its own type


def test_a_deep_data_folder_still_gets_its_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / "data"  # longer than an AF_UNIX address may be
    deep.mkdir(parents=True)
    path = deep / "pwtui.sock"
    engine = Engine(load_config(write_config(tmp_path, "sim://?circles=1&latency=0")))
    server = ControlServer(engine, path)
    server.start()
    try:
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        with ControlClient(path) as c:
            assert c.connect()["pid"] == os.getpid()
    finally:
        server.stop()
    assert not path.exists()
