"""Run every benchmark in this folder, one after another (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    t0 = time.monotonic()
    for script in sorted(HERE.glob("*.py")):
        if script.name in {"run_all.py", "__init__.py"} or script.name.startswith("_"):
            continue
        print(f"== {script.name}", flush=True)
        t = time.monotonic()
        rc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        failed += rc != 0
        print(
            f"== {script.name}: {time.monotonic() - t:.0f} s{'' if rc == 0 else f', FAILED ({rc})'}",
            flush=True,
        )
    print(f"== all benchmarks in {(time.monotonic() - t0) / 60:.1f} min (target: under 10)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
