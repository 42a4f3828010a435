"""`make mutate`: mutation testing of the codec with mutmut, and the figures.

Mutates what `[tool.mutmut]` in pyproject.toml names (protocol/frames.py, fields.py,
messages.py, units.py, schedules.py) against the fast protocol tests, then prints how many
mutants were killed, how many survived, and how many of the survivors docs/MUTANTS.md lists as
equivalent (a mutant that behaves like the original, with the reason). Any survivor not listed
there is printed by name and fails the run (exit 1): kill it with a test or explain it.

mutmut works in a `mutants/` folder beside the code; to keep the repository clean this runs it
in a scratch copy (`.venv/mutate/`), with `shared/` linked where the tests look for it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".venv" / "mutate"
LEDGER = ROOT / "docs" / "MUTANTS.md"
COPY = ["protocol", "tests", "pyproject.toml"]
#: `mutmut results --all true` statuses
KILLED = {"killed", "timeout", "segfault", "suspicious"}
# A line of docs/MUTANTS.md that names an equivalent mutant: "- `name` — reason".
LEDGER_LINE = re.compile(r"^- `(?P<name>[\w.]+__mutmut_\d+)`\s*[—-]\s*(?P<reason>\S.*)$")


def shared_dir() -> Path:
    for candidate in (ROOT.parent / "shared", ROOT / "shared"):
        if (candidate / "vectors").is_dir():
            return candidate.resolve()
    raise SystemExit(f"shared/vectors not found beside {ROOT}: the vector tests need it")


def prepare() -> None:
    """A fresh copy of the code and tests to mutate, outside the repository."""
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "__snapshots__")
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, WORK / name, ignore=ignore)
        else:
            shutil.copy2(src, WORK / name)
    # the tests find shared/ beside the repository root, which inside mutmut's copy is WORK
    (WORK / "shared").symlink_to(shared_dir())


def mutmut(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mutmut")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [str(exe), *args], cwd=WORK, env=env, text=True, capture_output=capture, check=False
    )


def results() -> dict[str, str]:
    """Mutant name → status, from `mutmut results --all true`."""
    out = mutmut("results", "--all", "true", capture=True)
    if out.returncode != 0:
        raise SystemExit(f"mutmut results failed:\n{out.stdout}{out.stderr}")
    found: dict[str, str] = {}
    for line in out.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name.strip()] = status.strip()
    return found


def ledger() -> dict[str, str]:
    """Equivalent mutants listed in docs/MUTANTS.md, name → reason."""
    if not LEDGER.exists():
        return {}
    out = {}
    for line in LEDGER.read_text().splitlines():
        m = LEDGER_LINE.match(line.strip())
        if m:
            out[m["name"]] = m["reason"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--report-only", action="store_true", help="count the last run's results again")
    args = ap.parse_args(argv)
    if not args.report_only:
        prepare()
        run = mutmut("run", "--max-children", str(args.max_children))
        if run.returncode not in (0, 1):  # mutmut exits 1 when mutants survived
            print(f"mutmut run failed (exit {run.returncode})", file=sys.stderr)
            return 2
    status = results()
    if not status:
        print("no mutants found: did mutmut run?", file=sys.stderr)
        return 2
    equivalent = ledger()
    counts = Counter(status.values())
    killed = sum(n for s, n in counts.items() if s in KILLED)
    survivors = sorted(name for name, s in status.items() if s == "survived")
    explained = [n for n in survivors if n in equivalent]
    unexplained = [n for n in survivors if n not in equivalent]
    other = {s: n for s, n in counts.items() if s not in KILLED and s != "survived"}
    stale = sorted(set(equivalent) - set(survivors))
    print(f"mutants: {len(status)}")
    print(f"killed: {killed}")
    print(f"survived: {len(survivors)}")
    print(f"equivalent (survived, explained in docs/MUTANTS.md): {len(explained)}")
    print(f"survived, unexplained: {len(unexplained)}")
    for s, n in sorted(other.items()):
        print(f"{s}: {n}")
    for name in unexplained:
        print(f"  SURVIVED {name}   (see: {Path(sys.executable).with_name('mutmut')} show {name}, in {WORK})")
    for name in stale:
        print(f"  note: {name} is listed as equivalent but did not survive")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
