from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
VECTORS = SHARED / "vectors" / "frames.json"
BUNDLED_VECTORS = Path(__file__).resolve().parent / "data" / "frames.json"


def load_vectors() -> list[dict]:
    """The shared vectors; a copy is kept in tests/data for clones without shared/."""
    path = VECTORS if VECTORS.exists() else BUNDLED_VECTORS
    return json.loads(path.read_text())


def frame_bytes(text: str) -> bytes:
    return codecs.decode(text, "unicode_escape").encode("latin-1")


@pytest.fixture(scope="session")
def vectors() -> list[dict]:
    return load_vectors()


# The simulator answers with the real capture's timing unless told otherwise
# (protocol/virtual/timing.py).  Under the test suite a sim:// URL without `latency=`
# gets a fast, scaled-down version of it instead, so tests stay quick; a test that
# wants the capture's timing asks for it with `latency=80` or removes this variable.
# Set here, at import, so subprocesses (`pwtui simulate`, headless runs) inherit it.
os.environ.setdefault("PWTUI_SIM_LATENCY", "20")
