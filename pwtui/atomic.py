"""Atomic file writes for pwtui: the one implementation lives in `protocol/atomic.py`,
where the simulator's state file (which may not import pwtui) uses it too."""

from protocol.atomic import write_atomic

__all__ = ["write_atomic"]
