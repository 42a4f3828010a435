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


def rows_of(out: str) -> list[dict[str, str]]:
    """The CSV under the `#` note that states the time convention."""
    first, rest = out.split("\n", 1)
    assert first.startswith("# ") and "UTC" in first
    return list(csv.DictReader(io.StringIO(rest)))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pwtui", "export", *args], capture_output=True, text=True, timeout=60
    )


def test_energy_csv(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    p = run("--config", str(cfg))
    assert p.returncode == 0, p.stderr
    rows = rows_of(p.stdout)
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
    rows = rows_of(p.stdout)
    assert len(rows) == 24 and all(r["mac"] == A for r in rows)
    p = run("--config", str(cfg), "--kind", "power")
    rows = rows_of(p.stdout)
    assert list(rows[0]) == ["mac", "name", "time", "watts"] and len(rows) == 100


def test_bad_arguments(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    p = run("--config", str(cfg), "--from", "yesterday")
    assert p.returncode == 2 and "--from" in p.stderr and "Traceback" not in p.stderr
    p = run("--config", str(cfg), "--mac", "nope")
    assert p.returncode == 2 and "invalid MAC" in p.stderr


def test_console_and_cli_write_the_same_file(tmp_path: Path) -> None:
    """The log browser's export is byte for byte what `pwtui export` writes for the range."""
    from datetime import datetime

    from screens.log_browser import export_text
    from screens.log_periods import Period

    cfg = setup(tmp_path)
    start, end = datetime.fromtimestamp(T0, UTC), datetime.fromtimestamp(T0 + 86400, UTC)
    p = run("--config", str(cfg), "--mac", A, "--from", start.isoformat(), "--to", end.isoformat())
    text, n = export_text(tmp_path / "data" / DB_NAME, Period("day", start, end), [A], {A: "fridge"})
    assert n == 24 and text == p.stdout


def test_formula_names_stay_text(tmp_path: Path) -> None:
    cfg = tmp_path / "pwtui.toml"
    cfg.write_text(f'[stick]\nport = "sim://"\n[[circle]]\nmac = "{A}"\nname = "=HYPERLINK(1)"\n')
    st = Store(tmp_path / "data" / DB_NAME)
    with st.batch():
        st.add_intervals([Interval(A, T0, T0 + 3600, 5.0, False)])
    st.close()
    rows = rows_of(run("--config", str(cfg)).stdout)
    assert rows[0]["name"] == "'=HYPERLINK(1)"
