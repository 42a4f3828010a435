"""Console benchmark: start to the first live row with 64 simulated circles, and bytes per refresh.

The first number comes from the app itself (headless, realistic simulator
latency); the output per refresh is measured on a real terminal: `pwtui` in
tmux with its output piped to a file.  Target: first row in under 1 s.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _limits import CAPTURE, measure_exchange  # noqa: E402

from protocol import messages as M  # noqa: E402
from protocol import virtual  # noqa: E402
from protocol.virtual.network import BYTES_PER_SECOND  # noqa: E402
from protocol.virtual.timing import CAPTURE_ACK_MEDIAN_MS  # noqa: E402
from pwtui.config import load_config  # noqa: E402


def config(tmp: Path, url: str) -> Path:
    """A configured house of 64 circles, as a user's pwtui.toml lists them."""
    cfg = tmp / "pwtui.toml"
    circles = "".join(
        f'[[circle]]\nmac = "{m}"\nname = "plug {i:02d}"\n'
        for i, m in enumerate([virtual.CIRCLE_PLUS_MAC, *(virtual.circle_mac(k) for k in range(1, 64))])
    )
    cfg.write_text(f'[stick]\nport = "{url}"\n[logging]\npower_interval = 2\n{circles}')
    return cfg


async def first_row(cfg: Path) -> float:
    from screens.app import PwtuiApp
    from screens.dashboard import DashboardScreen

    t0 = time.perf_counter()
    app = PwtuiApp(load_config(cfg))
    async with app.run_test(size=(120, 40)) as pilot:
        while True:
            scr = app.screen
            snap = app.snapshot
            if (
                isinstance(scr, DashboardScreen)
                and scr.table.row_count > 0
                and snap is not None
                and any(c.watts is not None and c.online for c in snap.circles)
            ):
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > 60:
                return float("nan")
            await pilot.pause(0.01)


def bytes_per_refresh(tmp: Path, cfg: Path) -> tuple[float, int] | None:
    if shutil.which("tmux") is None:
        return None
    env = dict(os.environ, TMUX_TMPDIR=str(tmp), TERM="xterm-256color")
    tm = ["tmux", "-L", "pwtui-bench"]
    out = tmp / "out.bin"
    subprocess.run(
        [
            *tm,
            "new-session",
            "-d",
            "-s",
            "b",
            "-x",
            "120",
            "-y",
            "40",
            f"{sys.executable} -m pwtui --config {cfg}",
        ],
        env=env,
        check=True,
    )
    time.sleep(8)  # start-up and the first frame
    subprocess.run([*tm, "pipe-pane", "-o", "-t", "b", f"cat > {out}"], env=env, check=True)
    time.sleep(20)  # ten cycles of 2 s
    subprocess.run([*tm, "pipe-pane", "-t", "b"], env=env)
    subprocess.run([*tm, "send-keys", "-t", "b", "C-q"], env=env)
    time.sleep(1)
    subprocess.run([*tm, "kill-server"], env=env, capture_output=True)
    size = out.stat().st_size if out.exists() else 0
    return size / 10, size


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sim://?circles=63&seed=5&{CAPTURE}"
        virtual.forget(url)
        t = asyncio.run(first_row(config(Path(tmp), url)))
        print(f"first live row, 64 circles:   {t * 1000:7.0f} ms   ({t:.2f}× the 1 s target)")
        # no reading before three exchanges: stick init, a calibration, a power request
        c1 = virtual.circle_mac(1)
        first = [
            measure_exchange(M.StickInitRequest()),
            measure_exchange(M.CalibrationRequest(mac=c1)),
            measure_exchange(M.PowerRequest(mac=c1)),
        ]
        wire = sum(e.total for e in first) / BYTES_PER_SECOND
        ack = len(first) * CAPTURE_ACK_MEDIAN_MS / 1000
        print(
            f"  limits of a first reading (init, calibration, power): wire {wire * 1000:.0f} ms "
            f"({t / wire:.1f}×), ack rate {ack * 1000:.0f} ms ({t / ack:.1f}×)"
        )
        bench_dir = Path(tmp) / "term"
        bench_dir.mkdir()
        res = bytes_per_refresh(bench_dir, config(bench_dir, f"sim://?circles=63&seed=6&{CAPTURE}"))
        if res is None:
            print("terminal output per refresh: tmux not installed, not measured")
        else:
            per, total = res
            print(
                f"terminal output per refresh:  {per / 1024:7.1f} KB   ({total} bytes over 10 cycles, 256 colours)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
