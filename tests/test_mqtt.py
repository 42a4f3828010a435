"""The MQTT bridge against a real mosquitto and the engine on sim://.

Every test waits on a message (or a state) it expects; none sleeps a fixed time.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from protocol import virtual
from pwtui import events as E
from pwtui.config import load_config
from pwtui.controlfile import update_row
from pwtui.engine import Engine
from pwtui.mqtt import MqttBridge
from pwtui.store import DB_NAME, Store
from tests.mosquitto import BINARY, Mosquitto, Received, Subscriber, free_port, make_tls_files, wait_until

pytestmark = pytest.mark.skipif(BINARY is None, reason="mosquitto is not installed (apt install mosquitto)")

C1, C2, C3 = (virtual.circle_mac(i) for i in (1, 2, 3))
CP = "000D6F0001000000"
P = "plugwise2py"
HA = "homeassistant"


def write_config(folder: Path, url: str, port: int, mqtt_extra: str = "") -> Path:
    cfg = folder / "pwtui.toml"
    cfg.write_text(f"""
[stick]
port = "{url}"
timeout = 2.0
[logging]
power_interval = 1
[mqtt]
host = "127.0.0.1"
port = {port}
username = "pwtui"
password = "s3cret-never-shown"
{mqtt_extra}
[[circle]]
mac = "{C1}"
name = "fridge"
location = "kitchen"
[[circle]]
mac = "{C2}"
name = "tv"
[[circle]]
mac = "{C3}"
name = "washer"
always_on = true
""")
    return cfg


class Running:
    """Engine + bridge in this process, as `pwtui --headless` runs them."""

    def __init__(
        self, folder: Path, url: str, port: int, energy_rate: float = 50.0, mqtt_extra: str = ""
    ) -> None:
        virtual.forget(url)
        self.net = virtual.network_for(url)
        self.config = load_config(write_config(folder, url, port, mqtt_extra))
        self.events: list[E.Event] = []
        self.engine = Engine(self.config, on_event=self.events.append)
        self.bridge = MqttBridge(self.config.mqtt, self.engine, energy_rate=energy_rate)
        self.stop_event = threading.Event()
        self.bridge.start()
        self.thread = threading.Thread(target=self.engine.run, args=(self.stop_event,), daemon=True)
        self.thread.start()

    def store(self) -> Store:
        return Store(self.config.paths.data / DB_NAME, readonly=True)

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.bridge.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def sub(broker: Mosquitto) -> Iterator[Subscriber]:
    s = Subscriber(broker.port)
    yield s
    s.close()


@pytest.fixture
def run(tmp_path: Path, broker: Mosquitto) -> Iterator[Callable[..., Running]]:
    made: list[Running] = []

    def make(url: str, **kw: float) -> Running:
        r = Running(tmp_path, url, broker.port, **kw)
        made.append(r)
        # the store exists (with its tables) once the engine has published a snapshot
        wait_until(lambda: r.engine.snapshot().circles, 15, "the engine's first snapshot")
        return r

    yield make
    for r in made:
        r.close()


def _is_json(m: Received, **want: object) -> bool:
    if not m.payload:
        return False
    data = m.json()
    return all(data.get(k) == v for k, v in want.items())


# --- what is published ------------------------------------------------------------------


def test_power_energy_and_circle_state_payloads(run, sub: Subscriber, broker: Mosquitto) -> None:
    r = run("sim://?circles=3&seed=31&latency=0&history=1")
    assert sub.wait_topic(f"{P}/status").payload == b"online"
    wait_until(lambda: r.bridge.state == "connected", 10, "bridge connected")

    power = sub.wait_topic(f"{P}/state/power/{C1}").json()
    assert set(power) == {"typ", "ts", "mac", "power"}
    assert power["typ"] == "pwpower" and power["mac"] == C1
    assert type(power["ts"]) is int and abs(power["ts"] - time.time()) < 30
    assert type(power["power"]) is float
    # the sample the engine stored (its cycle time is within a second or two of the reading)
    wait_until(lambda: any(True for _ in r.store().power_samples([C1], power["ts"] - 2)), 10, "sample stored")
    stored = [w for _m, _t, w in r.store().power_samples([C1], power["ts"] - 2, power["ts"] + 3)]
    assert any(w == pytest.approx(power["power"], abs=1e-3) for w in stored), (power, stored)

    state = sub.wait_topic(f"{P}/state/circle/{C3}", lambda m: _is_json(m, online=True, switch="on")).json()
    types = {
        "mac": str, "type": str, "name": str, "location": str, "online": bool, "lastseen": int,
        "readonly": bool, "reverse_pol": bool, "switch": str, "switchreq": str, "schedule": str,
        "requid": str, "schedname": str, "power1s": float, "power8s": float, "power1h": float,
        "powerts": int, "production": bool, "interval": int, "monitor": bool, "savelog": bool,
    }  # fmt: skip
    assert set(state) == set(types)
    assert {k: type(v) for k, v in state.items()} == types
    assert state["mac"] == C3 and state["name"] == "washer" and state["readonly"] is True
    assert state["type"] == "circle" and state["online"] is True and state["switch"] == "on"
    assert state["requid"] == "unset" and state["switchreq"] == "?" and state["interval"] == 60
    cp = sub.wait_topic(f"{P}/state/circle/{CP}").json()
    assert cp["type"] == "circle+"

    # energy: every stored interval (the day of catch-up), in order, matching the store
    def all_energy(ms: list[Received]) -> bool:
        st = r.store()
        stored = [i for i in st.intervals([C1]) if not i.production]
        got = [m.json()["ts"] for m in ms if m.topic == f"{P}/state/energy/{C1}"]
        return len(stored) >= 20 and got == [i.end_ts for i in stored]

    sub.wait_for(all_energy, 30, "every stored interval of C1 published")
    stored = [i for i in r.store().intervals([C1]) if not i.production]
    energy = [m.json() for m in sub.on(f"{P}/state/energy/{C1}")]
    first, last = energy[0], energy[-1]
    assert set(first) == {"typ", "ts", "mac", "power", "energy", "cum_energy", "interval"}
    assert first["typ"] == "pwenergy" and first["mac"] == C1 and first["interval"] == 60
    assert type(first["ts"]) is int and type(first["interval"]) is int and type(first["energy"]) is float
    assert first["energy"] == pytest.approx(stored[0].wh, abs=1e-3)
    assert first["power"] == pytest.approx(stored[0].wh, abs=1e-2)  # Wh in 60 min = average W
    assert last["cum_energy"] == pytest.approx(sum(i.wh for i in stored), abs=1e-2)

    # retained: a client that comes later gets the latest of each
    late = Subscriber(broker.port)
    try:
        for topic in (
            f"{P}/status",
            f"{P}/state/circle/{C1}",
            f"{P}/state/power/{C1}",
            f"{P}/state/energy/{C1}",
        ):
            assert late.wait_topic(topic).retain, topic
    finally:
        late.close()


def test_password_is_never_logged(run, sub: Subscriber, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = run("sim://?circles=1&seed=32&latency=0")
    sub.wait_topic(f"{P}/state/circle/{C1}", lambda m: _is_json(m, online=True, switch="on"))
    assert "pwtui@127.0.0.1" in caplog.text
    assert "s3cret" not in caplog.text and "s3cret" not in repr(r.config)


def test_circle_state_on_offline_and_control_change(run, sub: Subscriber) -> None:
    r = run("sim://?circles=2&seed=40&latency=0")
    sub.wait_topic(f"{P}/state/circle/{C2}", lambda m: _is_json(m, online=True, monitor=True))
    r.net.set_online(C2, False)
    sub.wait_topic(f"{P}/state/circle/{C2}", lambda m: _is_json(m, online=False), timeout=20, what="offline")
    r.net.set_online(C2, True)
    sub.wait_topic(f"{P}/state/circle/{C2}", lambda m: _is_json(m, online=True) and m.json()["lastseen"] > 0)
    # the control file changes (the console's settings or an editor): a fresh state follows
    update_row(r.config.paths.control, C1, monitor=False)
    sub.wait_topic(f"{P}/state/circle/{C1}", lambda m: _is_json(m, monitor=False), what="monitor off")


# --- commands -----------------------------------------------------------------------------


def _reply(sub: Subscriber, mac: str, uid: str, **want: object) -> dict[str, object]:
    m = sub.wait_topic(
        f"{P}/state/circle/{mac}", lambda m: _is_json(m, requid=uid, **want), what=f"reply {uid}"
    )
    return m.json()  # type: ignore[no-any-return]


def test_switch_schedule_reqstate_commands_are_answered(run, sub: Subscriber) -> None:
    r = run("sim://?circles=3&seed=33&latency=0")
    sub.wait_topic(f"{P}/state/circle/{C1}", lambda m: _is_json(m, online=True, switch="on"))
    sub.send(f"{P}/cmd/switch/{C1}", '{"mac":"","cmd":"switch","val":"OFF","uid":"u1","extra":[1]}')
    reply = _reply(sub, C1, "u1", switch="off")
    assert reply["switchreq"] == "off"
    assert r.net.circles[C1].relay is False
    sub.send(f"{P}/cmd/switch/{C1}", '{"mac":"","cmd":"switch","val":"on","uid":"u2"}')
    _reply(sub, C1, "u2", switch="on")
    assert r.net.circles[C1].relay is True

    # no schedule assigned: the engine refuses, the answer still comes
    sub.send(f"{P}/cmd/schedule/{C2}", '{"mac":"","cmd":"schedule","val":"on","uid":"s1"}')
    assert _reply(sub, C2, "s1")["schedule"] == "off"

    sub.send(f"{P}/cmd/reqstate/{C2}", '{"mac":"","cmd":"reqstate","val":"","uid":"q1"}')
    assert _reply(sub, C2, "q1")["online"] is True

    # an invalid val: answered, nothing switched
    sub.send(f"{P}/cmd/switch/{C2}", '{"mac":"","cmd":"switch","val":"dim","uid":"bad-val"}')
    assert _reply(sub, C2, "bad-val")["switch"] == "on"
    assert r.net.circles[C2].relay is True


def test_always_on_circle_refuses_switching(run, sub: Subscriber) -> None:
    r = run("sim://?circles=3&seed=34&latency=0")
    sub.wait_topic(f"{P}/state/circle/{C3}", lambda m: _is_json(m, online=True, switch="on"))
    sub.send(f"{P}/cmd/switch/{C3}", '{"mac":"","cmd":"switch","val":"off","uid":"ao"}')
    reply = _reply(sub, C3, "ao")
    assert reply["switch"] == "on" and reply["readonly"] is True and reply["switchreq"] == "off"
    assert r.net.circles[C3].relay is True
    # refused by the bridge (as Plugwise-2-py does): the engine never got a command for it
    assert not [e for e in r.events if isinstance(e, E.CommandResult) and e.mac == C3]


def test_bad_commands_are_logged_and_not_answered(run, sub: Subscriber, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="pwtui.mqtt")
    r = run("sim://?circles=2&seed=35&latency=0")
    sub.wait_topic(f"{P}/state/circle/{C1}", lambda m: _is_json(m, online=True, switch="on"))
    bad = [
        (f"{P}/cmd/switch/{C1}", b'{"val":"off","uid":"b1"'),  # not JSON
        (f"{P}/cmd/switch/{C1}", b'["off"]'),  # not an object
        (f"{P}/cmd/switch/000D6F00019999FF", b'{"val":"off","uid":"b2"}'),  # unknown MAC
        (f"{P}/cmd/switch/{C1}", b'{"mac":"","cmd":"switch","uid":"b3"}'),  # val missing
        (f"{P}/cmd/switch/{C1}", b'{"val":0,"uid":"b4"}'),  # val not a string
        (f"{P}/cmd/dance/{C1}", b'{"val":"on","uid":"b5"}'),  # unknown command
        (f"{P}/cmd/switch/{C1}", b"\xff\xfe"),  # not UTF-8
    ]
    for topic, payload in bad:
        sub.send(topic, payload)
    # commands are handled in order: once this one is answered, the bad ones were seen
    sub.send(f"{P}/cmd/reqstate/{C1}", '{"val":"","uid":"after"}')
    _reply(sub, C1, "after")
    replies = [m.json().get("requid") for m in sub.on(f"{P}/state/circle/{C1}") if m.payload]
    assert not {"b1", "b2", "b3", "b4", "b5"} & set(replies)
    assert r.net.circles[C1].relay is True
    for reason in ("not JSON", "not a JSON object", "unknown circle", "'val' is missing", "must be a string"):
        assert reason in caplog.text, reason
    assert "unknown command 'dance'" in caplog.text


# --- Home Assistant discovery ---------------------------------------------------------------


def test_discovery_configs_and_removal(run, sub: Subscriber, broker: Mosquitto) -> None:
    r = run("sim://?circles=3&seed=36&latency=0")
    sw = sub.wait_topic(f"{HA}/switch/{C1}/switch/config").json()
    assert sw["state_topic"] == f"{P}/state/circle/{C1}" and sw["command_topic"] == f"{P}/cmd/switch/{C1}"
    assert sw["value_template"] == "{{ value_json.switch }}" and sw["state_on"] == "on"
    assert sw["availability_topic"] == f"{P}/status"
    assert sw["device"]["identifiers"] == [C1] and sw["device"]["manufacturer"] == "Plugwise"
    assert sw["device"]["name"] == "fridge"
    power = sub.wait_topic(f"{HA}/sensor/{C1}/power/config").json()
    assert power["unit_of_measurement"] == "W" and power["device_class"] == "power"
    assert power["state_class"] == "measurement" and power["state_topic"] == f"{P}/state/power/{C1}"
    energy = sub.wait_topic(f"{HA}/sensor/{C1}/energy/config").json()
    assert energy["unit_of_measurement"] == "kWh" and energy["device_class"] == "energy"
    assert energy["state_class"] == "total_increasing" and energy["state_topic"] == f"{P}/state/energy/{C1}"
    for mac in (CP, C1, C2, "000D6F0001000003"):  # every circle announced before the late client comes
        sub.wait_topic(f"{HA}/sensor/{mac}/energy/config")
    late = Subscriber(broker.port, f"{HA}/#")  # retained: a later client gets them all
    try:
        late.wait_for(lambda ms: len(ms) >= 9, what="nine retained discovery configs")
        assert all(m.retain for m in late.messages), [
            (m.topic[-30:], m.payload[:8], m.retain) for m in late.messages if not m.retain
        ]
    finally:
        late.close()

    # the switch's own payload_off switches the circle (what Home Assistant sends)
    sub.send(sw["command_topic"], sw["payload_off"])
    sub.wait_topic(f"{P}/state/circle/{C1}", lambda m: _is_json(m, switch="off"))

    sub.wait_topic(f"{HA}/switch/{C2}/switch/config")
    r.engine.submit(E.RemoveNode(C2))
    for kind in ("switch/{}/switch", "sensor/{}/power", "sensor/{}/energy"):
        topic = f"{HA}/{kind.format(C2)}/config"
        sub.wait_topic(topic, lambda m: m.payload == b"" and m.retain is False, what=f"{topic} emptied")
    # and it stays withdrawn (a configured circle is still listed, offline)
    cycles = sum(isinstance(e, E.CycleUpdate) for e in r.events)
    wait_until(lambda: sum(isinstance(e, E.CycleUpdate) for e in r.events) >= cycles + 3, 10, "three cycles")
    sub.send(f"{P}/cmd/reqstate/{C1}", '{"val":"","uid":"sync"}')  # the bridge has seen them
    _reply(sub, C1, "sync")
    assert sub.on(f"{HA}/switch/{C2}/switch/config")[-1].payload == b""
    assert sub.on(f"{HA}/switch/{C1}/switch/config")[-1].payload != b""


# --- nothing lost while the broker is away ---------------------------------------------------


def test_broker_away_backlog_published_in_order_without_flooding(tmp_path: Path, broker: Mosquitto) -> None:
    rate = 10.0
    # a persistent session: what is sent while this subscriber reconnects is kept for it
    sub = Subscriber(broker.port, topic=f"{P}/state/energy/#", session="test-backlog")
    live = Subscriber(broker.port, topic=f"{P}/state/energy/#")  # sees the pace as it is sent
    wait_until(lambda: sub.subscribed.is_set() and live.subscribed.is_set(), 10, "subscribed")
    broker.stop()
    r = Running(tmp_path, "sim://?circles=1&seed=37&latency=0&history=2", broker.port, energy_rate=rate)
    try:
        _backlog(r, broker, sub, live, rate)
    finally:
        r.close()
        sub.close()
        live.close()


def _backlog(r: Running, broker: Mosquitto, sub: Subscriber, live: Subscriber, rate: float) -> None:
    macs = (CP, C1)

    def stored() -> dict[str, list[int]]:
        st = r.store()
        return {mac: [i.end_ts for i in st.intervals([mac]) if not i.production] for mac in macs}

    def caught_up() -> bool:
        snap = r.engine.snapshot()
        done = snap.circles and all(c.history_done >= c.history_total for c in snap.circles)
        return bool(done) and all(len(v) >= 44 for v in stored().values())

    # the whole catch-up is stored while the broker is away
    wait_until(lambda: (r.config.paths.data / DB_NAME).exists() and caught_up(), 30, "catch-up stored")
    assert r.bridge.state == "retrying"
    want = stored()
    broker.start()
    sub.wait_for(lambda ms: len(ms) >= 30, 20, "the backlog under way")
    broker.stop()  # again, in the middle of it
    wait_until(lambda: r.bridge.state == "retrying", 10, "bridge notices the broker is gone again")
    broker.start()

    def got(ms: list[Received], mac: str) -> list[int]:
        return [m.json()["ts"] for m in ms if m.topic == f"{P}/state/energy/{mac}"]

    sub.wait_for(lambda ms: all(set(got(ms, m)) >= set(want[m]) for m in macs), 30, "the whole backlog")
    for mac in macs:
        # at least once, in order: repeats of what was in flight are fine, nothing new jumps ahead
        # (an interval the engine stores later, e.g. a re-read block, still goes out in time order)
        first_seen = list(dict.fromkeys(got(sub.messages, mac)))
        assert first_seen == sorted(first_seen) and set(want[mac]) <= set(first_seen), mac
    # without flooding: never more than the rate plus a second's burst
    # (over 4-s windows: a loaded machine may deliver a second's messages together)
    times = [m.at for m in live.messages]
    worst = max(sum(1 for t in times if a <= t < a + 4.0) for a in times)
    assert len(times) >= 20 and worst <= 4 * rate + 2 * rate, f"{worst} messages in four seconds"
    # the published-up-to mark followed the broker's acknowledgements
    wait_until(
        lambda: all((Store(r.config.paths.data / DB_NAME).mqtt_mark(m) or 0) >= want[m][-1] for m in macs),
        10,
        "marks saved",
    )


def test_connection_state_off_retrying_connected(tmp_path: Path, broker: Mosquitto) -> None:
    broker.stop()
    r = Running(tmp_path, "sim://?circles=1&seed=41&latency=0", broker.port)
    try:
        assert r.bridge.state == "retrying"  # the broker is away: the logger runs all the same
        wait_until(lambda: r.engine.snapshot().circles, 10, "the engine runs")
        broker.start()
        wait_until(lambda: r.bridge.state == "connected", 15, "connected when the broker is back")
    finally:
        r.stop_event.set()
        r.thread.join(5)
        t0 = time.monotonic()
        r.bridge.stop()
        assert time.monotonic() - t0 < 2.0
    assert r.bridge.state == "off"
    unstarted = MqttBridge(r.config.mqtt, r.engine)
    assert unstarted.state == "off"


# --- the headless logger: last will and clean stop -----------------------------------------


def test_headless_status_online_clean_stop_and_last_will_after_kill_9(tmp_path, broker, sub) -> None:
    cfg = write_config(tmp_path, "sim://?circles=1&latency=0", broker.port)
    cmd = [sys.executable, "-m", "pwtui", "--headless", "--config", str(cfg)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def onlines(n: int) -> Callable[[list[Received]], bool]:
        return lambda ms: sum(m.topic == f"{P}/status" and m.payload == b"online" for m in ms) >= n

    def status_last(value: bytes) -> Callable[[list[Received]], bool]:
        return lambda ms: [m.payload for m in ms if m.topic == f"{P}/status"][-1:] == [value]

    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    sub.wait_for(onlines(1), 20, "online")
    sub.wait_topic(f"{P}/state/circle/{C1}", lambda m: _is_json(m, online=True, switch="on"))
    # `pwtui status` (and status.json for scripts) show the broker connection
    deadline = time.monotonic() + 20
    while True:
        st = subprocess.run(
            [sys.executable, "-m", "pwtui", "status", "--config", str(cfg)],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        if st.returncode == 0 and json.loads(st.stdout).get("mqtt") == "connected":
            break
        assert time.monotonic() < deadline, st.stdout + st.stderr
    assert json.loads((cfg.parent / "data" / "status.json").read_text())["mqtt"] == "connected"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    sub.wait_for(status_last(b"offline"), 5, "offline on a clean stop")
    assert "s3cret" not in err

    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        sub.wait_for(onlines(2), 20, "online again")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(5)
        sub.wait_for(status_last(b"offline"), 10, "the last will after kill -9")
    finally:
        if p.poll() is None:
            p.kill()


# --- TLS ---------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_with_ca_file_and_a_refused_certificate(tmp_path: Path, caplog) -> None:
    ca, crt, key = make_tls_files(tmp_path / "tls")
    tls_port = free_port()
    broker = Mosquitto(
        tmp_path / "broker",
        extra=f"listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {crt}\nkeyfile {key}\n",
    ).start()
    sub = Subscriber(broker.port, f"{P}/#")  # the plain listener
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    try:
        r = Running(
            tmp_path / "good",
            "sim://?circles=1&seed=38&latency=0",
            tls_port,
            mqtt_extra=f'tls = true\nca_file = "{ca}"',
        )
        try:
            sub.wait_topic(f"{P}/status", lambda m: m.payload == b"online", what="online over TLS")
            # the bridge's own thread records the connection just after paho announced it
            wait_until(lambda: r.bridge.state == "connected", 10, "the bridge's state: connected")
        finally:
            r.stop_event.set()
            r.thread.join(5)
            r.bridge.stop()
        sub.wait_topic(f"{P}/status", lambda m: m.payload == b"offline", what="offline on stop")
        # without the CA the broker's certificate is not trusted: no connection, a clear warning
        caplog.set_level(logging.WARNING, logger="pwtui.mqtt")
        r = Running(tmp_path / "bad", "sim://?circles=1&seed=39&latency=0", tls_port, mqtt_extra="tls = true")
        try:
            wait_until(lambda: "certificate verify failed" in caplog.text, 15, "a warning naming the cause")
            assert r.bridge.state == "retrying"
        finally:
            r.stop_event.set()
            r.thread.join(5)
            r.bridge.stop()
    finally:
        sub.close()
        broker.stop()
