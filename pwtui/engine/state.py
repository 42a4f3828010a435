"""Engine state, owned by the owner thread: the nodes and the shared context of the services."""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from protocol.circle import Circle, CircleInfo
from protocol.stick import Stick
from protocol.units import Calibration

from .. import events as E
from ..config import CircleConfig, Config
from ..controlfile import ControlRow
from ..schedulefile import NamedSchedule
from .owner import Owner
from .today import HourCounter

if TYPE_CHECKING:
    from .clocks import Clocks
    from .discovery import Discovery
    from .files import Files
    from .history import History
    from .polling import Polling
    from .recorder import Recorder
    from .schedules import Schedules
    from .status import Publisher
    from .switching import Switching

log = logging.getLogger("pwtui.engine")
SPARK_POINTS = 60
RETRY_FIRST_S = 10.0  # an offline circle is asked again after 10 s, doubling …
RETRY_MAX_S = 300.0  # … up to 5 minutes
OFFLINE_AFTER = 2  # failed requests in a row before an answering circle counts as offline


@dataclass
class Node:
    mac: str
    cfg: CircleConfig | None
    circle: Circle
    online: bool = False
    initialised: bool = False  # static settings and its control row applied since it came online
    relay: bool | None = None
    watts: float | None = None
    watts_1s: float | None = None
    last_seen: datetime | None = None
    sample_slot: int = 0  # the slot (unix s) of its latest power reading
    info: CircleInfo | None = None
    calibration: Calibration | None = None
    info_at: float = 0.0  # time.time() of the last node info
    info_pending: bool = False
    drift: float | None = None
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    schedule_sync: str | None = None
    schedule_from: datetime | None = None  # when the uploaded schedule is in force
    pending: str | None = None
    today_wh: float | None = None  # None: not known yet (records since midnight still to read)
    today_wh_production: float | None = None
    counter: HourCounter = field(default_factory=HourCounter)
    current_block_read_at: float | None = None  # time.time() the block being written was last read
    failures: int = 0
    retry_at: float = 0.0  # monotonic time of the next probe while offline
    backoff: float = RETRY_FIRST_S
    probing: bool = False
    noted_offline: bool = False
    rssi_in: int | None = None
    rssi_out: int | None = None

    def schedule_retry(self, now: float) -> None:
        """Next probe of an offline circle: 10 s doubling to 5 min, ±20 % jitter."""
        self.retry_at = now + self.backoff * random.uniform(0.8, 1.2)
        self.backoff = min(self.backoff * 2, RETRY_MAX_S)


@dataclass(frozen=True)
class Settings:
    """A circle's settings in force: its control row over pwtui.toml."""

    in_control: bool
    name: str
    location: str
    monitor: bool
    savelog: bool
    always_on: bool
    production: bool
    log_interval: int


class Context:
    """What every service shares; touched only on the owner thread."""

    def __init__(
        self,
        config: Config,
        owner: Owner,
        emit: Callable[[E.Event], None],
        utc_offset: Callable[[], int],
    ) -> None:
        self.config = config
        self.owner = owner
        self.emit = emit
        self.utc_offset = utc_offset
        self.stick: Stick | None = None
        self.nodes: dict[str, Node] = {}
        self.control: dict[str, ControlRow] = {}
        self.schedules: dict[str, NamedSchedule] = {}
        self.node_table: list[tuple[int, str]] = []
        self.joining: set[str] = set()
        self.table_changes = 0  # joins and removals done: a node-table read from before is stale
        self.stopping = False
        # the MQTT bridge's connection, set by whoever starts the bridge (any thread may read it)
        self.mqtt_state: Callable[[], E.MqttState] = lambda: "off"
        # the services, set by the orchestrator
        self.recorder: Recorder
        self.switching: Switching
        self.schedule_svc: Schedules
        self.polling: Polling
        self.history: History
        self.clocks: Clocks
        self.discovery: Discovery
        self.files: Files
        self.publisher: Publisher

    @property
    def link_up(self) -> bool:
        return self.stick is not None and self.stick.link_up

    def note(self, level: str, kind: str, message: str, mac: str | None = None) -> None:
        """An EngineLog event for the listeners, and an event row for the store."""
        if self.stopping and level in ("warning", "error"):
            return  # failures caused by stopping are not news
        self.emit(E.EngineLog(datetime.now(UTC), level, kind, message, mac))  # type: ignore[arg-type]
        self.recorder.event(mac, kind, message)

    def row(self, mac: str) -> ControlRow | None:
        return self.control.get(mac)

    def settings(self, mac: str) -> Settings:
        cfg = self.config.circle(mac)
        row = self.control.get(mac)

        def pick(key: str, default: object) -> object:
            value = getattr(row, key, None) if row is not None else None
            if value is None or value == "":
                value = getattr(cfg, key, None) if cfg is not None else None
            return default if value is None else value

        return Settings(
            in_control=row is not None,
            name=str(pick("name", "")),
            location=str(pick("location", "")),
            monitor=row.monitor if row is not None else True,
            savelog=row.savelog if row is not None else True,
            always_on=bool(pick("always_on", False)),
            production=bool(pick("production", False)),
            log_interval=int(pick("log_interval", 60)),  # type: ignore[call-overload]
        )

    def name(self, node: Node | str) -> str:
        mac = node if isinstance(node, str) else node.mac
        return self.settings(mac).name or mac

    def online_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.online]

    def mark_offline(self, node: Node, exc: BaseException | None) -> None:
        """A circle that does not answer: noted once, then probed on a backoff.

        A circle that was answering goes offline only after two failures in a row: one
        request lost after all the driver's retries is bad luck, not an unplugged circle."""
        from protocol.errors import LinkDown

        if isinstance(exc, LinkDown) or not self.link_up:
            return
        node.failures += 1
        if node.online and node.failures < OFFLINE_AFTER:
            return
        if node.online or not node.noted_offline:
            self.note("warning", "offline", f"circle {self.name(node)} does not answer: {exc}", node.mac)
            node.backoff = RETRY_FIRST_S
            node.schedule_retry(time.monotonic())
        node.noted_offline = True
        node.online = False
        node.initialised = False  # re-initialised when it answers again
        node.watts = None
