"""The benchmarks' own instruments count what they claim to (benchmarks/engine.py's line counter)."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

from protocol import virtual
from protocol.circle import Circle
from protocol.stick import Stick

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))  # the benchmarks import _limits by its bare name
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_line_counts_bytes_and_log_blocks_asked() -> None:
    engine = load("engine")
    url = "sim://?circles=1&seed=4&latency=0&history=1"
    virtual.forget(url)
    virtual.register()
    net = virtual.network_for(url)
    line = engine.Line(net)
    stick = Stick(url, timeout=5.0, window=4)
    stick.open()
    try:
        before = line.bytes
        asked = dict(net.requests_by_id)
        c1 = virtual.circle_mac(1)
        circle = Circle(stick, c1)
        for block in (0, 0, 1):
            circle.log_block_future(block).result(5)
    finally:
        stick.close()
        virtual.forget(url)
    assert line.blocks_asked == Counter({(c1, 0): 2, (c1, 1): 1})
    assert net.requests_by_id["0048"] - asked.get("0048", 0) == 3
    # request 38 + ack 22 + reply 106 bytes a block (the sizes _limits.py measures)
    assert line.bytes - before == 3 * (38 + 22 + 106)
