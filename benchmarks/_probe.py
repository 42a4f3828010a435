"""The engine's state at this moment, for benchmarks that run the engine in process.

`Engine.snapshot()` is the snapshot published at the end of the last poll cycle, up to one
cycle old; a phase boundary measured from it would be late by up to a cycle.  These build the
same `Snapshot` on the engine's owner thread (the only thread that may read its state) when
asked.  They use the engine's internals (`owner`, `ctx.publisher`): one place to change.
"""

from __future__ import annotations

import sys
from concurrent.futures import Future
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pwtui import events as E
from pwtui.engine import Engine


def build_now(engine: Engine) -> E.Snapshot:
    """The snapshot of the engine's state now; call on the owner thread only."""
    return engine.ctx.publisher.build()


def live_snapshot(engine: Engine, timeout: float = 5.0) -> E.Snapshot:
    """The snapshot of the engine's state now, from any thread (the engine must be running)."""
    fut: Future[E.Snapshot] = Future()

    def build() -> None:
        try:
            fut.set_result(build_now(engine))
        except Exception as exc:  # handed to the caller
            fut.set_exception(exc)

    engine.owner.call_soon_threadsafe(build, "bench.snapshot")
    return fut.result(timeout)
