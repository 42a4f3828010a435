"""Status publishing: one Snapshot per cycle, one CycleUpdate, status.json replaced atomically.

While circles are heard from for the first time (after link-up a slot stays open
until every first contact is done) a CycleUpdate also goes out at most every
FIRSTS_EVERY_S, so their rows appear as they answer, not at the end of the slot.

status.json is replaced every cycle but fsynced at most once a minute (an SD
card would otherwise take ~8,640 syncs a day); after a clean stop it says
`"link": "down"` and `"running": false`.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from datetime import UTC, datetime

from .. import events as E
from ..status import STATUS_NAME, write_status
from . import today
from .state import Context

log = logging.getLogger("pwtui.engine")
FSYNC_EVERY_S = 60.0
FIRSTS_EVERY_S = 0.25


class Publisher:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.path = ctx.config.paths.data / STATUS_NAME
        self.snapshot = E.Snapshot(
            time=datetime.now(UTC),
            link=E.LinkStatus(port=ctx.config.stick.port),
            manual_switch=ctx.config.engine.manual_switch,  # type: ignore[arg-type]
            pid=os.getpid(),
        )
        self._last_fsync = 0.0
        self._soon = False
        self._published_at = 0.0

    def link_status(self, up: bool | None = None) -> E.LinkStatus:
        stick = self.ctx.stick
        port = self.ctx.config.stick.port
        if stick is None:
            return E.LinkStatus(port=port)
        info = stick.info
        last = stick.stats.last_frame
        return E.LinkStatus(
            port=port,
            up=stick.link_up if up is None else up,
            stick_mac=info.mac if info else None,
            circle_plus_mac=info.circle_plus_mac if info else None,
            network_online=bool(info and info.network_online),
            last_frame=datetime.fromtimestamp(last, tz=UTC) if last else None,
            errors=stick.stats.timeouts + stick.bad_frames,
        )

    def _today(self) -> None:
        """Energy since local midnight (today.py): None until the store holds today's records."""
        ctx = self.ctx
        store = ctx.recorder.store
        local = datetime.now(UTC).astimezone()
        midnight = int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
        for n in ctx.nodes.values():
            covered = (
                None
                if ctx.history.reading_today(n.mac)
                else today.covered_to(store.last_end_before(n.mac, 2**62), n.current_block_read_at)
            )
            n.today_wh, n.today_wh_production = today.today_wh(
                n.counter, midnight, covered, functools.partial(store.energy_between, n.mac)
            )

    def build(self) -> E.Snapshot:
        ctx = self.ctx
        history = ctx.history.progress
        circles = []
        for n in ctx.nodes.values():
            s = ctx.settings(n.mac)
            row = ctx.row(n.mac)
            cfg = n.cfg
            cal = n.calibration
            prog = history.get(n.mac)
            circles.append(
                E.CircleStatus(
                    mac=n.mac,
                    name=s.name,
                    location=s.location,
                    category=cfg.category if cfg else "",
                    configured=cfg is not None,
                    online=n.online,
                    relay=n.relay,
                    watts=n.watts if n.online else None,
                    watts_1s=n.watts_1s,
                    today_wh=n.today_wh,
                    today_wh_production=n.today_wh_production,
                    schedule=(row.schedule or None) if row else None,
                    schedule_state=row.schedule_state if row else False,
                    schedule_sync=n.schedule_sync,
                    schedule_since=n.schedule_from,
                    monitor=s.monitor,
                    savelog=s.savelog,
                    always_on=s.always_on,
                    production=s.production,
                    log_interval=s.log_interval,
                    last_seen=n.last_seen,
                    pending=n.pending,
                    node_type=n.info.node_type if n.info else None,
                    model=n.info.model if n.info else None,
                    hw_version=n.info.hw_version if n.info else None,
                    fw_version=n.info.fw_version if n.info else None,
                    log_address=n.info.log_block if n.info else None,
                    clock_drift_s=n.drift,
                    calibration=(cal.gain_a, cal.gain_b, cal.off_tot, cal.off_noise) if cal else None,
                    recent_watts=tuple(n.recent),
                    history_done=prog.done if prog else 0,
                    history_total=prog.total if prog else 0,
                    in_control=s.in_control,
                    rssi_in=n.rssi_in,
                    rssi_out=n.rssi_out,
                )
            )
        return E.Snapshot(
            time=datetime.now(UTC),
            link=self.link_status(),
            circles=tuple(circles),
            manual_switch=ctx.config.engine.manual_switch,  # type: ignore[arg-type]
            node_table=tuple(ctx.node_table),
            joining=tuple(sorted(ctx.joining)),
            history_eta_s=ctx.history.eta_s(),
            pid=os.getpid(),
            mqtt=ctx.mqtt_state(),
        )

    def publish_soon(self) -> None:
        """A circle answered for the first time: show it now, or (right after a publish)
        within FIRSTS_EVERY_S, coalesced with the others that answer meanwhile."""
        if self._soon:
            return
        wait = self._published_at + FIRSTS_EVERY_S - time.monotonic()
        if wait <= 0:
            self.publish()
            return
        self._soon = True

        def go() -> None:
            self._soon = False
            self.publish()

        self.ctx.owner.call_later(wait, go, "status.first_readings")

    def publish(self, cycle: bool = True) -> E.Snapshot:
        self._published_at = time.monotonic()
        self._today()
        snap = self.build()
        self.snapshot = snap
        self.write(snap, running=True)
        if cycle:
            self.ctx.emit(E.CycleUpdate(snap))
        return snap

    def write(self, snap: E.Snapshot, running: bool, fsync: bool | None = None) -> None:
        now = time.monotonic()
        if fsync is None:
            fsync = now - self._last_fsync >= FSYNC_EVERY_S
        try:
            write_status(self.path, snap, os.getpid(), running=running, fsync=fsync)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.path, exc)
            return
        if fsync:
            self._last_fsync = now

    def stopped(self) -> None:
        """After a clean stop: link down, not running, synced to disk."""
        snap = self.build()
        from dataclasses import replace

        snap = replace(snap, link=replace(snap.link, up=False))
        self.snapshot = snap
        self.write(snap, running=False, fsync=True)
