"""Atomic file writes: a reader sees the old file or the new one, never half of either.

`tempfile.mkstemp` creates its file mode 0600 whatever the umask says; the files
pwtui writes (status.json, the control and schedule files, exports) are meant to be
read by the user's other tools, so the new file gets the mode an ordinary `open()`
would give (0666 minus the umask) or, when it replaces a file, that file's mode.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

_umask_lock = threading.Lock()


def _umask() -> int:
    """The process umask: from /proc on Linux (no side effect), else by setting and
    restoring it (a lock keeps our own threads from seeing the stand-in value)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def write_atomic(
    path: str | os.PathLike[str],
    text: str,
    encoding: str = "utf-8",
    *,
    fsync: bool = True,
    mode: int | None = None,
) -> None:
    """Write `text` to `path` through a temporary file and a rename.

    `fsync=False` skips the flushes to the medium: for files rewritten every few
    seconds (status.json) whose loss in a power cut costs nothing, so an SD card is
    not worn by them. The rename is atomic either way. `mode` forces a mode (0600
    for a file holding a password); otherwise the umask or the old file's mode.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target) if mode is None else mode
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            fh.write(text)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (not every file system allows this; then skip)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
