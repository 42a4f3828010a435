"""The MQTT bridge's pure parts: payloads, command parsing, and the energy backlog on a real
SQLite store (no broker needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pwtui.events import CircleStatus
from pwtui.mqtt.backlog import EnergyBacklog
from pwtui.mqtt.commands import BadCommand, MqttCommand, parse_command
from pwtui.mqtt.payloads import (
    EnergyMessage,
    Topics,
    circle_payload,
    discovery_configs,
    dumps,
    energy_payload,
    power_payload,
    replayable_power,
    with_reading,
)
from pwtui.store import Interval, Store

MAC = "000D6F0001000001"
OTHER = "000D6F0001000002"
T0 = 1_796_000_400  # an hour boundary


# --- payloads ---------------------------------------------------------------------------------


def test_power_payload_types() -> None:
    p = power_payload(MAC, 1796150760, -12)
    assert p == {"typ": "pwpower", "ts": 1796150760, "mac": MAC, "power": -12.0}
    assert type(p["power"]) is float
    assert json.loads(dumps(p)) == p


def test_power_older_than_a_minute_is_not_replayed() -> None:
    def circle(age: int, online: bool = True) -> CircleStatus:
        return CircleStatus(
            mac=MAC, online=online, watts=5.0, last_seen=datetime.fromtimestamp(T0 - age, UTC)
        )

    assert replayable_power(circle(60), T0, 60) == T0 - 60
    assert replayable_power(circle(61), T0, 60) is None
    assert replayable_power(circle(0, online=False), T0, 60) is None
    assert replayable_power(CircleStatus(mac=MAC, online=True), T0, 60) is None


def test_energy_payload_average_power_and_minutes() -> None:
    e = energy_payload(EnergyMessage(MAC, T0 - 900, T0, 25.0, 1025.5))
    assert e == {
        "typ": "pwenergy",
        "ts": T0,
        "mac": MAC,
        "power": 100.0,
        "energy": 25.0,
        "cum_energy": 1025.5,
        "interval": 15,
    }
    assert type(e["interval"]) is int and type(e["power"]) is float


def test_circle_payload_keys_and_values() -> None:
    seen = datetime.fromtimestamp(T0, UTC)
    c = CircleStatus(
        mac=MAC,
        name="fridge\x1b[2J",
        location="kitchen",
        online=True,
        relay=False,
        watts=81.25,
        watts_1s=79,  # type: ignore[arg-type]
        schedule="winter",
        schedule_state=True,
        always_on=True,
        log_interval=5,
        last_seen=seen,
        node_type="circle+",
    )
    p = circle_payload(c, switchreq="off", requid="abc", power1h=50)
    assert p["type"] == "circle+" and p["switch"] == "off" and p["schedule"] == "on"
    assert p["readonly"] is True and p["requid"] == "abc" and p["switchreq"] == "off"
    assert p["power1s"] == 79.0 and type(p["power1s"]) is float and p["power8s"] == 81.25
    assert p["power1h"] == 50.0 and type(p["power1h"]) is float
    assert p["lastseen"] == T0 and p["powerts"] == T0 and p["interval"] == 5
    assert p["schedname"] == "winter" and "\x1b" not in p["name"]  # untrusted text stays text
    assert circle_payload(CircleStatus(mac=MAC), circle_plus_mac=MAC)["type"] == "circle+"
    unknown = circle_payload(CircleStatus(mac=MAC), circle_plus_mac=OTHER)
    assert (
        unknown["type"] == "circle"
        and unknown["switch"] == "?"
        and unknown["lastseen"] == 0
        and unknown["online"] is False
    )


def test_a_reqstate_reading_replaces_the_powers() -> None:
    p = circle_payload(CircleStatus(mac=MAC, online=True, watts=1.0, watts_1s=2.0))
    fresh = with_reading(p, {"mac": MAC, "watts": 80, "watts_1s": 79.5, "time": "2026-12-01T10:00:00Z"})
    assert (fresh["power8s"], fresh["power1s"]) == (80.0, 79.5) and type(fresh["power8s"]) is float
    assert with_reading(p, {"watts": None, "watts_1s": True}) == p  # nothing usable: unchanged
    assert p["power8s"] == 1.0  # the original is not changed


def test_discovery_off_and_production_energy_template() -> None:
    c = CircleStatus(mac=MAC, name="solar", production=True)
    assert discovery_configs(c, Topics("pw", "")) == []
    assert Topics("pw", "").discovery_topics(MAC) == []
    configs = dict(discovery_configs(c, Topics("pw", "ha")))
    assert set(configs) == {
        f"ha/switch/{MAC}/switch/config",
        f"ha/sensor/{MAC}/power/config",
        f"ha/sensor/{MAC}/energy/config",
    }
    assert "| abs" in configs[f"ha/sensor/{MAC}/energy/config"]["value_template"]
    switch = configs[f"ha/switch/{MAC}/switch/config"]
    assert json.loads(switch["payload_on"]) == {"mac": "", "cmd": "switch", "val": "on"}


# --- commands ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        (f"pw/cmd/switch/{MAC}", b'{"mac":"","cmd":"switch","val":"On"}', MqttCommand("switch", MAC, "on")),
        (f"pw/cmd/switch/{MAC.lower()}", b'{"val":"off","uid":"7"}', MqttCommand("switch", MAC, "off", "7")),
        (f"pw/cmd/schedule/{MAC}", b'{"val":"on","x":1}', MqttCommand("schedule", MAC, "on")),
        (f"pw/cmd/reqstate/{MAC}", b'{"mac":""}', MqttCommand("reqstate", MAC, None)),
        (f"pw/cmd/switch/{MAC}", b'{"val":"dim"}', MqttCommand("switch", MAC, "dim")),
    ],
)
def test_commands_understood(topic: str, payload: bytes, expected: MqttCommand) -> None:
    got = parse_command("pw", topic, payload, {MAC})
    assert got == expected
    assert got.valid == (expected.val != "dim")


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (f"pw/cmd/switch/{MAC}", b"{", "not JSON"),
        (f"pw/cmd/switch/{MAC}", b"\xff", "not JSON"),
        (f"pw/cmd/switch/{MAC}", b"42", "not a JSON object"),
        (f"pw/cmd/switch/{OTHER}", b'{"val":"on"}', "unknown circle"),
        (f"pw/cmd/switch/{MAC}", b'{"cmd":"switch"}', "'val' is missing"),
        (f"pw/cmd/switch/{MAC}", b'{"val":true}', "'val' must be a string"),
        (f"pw/cmd/reqstate/{MAC}", b'{"uid":5}', "'uid' must be a string"),
        (f"pw/cmd/switch/{MAC}", b'{"mac":null,"val":"on"}', "'mac' must be a string"),
        (f"pw/cmd/dance/{MAC}", b'{"val":"on"}', "unknown command 'dance'"),
        ("pw/cmd/switch/nonsense", b'{"val":"on"}', "is not a MAC"),
        (f"pw/cmd/switch/{MAC}/x", b'{"val":"on"}', "expected <prefix>/cmd/<command>/<MAC>"),
        ("other/cmd/switch", b"{}", "not a command topic"),
    ],
)
def test_bad_commands_name_their_reason(topic: str, payload: bytes, reason: str) -> None:
    got = parse_command("pw", topic, payload, {MAC})
    assert isinstance(got, BadCommand) and reason in str(got), got


def test_a_huge_payload_is_not_parsed() -> None:
    got = parse_command("pw", f"pw/cmd/switch/{MAC}", b'{"val":"on","x":"' + b"a" * 70000 + b'"}', {MAC})
    assert isinstance(got, BadCommand) and "too large" in str(got)


@given(
    topic=st.one_of(st.text(max_size=40), st.builds(lambda k, m: f"pw/cmd/{k}/{m}", st.sampled_from(["switch", "schedule", "reqstate"]) | st.text(max_size=10), st.sampled_from([MAC, OTHER, "x"]))),
    payload=st.one_of(st.binary(max_size=60), st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["val", "uid", "mac", "cmd", "z"]), c, max_size=4)).map(lambda v: json.dumps(v).encode())),
)  # fmt: skip
def test_any_message_is_understood_or_ignored_with_a_reason(topic: str, payload: bytes) -> None:
    got = parse_command("pw", topic, payload, {MAC})
    assert isinstance(got, MqttCommand | BadCommand)
    if isinstance(got, BadCommand):
        assert str(got).startswith("MQTT command on") and "\x1b" not in str(got)
    else:
        assert got.mac == MAC and (got.val is None or got.val == got.val.strip().lower())


# --- the energy backlog on a real store -------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store(tmp_path / "pwtui.sqlite")
    with st.batch():
        st.add_intervals(Interval(MAC, T0 + h * 3600, T0 + (h + 1) * 3600, 10.0 + h, False) for h in range(6))
        st.add_intervals(Interval(OTHER, T0 + h * 3600, T0 + (h + 1) * 3600, 1.0, False) for h in range(3))
    return st


def _ends(msgs: list[EnergyMessage], mac: str = MAC) -> list[int]:
    return [m.end_ts - T0 for m in msgs if m.mac == mac]


def test_backlog_in_order_with_cumulative_energy_and_a_window(store: Store) -> None:
    b = EnergyBacklog(store, window=4, clock=lambda: T0 + 10 * 3600)
    first = b.take([MAC, OTHER], {}, budget=10)
    assert len(first) == 4  # the window
    assert _ends(first) == [3600, 7200] and _ends(first, OTHER) == [3600, 7200]
    assert [m.cum_wh for m in first if m.mac == MAC] == [10.0, 21.0]
    for mid, m in enumerate(first):
        b.sent(m, mid)
    assert b.take([MAC, OTHER], {}, budget=10) == []  # window full until acknowledged
    for mid, m in enumerate(first):
        if m.mac == MAC:
            b.acked(mid)
    assert b.marks_to_save() == {MAC: T0 + 7200}
    nxt = b.take([MAC], {}, budget=10)
    assert _ends(nxt) == [10800, 14400] and nxt[0].cum_wh == 33.0


def test_backlog_mark_moves_only_over_acknowledged_heads(store: Store) -> None:
    b = EnergyBacklog(store, window=10, clock=lambda: T0 + 10 * 3600)
    msgs = b.take([MAC], {}, budget=3)
    for mid, m in enumerate(msgs):
        b.sent(m, mid)
    b.acked(2)  # out of order: nothing is safe yet
    assert b.marks_to_save() == {}
    b.acked(0)
    assert b.marks_to_save() == {MAC: T0 + 3600}
    b.acked(1)
    assert b.marks_to_save() == {MAC: T0 + 3 * 3600}
    store.set_mqtt_marks({MAC: T0 + 3 * 3600})
    # a restarted logger continues after the mark, with the right cumulative total
    again = EnergyBacklog(store, clock=lambda: T0 + 10 * 3600).take([MAC], {}, budget=100)
    assert _ends(again) == [4 * 3600, 5 * 3600, 6 * 3600]
    assert again[0].cum_wh == pytest.approx(10 + 11 + 12 + 13)


def test_backlog_backfill_limit_for_a_circle_never_published(store: Store) -> None:
    b = EnergyBacklog(store, backfill_s=3 * 3600, clock=lambda: T0 + 6 * 3600)
    assert _ends(b.take([MAC], {}, budget=100)) == [4 * 3600, 5 * 3600, 6 * 3600]


def test_backlog_waits_for_the_production_half(tmp_path: Path) -> None:
    st = Store(tmp_path / "p.sqlite")
    with st.batch():
        st.add_intervals([Interval(MAC, T0, T0 + 3600, 5.0, False), Interval(MAC, T0, T0 + 3600, 20.0, True)])
        st.add_intervals([Interval(MAC, T0 + 3600, T0 + 7200, 4.0, False)])
    b = EnergyBacklog(st, clock=lambda: T0 + 3 * 3600)
    got = b.take([MAC], {MAC: True}, budget=10)
    assert [(m.end_ts - T0, m.wh) for m in got] == [(3600, -15.0)]  # net: production negative
    with st.batch():
        st.add_intervals([Interval(MAC, T0 + 3600, T0 + 7200, 1.0, True)])
    assert [(m.end_ts - T0, m.wh, m.cum_wh) for m in b.take([MAC], {MAC: True}, 10)] == [(7200, 3.0, -12.0)]


def test_backlog_sends_intervals_stored_late_and_keeps_the_mark(store: Store, caplog) -> None:
    b = EnergyBacklog(store, clock=lambda: T0 + 10 * 3600)
    first = b.take([MAC], {}, budget=100)
    assert _ends(first) == [h * 3600 for h in range(1, 7)]
    for mid, m in enumerate(first):
        b.sent(m, mid)
        b.acked(mid)
    # the engine reads today's blocks first: an older interval lands after newer ones were sent
    with store.batch():
        store.add_intervals(
            [
                Interval(MAC, T0 + 2 * 3600, T0 + 2 * 3600 + 1800, 7.0, False),
                Interval(MAC, T0 + 6 * 3600, T0 + 7 * 3600, 1.0, False),
            ]
        )
    late = b.take([MAC], {}, budget=100)
    assert [m.end_ts - T0 for m in late] == [7200 + 1800, 7 * 3600]
    # the running total goes on (never down: Home Assistant would take a drop for a meter reset)
    assert late[0].cum_wh == pytest.approx(sum(10 + h for h in range(6)) + 7)
    assert late[1].cum_wh == pytest.approx(sum(10 + h for h in range(6)) + 7 + 1)
    assert "stored after later ones were sent" in caplog.text
    b.marks_to_save()
    for mid, m in enumerate(late, 100):
        b.sent(m, mid)
    b.acked(100)
    assert b.marks_to_save() == {MAC: T0 + 6 * 3600}  # the late one never moves the mark back
    b.acked(101)
    assert b.marks_to_save() == {MAC: T0 + 7 * 3600}
