"""`pwtui import-legacy DIR`: carry a Plugwise-2-py set-up over to pwtui.

Reads the early files (pw-hostconfig.json, plugwise.cfg, plugwise_control.csv,
schedule.csv) and the later ones (pw-conf.json, pw-control.json,
schedules/*.json), writes pwtui.toml, plugwise_control.csv and schedule.csv
(atomically, never over an existing file), and says on stderr what could not
be carried over.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

from protocol.schedules import WeekSchedule

from .atomic import write_atomic
from .config import ConfigError, parse_config
from .controlfile import ControlFileError, ControlRow, format_control, parse_control
from .errors import UsageError
from .schedulefile import NamedSchedule, ScheduleFileError, format_schedules, parse_schedules

MAC = re.compile(r"^[0-9A-Fa-f]{16}$")
PW2PY_PREFIX = "__PW2PY__"


class Importer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.notes: list[str] = []
        self.port = "/dev/ttyUSB0"
        self.circles: list[dict[str, Any]] = []
        self.control: list[ControlRow] = []
        self.schedules: dict[str, NamedSchedule] = {}

    def note(self, text: str) -> None:
        self.notes.append(text)

    def _json(self, name: str) -> Any:
        path = self.folder / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UsageError(f"{path}: not valid JSON ({exc})") from None

    def read(self) -> None:
        f = self.folder
        if (f / "pw-hostconfig.json").exists():
            host = self._json("pw-hostconfig.json")
            self.port = str(host.get("serial") or self.port)
            for key in sorted(set(host) - {"serial"}):
                self.note(f"pw-hostconfig.json: '{key}' is not used by pwtui (data lives in [paths] data)")
        else:
            self.note("no pw-hostconfig.json: port set to /dev/ttyUSB0, change [stick] port if needed")
        if (f / "pw-conf.json").exists():
            for i, entry in enumerate(self._json("pw-conf.json").get("static", []), 1):
                self._circle(entry, f"pw-conf.json entry {i}")
        elif (f / "plugwise.cfg").exists():
            text = (f / "plugwise.cfg").read_text(encoding="utf-8")
            rows = [
                [c.strip() for c in r] for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)
            ]
            if rows:
                header = [h.lower() for h in rows[0]]
                for n, r in enumerate(rows[1:], 2):
                    self._circle(dict(zip(header, r, strict=False)), f"plugwise.cfg line {n}")
        else:
            self.note("no pw-conf.json or plugwise.cfg: no circles configured")
        if (f / "schedule.csv").exists():
            try:
                self.schedules.update(
                    parse_schedules((f / "schedule.csv").read_text(encoding="utf-8"), str(f / "schedule.csv"))
                )
            except ScheduleFileError as exc:
                self.note(f"{exc}; schedule.csv not carried over")
        for path in sorted((f / "schedules").glob("*.json")) if (f / "schedules").is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                week = WeekSchedule.from_days(data["schedule"])
            except (ValueError, KeyError, TypeError) as exc:
                self.note(f"{path}: not a week schedule ({exc}); skipped")
                continue
            name = path.stem
            if data.get("name") and data["name"] != name:
                self.note(
                    f"{path}: schedule {data['name']!r} is imported as {name!r} (its file name, which "
                    f"pw-control.json refers to)"
                )
            self.schedules[name] = NamedSchedule(
                name, week, {"Type": "", "Parameters": data.get("description", "")}
            )
        if (f / "pw-control.json").exists():
            data = self._json("pw-control.json")
            if data.get("log_comm") == "yes":
                self.note("pw-control.json: log_comm → set [paths] comm_log in pwtui.toml to log frames")
            for i, d in enumerate(data.get("dynamic", []), 1):
                self._control(d, f"pw-control.json entry {i}")
        elif (f / "plugwise_control.csv").exists():
            try:
                self.control = parse_control(
                    (f / "plugwise_control.csv").read_text(encoding="utf-8"), str(f / "plugwise_control.csv")
                )
            except ControlFileError as exc:
                self.note(f"{exc}; control file not carried over")
        for row in self.control:
            if row.schedule and row.schedule not in self.schedules:
                self.note(f"control: {row.mac} refers to unknown schedule {row.schedule!r}; cleared")
        self.control = [
            r
            if not r.schedule or r.schedule in self.schedules
            else ControlRow(r.mac, r.name, r.savelog, r.monitor, r.switch_state, False, "")
            for r in self.control
        ]

    def _circle(self, e: dict[str, Any], where: str) -> None:
        mac = str(e.get("mac", "")).strip()
        if not MAC.match(mac):
            self.note(f"{where}: mac {mac!r} is not 16 hex digits; skipped")
            return
        try:
            interval = int(str(e.get("loginterval", "60")).strip() or 60)
        except ValueError:
            self.note(f"{where}: loginterval {e.get('loginterval')!r} is not a number; 60 used")
            interval = 60
        if not 1 <= interval <= 60:
            self.note(f"{where}: loginterval {interval} outside 1…60; 60 used")
            interval = 60
        truthy = {"true", "yes", "1", "on"}
        self.circles.append(
            {
                "mac": mac.upper(),
                "name": str(e.get("name", "")).strip(),
                "location": str(e.get("location", "")).strip(),
                "category": str(e.get("category", "")).strip(),
                "log_interval": interval,
                "production": str(e.get("production", "")).strip().lower() in truthy,
                "always_on": str(e.get("always_on", "")).strip().lower() in truthy,
            }
        )

    def _control(self, d: dict[str, Any], where: str) -> None:
        mac = str(d.get("mac", "")).upper()
        if not MAC.match(mac):
            self.note(f"{where}: mac {mac!r} is not 16 hex digits; skipped")
            return
        sched = str(d.get("schedule", ""))
        if sched.startswith(PW2PY_PREFIX):
            sched = sched[len(PW2PY_PREFIX) :]
        self.control.append(
            ControlRow(
                mac=mac,
                name=str(d.get("name", "")),
                savelog=d.get("savelog") == "yes",
                monitor=d.get("monitor") == "yes",
                switch_state=d.get("switch_state") != "off",
                schedule_state=d.get("schedule_state") == "on",
                schedule=sched,
            )
        )

    def toml(self) -> str:
        def s(v: str) -> str:
            return json.dumps(v, ensure_ascii=False)

        lines = [
            "# Imported from a Plugwise-2-py folder by pwtui import-legacy.",
            "",
            "[stick]",
            f"port = {s(self.port)}",
            "",
            "[paths]",
            'data = "data"',
            'control = "plugwise_control.csv"',
            'schedules = "schedule.csv"',
            "",
            "[logging]",
            "power_interval = 10",
            "legacy_files = true   # keep writing Plugwise-2-py style logs for existing scripts",
            "",
            "[engine]",
            'manual_switch = "disable_schedule"   # as Plugwise-2-py did',
            "",
        ]
        for c in self.circles:
            lines += [
                "[[circle]]",
                f"mac = {s(c['mac'])}",
                f"name = {s(c['name'])}",
                f"location = {s(c['location'])}",
                f"category = {s(c['category'])}",
                f"log_interval = {c['log_interval']}",
                f"production = {str(c['production']).lower()}",
                f"always_on = {str(c['always_on']).lower()}",
                "",
            ]
        return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    out = Path(args.out)
    imp = Importer(folder)
    imp.read()
    files = {out / "pwtui.toml": imp.toml(), out / "plugwise_control.csv": format_control(imp.control)}
    if imp.schedules:
        files[out / "schedule.csv"] = format_schedules(imp.schedules)
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise UsageError(f"will not overwrite {', '.join(existing)}; choose another --out folder")
    try:
        parse_config(files[out / "pwtui.toml"], out / "pwtui.toml")
    except ConfigError as exc:
        raise UsageError(f"the imported configuration is not valid: {exc}") from None
    for path, text in files.items():
        write_atomic(path, text)
        print(f"wrote {path}", file=sys.stderr)
    print(
        f"imported {len(imp.circles)} circles, {len(imp.control)} control rows, {len(imp.schedules)} schedules",
        file=sys.stderr,
    )
    for n in imp.notes:
        print(f"not carried over: {n}", file=sys.stderr)
    return 0
