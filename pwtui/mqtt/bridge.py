"""`MqttBridge(config, engine)`: the engine's state on a broker and commands from it.

One worker thread does all the work: the engine's listener and paho's callbacks only put items
on its queue, so a slow broker never holds up a poll cycle and paho's thread never touches the
engine.  The worker reads the store through its own connection (energy intervals and the
published-up-to marks) and sends commands with `engine.submit`, the same way as the console.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol, cast

import paho.mqtt.client as mqtt

from .. import events as E
from ..config import MqttConfig
from .commands import BadCommand, parse_command, refusal
from .connection import KEEPALIVE_S, Item, describe, make_client
from .energy import EnergyPublisher
from .payloads import (
    Topics,
    circle_payload,
    discovery_configs,
    dumps,
    power_payload,
    replayable_power,
    state_key,
    with_reading,
)

log = logging.getLogger("pwtui.mqtt")

State = Literal["off", "connected", "retrying"]
POWER_MAX_AGE_S = 60  # power samples older than this are not sent after a reconnect
REPLY_WAIT_S = 2.0  # a command's answer waits this long for the cycle that shows its effect
TICK_S = 0.1


class EngineLike(Protocol):
    """What the bridge needs of an engine (the engine, or an attached one)."""

    def add_listener(self, callback: Callable[[E.Event], None]) -> Callable[[], None]: ...
    def submit(self, command: E.Command) -> int: ...
    def snapshot(self) -> E.Snapshot: ...
    @property
    def store_path(self) -> Path: ...


class MqttBridge:
    def __init__(self, config: MqttConfig, engine: EngineLike, *, energy_rate: float = 50.0) -> None:
        self.config = config
        self.engine = engine
        self.topics = Topics(config.prefix, config.discovery)
        self.energy_rate = energy_rate  # backlog messages per second at most
        self._inbox: queue.Queue[Item] = queue.Queue()
        self._stop = threading.Event()
        self._state: State = "off"
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None
        self._remove_listener: Callable[[], None] | None = None
        # worker-only state
        self._connected = False
        self._warned = False
        self._gone: set[str] = set()  # removed circles whose discovery is still to withdraw
        self._left: set[str] = set()  # circles removed from the network (a configured one stays listed)
        self._energy = EnergyPublisher(
            engine.store_path, self.topics, lambda t, p: self._publish(t, p), energy_rate
        )
        self._circles: dict[str, E.CircleStatus] = {}
        self._node_table: set[str] = set()
        self._cp_mac: str | None = None
        self._keys: dict[str, tuple[object, ...]] = {}
        self._announced: dict[str, tuple[object, ...]] = {}
        self._power_ts: dict[str, int] = {}
        self._switchreq: dict[str, str] = {}
        self._requid: dict[str, str] = {}
        self._commands: dict[int, str] = {}  # command id -> mac, for MQTT commands in flight
        self._replies: dict[str, tuple[float, dict[str, object] | None]] = {}  # mac -> (due, data)

    @property
    def state(self) -> State:
        """Broker connection for `Snapshot.mqtt`: "off", "connected" or "retrying"."""
        return self._state

    def start(self) -> None:
        """Connect in the background (a broker that is away is retried) and start listening."""
        log.info("MQTT bridge to %s, topics under %s/", describe(self.config), self.config.prefix)
        self._client = make_client(self.config, self.topics, self._inbox)
        self._state = "retrying"
        self._client.connect_async(self.config.host, self.config.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        self._remove_listener = self.engine.add_listener(lambda ev: self._inbox.put(("event", ev)))
        self._worker = threading.Thread(target=self._run, name="mqtt-bridge", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Say "offline" (retained), disconnect and stop; returns within about `timeout` s."""
        if self._remove_listener is not None:
            self._remove_listener()
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout)
        client = self._client
        if client is not None:
            if client.is_connected():
                info = client.publish(self.topics.status, "offline", qos=1, retain=True)
                try:
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError):
                    pass
            client.disconnect()
            # paho's thread may be inside a connection attempt (up to its connect timeout):
            # it ends on its own after `disconnect`, the logger does not wait for it
            ender = threading.Thread(target=client.loop_stop, name="mqtt-stop", daemon=True)
            ender.start()
            ender.join(timeout)
        self._state = "off"

    # --- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            snap = self.engine.snapshot()
            if snap.circles:
                self._inbox.put(("event", E.CycleUpdate(snap)))
            while not self._stop.is_set():
                for kind, value in self._take_inbox():
                    self._step(self._handle, kind, value)
                self._step(self._due_replies)
                self._step(self._energy.pump, self._connected, self._circles)
        finally:
            self._energy.close()

    def _take_inbox(self, most: int = 1000) -> list[Item]:
        """What arrived: waits up to a tick for the first item, then takes what is there."""
        try:
            items = [self._inbox.get(timeout=TICK_S)]
        except queue.Empty:
            return []
        while len(items) < most:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return items

    @staticmethod
    def _step(fn: Callable[..., None], *args: object) -> None:
        """One piece of work; a failure is logged and the bridge goes on (a logger never stops)."""
        try:
            fn(*args)
        except Exception:
            log.exception("MQTT bridge: %s failed", getattr(fn, "__name__", fn))

    def _handle(self, kind: str, value: object) -> None:
        if kind == "event":
            if isinstance(value, E.CycleUpdate):
                self._on_snapshot(value.snapshot)
                self._energy.poke()
            elif isinstance(value, E.CommandResult):
                self._on_result(value)
        elif kind == "connected":
            self._on_connected()
        elif kind == "disconnected" or kind == "refused":
            if not self._warned:  # once per outage, not once per retry
                what = "connection lost" if self._connected else "cannot connect"
                log.warning("MQTT broker %s: %s (%s); retrying", describe(self.config), what, value)
                self._warned = True
            self._connected = False
            self._state = "retrying"
        elif kind == "message":
            topic, payload = cast(tuple[str, bytes], value)
            self._on_command(topic, payload)
        elif kind == "ack":
            self._energy.acked(cast(int, value))

    def _publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = True) -> int:
        assert self._client is not None
        return self._client.publish(topic, payload, qos=qos, retain=retain).mid

    def _on_connected(self) -> None:
        log.info("MQTT broker %s connected", describe(self.config))
        self._connected = True
        self._warned = False
        self._state = "connected"
        self._announced.clear()
        self._energy.poke()
        for mac in sorted(self._gone):
            self._withdraw(mac)
        now = int(time.time())
        for c in self._circles.values():
            if c.mac not in self._left:
                self._announce(c)
            self._send_state(c)
            ts = replayable_power(c, now, POWER_MAX_AGE_S)
            if ts is not None:
                self._send_power(c, ts)

    # --- state, power, discovery ---------------------------------------------------------

    def _on_snapshot(self, snap: E.Snapshot) -> None:
        current = {c.mac: c for c in snap.circles}
        self._cp_mac = snap.link.circle_plus_mac or self._cp_mac
        # removed from the network: gone from the Circle+'s node table (read with the link up; an
        # empty table is taken for "not read yet"). A circle missing from one snapshot is not
        # enough: withdrawing its discovery would delete the user's Home Assistant device.
        table = {mac for _i, mac in snap.node_table}
        removed: set[str] = set()
        if snap.link.up and table:
            # before the first read, every circle listed (the Circle+ is in no table) counts as
            # a member: one removed before the table was first read is withdrawn too
            before = self._node_table
            if not before and self._cp_mac:
                before = set(current) - {self._cp_mac}
            removed = before - table
            self._node_table = table
            self._left = (self._left | removed) - table  # a circle that joins again is back
        for mac in removed:
            self._withdraw(mac)
        self._circles = current
        for c in snap.circles:
            if c.mac not in self._left:
                self._announce(c)
            key = state_key(c)
            if c.mac in self._replies:
                self._send_state(c, self._replies[c.mac][1])
            elif self._keys.get(c.mac) != key:
                self._send_state(c)
            if c.online and c.watts is not None and c.last_seen is not None:
                ts = int(c.last_seen.timestamp())
                if ts > self._power_ts.get(c.mac, 0):
                    self._send_power(c, ts)

    def _announce(self, c: E.CircleStatus) -> None:
        key = (c.name, c.model, c.location, c.production, c.fw_version)
        if not self._connected or not self.topics.discovery or self._announced.get(c.mac) == key:
            return
        for topic, config in discovery_configs(c, self.topics, self._cp_mac):
            self._publish(topic, dumps(config))
        self._announced[c.mac] = key

    def _withdraw(self, mac: str) -> None:
        """A circle left the network: its discovery configs go (empty retained messages)."""
        if not self._connected:
            self._gone.add(mac)  # withdrawn when the broker is back
            return
        self._gone.discard(mac)
        log.info("MQTT: %s removed from the network, withdrawing its discovery configs", mac)
        for topic in self.topics.discovery_topics(mac):
            self._publish(topic, b"")
        self._announced.pop(mac, None)
        self._keys.pop(mac, None)

    def _send_state(self, c: E.CircleStatus, data: dict[str, object] | None = None) -> None:
        if not self._connected:
            return
        payload = circle_payload(
            c,
            circle_plus_mac=self._cp_mac,
            switchreq=self._switchreq.get(c.mac, "?"),
            requid=self._requid.get(c.mac, "unset"),
            power1h=self._power1h(c.mac),
        )
        if data:
            payload = with_reading(payload, data)
        self._publish(self.topics.circle(c.mac), dumps(payload))
        self._keys[c.mac] = state_key(c)
        self._replies.pop(c.mac, None)

    def _send_power(self, c: E.CircleStatus, ts: int) -> None:
        if not self._connected or c.watts is None:
            return
        self._publish(self.topics.power(c.mac), dumps(power_payload(c.mac, ts, c.watts)), qos=0)
        self._power_ts[c.mac] = ts

    def _power1h(self, mac: str) -> float:
        """Average W of the past hour from the stored samples (Plugwise-2-py's `power1h`)."""
        store = self._energy.store()
        if store is None:
            return 0.0
        now = int(time.time())
        watts = [w for _m, _t, w in store.power_samples([mac], now - 3600, now + 1)]
        return sum(watts) / len(watts) if watts else 0.0

    # --- commands --------------------------------------------------------------------------

    def _on_command(self, topic: str, payload: bytes) -> None:
        cmd = parse_command(self.config.prefix, topic, payload, self._circles)
        if isinstance(cmd, BadCommand):
            log.warning("%s", cmd)
            return
        circle = self._circles[cmd.mac]
        self._requid[cmd.mac] = cmd.uid if cmd.uid is not None else "unset"
        if cmd.kind == "switch" and cmd.val is not None:
            self._switchreq[cmd.mac] = cmd.val
        refused = refusal(cmd, circle)
        if refused:
            log.warning("MQTT %s %s %s refused: %s", cmd.kind, cmd.mac, cmd.val or "", refused)
            self._send_state(circle)
            return
        command: E.Command
        if cmd.kind == "switch":
            command = E.Switch(cmd.mac, cmd.on)
        elif cmd.kind == "schedule":
            command = E.SetScheduleState(cmd.mac, cmd.on)
        else:
            command = E.ReadPower(cmd.mac)
        log.info("MQTT %s %s %s", cmd.kind, cmd.mac, cmd.val or "")
        self._commands[self.engine.submit(command)] = cmd.mac

    def _on_result(self, res: E.CommandResult) -> None:
        mac = self._commands.pop(res.command_id, None) or res.mac
        if mac is None or mac not in self._circles:
            return
        # answered by the next snapshot (which shows the command's effect) or after a wait
        self._replies[mac] = (time.monotonic() + REPLY_WAIT_S, res.data)

    def _due_replies(self) -> None:
        now = time.monotonic()
        for mac, (due, data) in list(self._replies.items()):
            if now >= due:  # no snapshot came after the command: answer with the latest
                circle = self.engine.snapshot().circle(mac) or self._circles.get(mac)
                if circle is not None and self._connected:
                    self._send_state(circle, data)
                else:
                    self._replies.pop(mac, None)
