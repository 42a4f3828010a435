"""Fuzzing the parsers of every file a user edits or imports (issue 15.9).

Random and mutated input (bytes, other encodings, BOMs, huge fields, truncation)
must give either a valid result or the module's own error naming the file, never
any other exception. Derandomized, so `make test` is repeatable and quick;
PWTUI_FUZZ_EXAMPLES=N runs N random examples per parser instead.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pwtui import legacy
from pwtui.config import ConfigError, load_config
from pwtui.controlfile import ControlFileError, read_control, update_row
from pwtui.errors import UsageError
from pwtui.schedulefile import ScheduleFileError, read_schedules, write_schedules

REPO = Path(__file__).resolve().parent.parent
# PWTUI_FUZZ_EXAMPLES=5000 runs a longer, random (not derandomized) campaign by hand.
_LONG = int(os.environ.get("PWTUI_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=_LONG or 200,
    deadline=None,
    derandomize=not _LONG,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TOML_SEED = (REPO / "pwtui.toml").read_bytes()
CONTROL_SEED = (
    b"# my circles\n"
    b"mac, name, savelog, monitor, switch_state, schedule_state, schedule, location, log_interval,\n"
    b"000D6F0001000001,     fridge,  \tyes, no, on, off, , kitchen, 5\n"
    b'000D6F0001000002, "tv, big", yes, yes, off, on, evening lights, , \n'
)
SCHEDULE_SEED = (REPO / "pwtui" / "examples" / "schedule.csv").read_bytes()
LEGACY_SEEDS = {
    "pw-hostconfig.json": json.dumps(
        {"serial": "/dev/ttyUSB0", "mqtt_ip": "127.0.0.1", "mqtt_port": "1883", "permanent_path": "/x"}
    ).encode(),
    "pw-conf.json": json.dumps(
        {
            "static": [
                {"mac": "000D6F0001000001", "name": "fridge", "loginterval": "60", "production": "False"},
                {"mac": "000D6F0001000002", "name": "solar", "loginterval": "2", "always_on": "True"},
            ]
        }
    ).encode(),
    "plugwise.cfg": b"mac, name, location, category, loginterval, production, always_on\n"
    b"000D6F0001000001, fridge, kitchen, cool, 60, False, True\n",
    "pw-control.json": json.dumps(
        {
            "log_comm": "yes",
            "dynamic": [
                {
                    "mac": "000D6F0001000001",
                    "switch_state": "on",
                    "schedule": "__PW2PY__winter",
                    "savelog": "yes",
                }
            ],
        }
    ).encode(),
    "plugwise_control.csv": CONTROL_SEED,
    "schedule.csv": SCHEDULE_SEED,
    "schedules/winter.json": json.dumps({"name": "winter", "schedule": [[-1] * 96] * 7}).encode(),
}


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` damaged the ways files get damaged: bytes inserted, cut, repeated,
    re-encoded, a BOM, a huge field, or plain random bytes."""
    data = seed
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(
            st.sampled_from(
                ["insert", "delete", "repeat", "replace", "encode", "bom", "huge", "truncate", "random"]
            )
        )
        n = len(data)
        at = draw(st.integers(0, n))
        if kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
        elif kind == "repeat":
            piece = data[at : at + draw(st.integers(1, 60))]
            data = data[:at] + piece * draw(st.integers(2, 5)) + data[at:]
        elif kind == "replace" and n:
            at = min(at, n - 1)
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
        elif kind == "encode":
            codec = draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-8-sig"]))
            data = data.decode("utf-8", "replace").replace("\ufffd", "é").encode(codec, "replace")
        elif kind == "bom":
            data = b"\xef\xbb\xbf" + data
        elif kind == "huge":
            data = data[:at] + b"x" * draw(st.sampled_from([131_073, 200_000])) + data[at:]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "random":
            data = draw(st.binary(max_size=300))
    return data


def _file(folder: str, name: str, data: bytes) -> Path:
    p = Path(folder) / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


@FUZZ
@given(mutated(TOML_SEED))
def test_toml_fuzz(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = _file(d, "pwtui.toml", data)
        try:
            cfg = load_config(p)
        except ConfigError as exc:
            assert exc.problems and all("pwtui.toml" in line for line in exc.problems), exc.problems
        else:
            assert cfg.stick.port.strip() and 1 <= cfg.logging.power_interval <= 3600


@FUZZ
@given(
    mutated(CONTROL_SEED), st.sampled_from([{"switch_state": False}, {"name": "x, y"}, {"log_interval": 7}])
)
def test_control_fuzz(data: bytes, change: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = _file(d, "plugwise_control.csv", data)
        try:
            rows = read_control(p)
        except ControlFileError as exc:
            assert str(p) in str(exc)
            with pytest.raises(ControlFileError):  # a file that does not parse is never rewritten
                update_row(p, "000D6F0001000003", **change)
            assert p.read_bytes() == data
            return
        macs = [r.mac for r in rows]
        row = update_row(p, "000D6F0001000001", **change)
        after = read_control(p)  # what was written reads back
        assert [r.mac for r in after] == macs + ([] if "000D6F0001000001" in macs else ["000D6F0001000001"])
        assert next(r for r in after if r.mac == row.mac) == row


@FUZZ
@given(mutated(SCHEDULE_SEED))
def test_schedule_fuzz(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = _file(d, "schedule.csv", data)
        try:
            scheds = read_schedules(p, seed=False)
        except ScheduleFileError as exc:
            assert str(p) in str(exc)
            with pytest.raises(ScheduleFileError):
                write_schedules(p, {})
            assert p.read_bytes() == data
            return
        write_schedules(p, scheds)
        assert read_schedules(p, seed=False) == scheds


@st.composite
def legacy_folder(draw: st.DrawFn) -> dict[str, bytes]:
    names = draw(st.sets(st.sampled_from(sorted(LEGACY_SEEDS)), min_size=1))
    return {n: draw(mutated(LEGACY_SEEDS[n])) for n in sorted(names)}


@FUZZ
@given(legacy_folder())
def test_import_legacy_fuzz(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "old", Path(d) / "new"
        for name, data in files.items():
            _file(str(src), name, data)
        args = argparse.Namespace(folder=str(src), out=str(out))
        try:
            assert legacy.main(args) == 0
        except UsageError as exc:
            assert str(exc)
            return
        cfg = load_config(out / "pwtui.toml")  # what was written is valid
        read_control(out / "plugwise_control.csv")
        read_schedules(out / "schedule.csv", seed=False)
        assert all(len(c.mac) == 16 for c in cfg.circles)
