"""One engine per stick: a lock file in the data folder holding the owner's pid."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "pwtui.lock"


class LockHeld(Exception):
    def __init__(self, pid: int | None, path: Path) -> None:
        self.pid = pid
        super().__init__(f"another pwtui engine (pid {pid}) owns the stick; lock file {path}")


class Lock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = -1


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


def acquire(data_dir: Path) -> Lock:
    """Take the lock or raise LockHeld naming the owner's pid.  A lock left by a
    dead process is free again because flock dies with its owner."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise LockHeld(_read_pid(path), path) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.fsync(fd)
    return Lock(path, fd)


def holder(data_dir: Path) -> int | None:
    """The pid of a running engine that holds the lock, or None."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _read_pid(path)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
