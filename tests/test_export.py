"""`pwtui export`: CSV columns of DESIGN.md, filters, bad arguments."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC
from pathlib import Path

from pwtui.store import DB_NAME, Interval, Store

A, B = "000D6F0001000001", "000D6F0001000002"
T0 = 1_780_000_000 - 1_780_000_000 % 3600


def setup(tmp_path: Path) -> Path:
    cfg = tmp_path / "pwtui.toml"
    cfg.write_text(f'[stick]\nport = "sim://"\n[[circle]]\nmac = "{A}"\nname = "fridge"\n')
    st = Store(tmp_path / "data" / DB_NAME)
    with st.batch():
        st.add_intervals(
            [Interval(A, T0 + h * 3600, T0 + (h + 1) * 3600, 50.0 + h, False) for h in range(48)]
        )
        st.add_intervals([Interval(B, T0, T0 + 3600, 300.0, True)])
        st.add_power([(A, T0 + k * 10, 80.0) for k in range(100)])
    st.close()
    return cfg


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pwtui", "export", *args], capture_output=True, text=True, timeout=60
    )


def test_energy_csv(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    p = run("--config", str(cfg))
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert list(rows[0]) == ["mac", "name", "start", "end", "wh", "watts", "production"]
    assert len(rows) == 49
    first = next(r for r in rows if r["mac"] == A)
    assert first["name"] == "fridge" and first["start"].endswith("Z") and float(first["wh"]) == 50.0
    assert float(first["watts"]) == 50.0 and first["production"] == "false"
    assert any(r["production"] == "true" and r["mac"] == B for r in rows)


def test_filters_and_power(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    from datetime import datetime

    frm = datetime.fromtimestamp(T0 + 24 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    p = run("--config", str(cfg), "--mac", A, "--from", frm)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert len(rows) == 24 and all(r["mac"] == A for r in rows)
    p = run("--config", str(cfg), "--kind", "power")
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert list(rows[0]) == ["mac", "name", "time", "watts"] and len(rows) == 100


def test_bad_arguments(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    p = run("--config", str(cfg), "--from", "yesterday")
    assert p.returncode == 2 and "--from" in p.stderr and "Traceback" not in p.stderr
    p = run("--config", str(cfg), "--mac", "nope")
    assert p.returncode == 2 and "invalid MAC" in p.stderr
