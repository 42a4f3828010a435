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
from .legacy_import_logs import import_logs
from .schedulefile import NamedSchedule, ScheduleFileError, format_schedules, parse_schedules
from .userfile import UserFileError, read_user_text

MAC = re.compile(r"^[0-9A-Fa-f]{16}$")
PW2PY_PREFIX = "__PW2PY__"
MQTT_KEYS = {"mqtt_ip": "host", "mqtt_port": "port", "mqtt_user": "username", "mqtt_password": "password"}


def _text(value: object) -> str:
    """A JSON value as text; lone surrogates (from `\\ud800` escapes) cannot be written
    as UTF-8 and become U+FFFD."""
    s = value if isinstance(value, str) else "" if value is None else str(value)
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in s)


def _toml_str(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, plus DEL, which JSON leaves raw."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _read(path: Path) -> str:
    """A legacy file's text (BOM allowed); not UTF-8 or unreadable: UsageError naming it."""
    try:
        return read_user_text(path).text
    except (UserFileError, OSError) as exc:
        raise UsageError(
            str(exc) if isinstance(exc, UserFileError) else f"{path}: cannot read: {exc}"
        ) from None


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{where}: must be a JSON object {{...}}, not {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise UsageError(f"{where}: must be a JSON list [...], not {type(value).__name__}")
    return value


class Importer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.notes: list[str] = []
        self.port = "/dev/ttyUSB0"
        self.circles: list[dict[str, Any]] = []
        self.control: list[ControlRow] = []
        self.schedules: dict[str, NamedSchedule] = {}
        self.host: dict[str, Any] = {}  # pw-hostconfig.json: where its logs were
        self.mqtt: dict[str, str | int] = {}

    def note(self, text: str) -> None:
        self.notes.append(text)

    def _json(self, name: str) -> Any:
        path = self.folder / name
        try:
            return json.loads(_read(path))
        except RecursionError:
            raise UsageError(f"{path}: nested too deeply") from None
        except ValueError as exc:
            raise UsageError(f"{path}: not valid JSON ({exc})") from None

    def read(self) -> None:
        f = self.folder
        if (f / "pw-hostconfig.json").exists():
            host = _object(self._json("pw-hostconfig.json"), f"{f / 'pw-hostconfig.json'}")
            self.host = host
            self.port = _text(host.get("serial")) or self.port
            self._mqtt(host)
            for key in sorted(set(host) - {"serial", *MQTT_KEYS}):
                if key not in ("permanent_path", "tmp_path", "log_path"):
                    self.note(f"pw-hostconfig.json: '{key}' is not used by pwtui")
        else:
            self.note("no pw-hostconfig.json: port set to /dev/ttyUSB0, change [stick] port if needed")
        if (f / "pw-conf.json").exists():
            where = str(f / "pw-conf.json")
            conf = _object(self._json("pw-conf.json"), where)
            for i, entry in enumerate(_list(conf.get("static", []), f"{where}: 'static'"), 1):
                self._circle(entry, f"pw-conf.json entry {i}")
        elif (f / "plugwise.cfg").exists():
            self._plugwise_cfg(f / "plugwise.cfg")
        else:
            self.note("no pw-conf.json or plugwise.cfg: no circles configured")
        if (f / "schedule.csv").exists():
            try:
                self.schedules.update(parse_schedules(_read(f / "schedule.csv"), str(f / "schedule.csv")))
            except ScheduleFileError as exc:
                self.note(f"{exc}; schedule.csv not carried over")
        for path in sorted((f / "schedules").glob("*.json")) if (f / "schedules").is_dir() else []:
            try:
                data = json.loads(_read(path))
                if not isinstance(data, dict):
                    raise TypeError("not a JSON object")
                week = WeekSchedule.from_days(data["schedule"])
                if any(not -1 <= v <= 32767 for v in week.slots):
                    raise ValueError("values must be -1 (on), 0 (off) or watts up to 32767")
            except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
                self.note(f"{path}: not a week schedule ({exc}); skipped")
                continue
            name = path.stem
            if data.get("name") and data["name"] != name:
                self.note(
                    f"{path}: schedule {data['name']!r} is imported as {name!r} (its file name, which "
                    f"pw-control.json refers to)"
                )
            self.schedules[name] = NamedSchedule(
                name, week, {"Type": "", "Parameters": _text(data.get("description", ""))}
            )
        if (f / "pw-control.json").exists():
            where = str(f / "pw-control.json")
            control = _object(self._json("pw-control.json"), where)
            if control.get("log_comm") == "yes":
                self.note("pw-control.json: log_comm → set [paths] comm_log in pwtui.toml to log frames")
            for i, d in enumerate(_list(control.get("dynamic", []), f"{where}: 'dynamic'"), 1):
                self._control(d, f"pw-control.json entry {i}")
        elif (f / "plugwise_control.csv").exists():
            try:
                self.control = parse_control(
                    _read(f / "plugwise_control.csv"), str(f / "plugwise_control.csv")
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

    def _plugwise_cfg(self, path: Path) -> None:
        """The early circle list: a CSV with a header (mac, name, location, …)."""
        try:
            rows = [
                [c.strip() for c in r]
                for r in csv.reader(io.StringIO(_read(path), newline=""))
                if any(c.strip() for c in r)
            ]
        except csv.Error as exc:
            raise UsageError(f"{path}: not CSV ({exc})") from None
        if rows:
            header = [h.lower() for h in rows[0]]
            for n, r in enumerate(rows[1:], 2):
                self._circle(dict(zip(header, r, strict=False)), f"plugwise.cfg line {n}")

    def _mqtt(self, host: dict[str, Any]) -> None:
        """Plugwise-2-py's broker settings (mqtt_ip …) become pwtui.toml's [mqtt]."""
        for key, ours in MQTT_KEYS.items():
            if key not in host:
                continue
            value = _text(host[key]).strip()
            if ours == "port":
                try:
                    port = int(value or 1883)
                except ValueError:
                    port = 0
                if not 1 <= port <= 65535:
                    self.note(f"pw-hostconfig.json: mqtt_port {value!r} is not a port (1…65535); 1883 used")
                    port = 1883
                self.mqtt["port"] = port
            else:
                self.mqtt[ours] = value

    def _circle(self, e: object, where: str) -> None:
        if not isinstance(e, dict):
            self.note(f"{where}: not an object; skipped")
            return
        mac = _text(e.get("mac", "")).strip()
        if not MAC.match(mac):
            self.note(f"{where}: mac {mac!r} is not 16 hex digits; skipped")
            return
        try:
            interval = int(_text(e.get("loginterval", "60")).strip() or 60)
        except (ValueError, OverflowError):
            self.note(f"{where}: loginterval {e.get('loginterval')!r} is not a number; 60 used")
            interval = 60
        if not 1 <= interval <= 60:
            self.note(f"{where}: loginterval {interval} outside 1…60; 60 used")
            interval = 60
        truthy = {"true", "yes", "1", "on"}
        self.circles.append(
            {
                "mac": mac.upper(),
                "name": _text(e.get("name", "")).strip(),
                "location": _text(e.get("location", "")).strip(),
                "category": _text(e.get("category", "")).strip(),
                "log_interval": interval,
                "production": _text(e.get("production", "")).strip().lower() in truthy,
                "always_on": _text(e.get("always_on", "")).strip().lower() in truthy,
            }
        )

    def _control(self, d: object, where: str) -> None:
        if not isinstance(d, dict):
            self.note(f"{where}: not an object; skipped")
            return
        mac = _text(d.get("mac", "")).strip().upper()
        if not MAC.match(mac):
            self.note(f"{where}: mac {mac!r} is not 16 hex digits; skipped")
            return
        if any(r.mac == mac for r in self.control):
            self.note(f"{where}: {mac} appears twice; the first entry is kept")
            return
        sched = _text(d.get("schedule", "")).strip()
        if sched.startswith(PW2PY_PREFIX):
            sched = sched[len(PW2PY_PREFIX) :]
        self.control.append(
            ControlRow(
                mac=mac,
                name=_text(d.get("name", "")).strip(),
                savelog=d.get("savelog") == "yes",
                monitor=d.get("monitor") == "yes",
                switch_state=d.get("switch_state") != "off",
                schedule_state=d.get("schedule_state") == "on",
                schedule=sched,
            )
        )

    def toml(self) -> str:
        s = _toml_str

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
        if self.mqtt:
            lines += ["[mqtt]   # from pw-hostconfig.json (mqtt_ip, mqtt_port, mqtt_user, mqtt_password)"]
            lines += [
                f"{key} = {value}" if isinstance(value, int) else f"{key} = {s(value)}"
                for key, value in self.mqtt.items()
            ]
            lines.append("")
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
    if (
        not any((folder / n).exists() for n in ("pw-conf.json", "plugwise.cfg"))
        and (folder / "config").is_dir()
    ):
        folder = folder / "config"  # the Plugwise-2-py folder itself was given
    logs = Path(args.logs) if getattr(args, "logs", None) else None
    if logs is not None and not logs.is_dir():
        raise UsageError(f"--logs {logs}: not a folder")
    out = Path(args.out)
    imp = Importer(folder)
    try:
        imp.read()
    except OSError as exc:
        raise UsageError(f"{folder}: cannot read: {exc}") from None
    files = {out / "pwtui.toml": imp.toml(), out / "plugwise_control.csv": format_control(imp.control)}
    if imp.schedules:
        files[out / "schedule.csv"] = format_schedules(imp.schedules)
    existing = [p for p in files if p.exists()]
    if existing and (out / "pwtui.toml") not in existing:
        raise UsageError(f"will not overwrite {', '.join(map(str, existing))}; choose another --out folder")
    if existing:
        # A second import: the configuration written the first time (maybe edited since) stays.
        print(f"kept {out / 'pwtui.toml'} and the files beside it (imported before)", file=sys.stderr)
    else:
        _write_config(out, files, imp)
    for n in imp.notes:
        print(f"not carried over: {n}", file=sys.stderr)
    production = {str(c["mac"]) for c in imp.circles if c["production"]}
    return import_logs(folder, out, imp.host, logs, production, bool(getattr(args, "json", False)))


def _write_config(out: Path, files: dict[Path, str], imp: Importer) -> None:
    try:  # what is written must read back: a check, not a hope
        parse_config(files[out / "pwtui.toml"], out / "pwtui.toml")
        parse_control(files[out / "plugwise_control.csv"], str(out / "plugwise_control.csv"))
        if imp.schedules:
            parse_schedules(files[out / "schedule.csv"], str(out / "schedule.csv"))
    except (ConfigError, ControlFileError, ScheduleFileError) as exc:
        raise UsageError(f"the imported configuration is not valid: {exc}") from None
    secret = bool(imp.mqtt.get("password"))
    for path, text in files.items():
        # a file holding the broker password is readable by its owner only
        try:
            write_atomic(path, text, mode=0o600 if secret and path.name == "pwtui.toml" else None)
        except OSError as exc:
            raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
        print(f"wrote {path}", file=sys.stderr)
    if secret:
        print(f"{out / 'pwtui.toml'} holds the MQTT password: made readable by you only", file=sys.stderr)
    print(
        f"imported {len(imp.circles)} circles, {len(imp.control)} control rows, {len(imp.schedules)} schedules",
        file=sys.stderr,
    )
