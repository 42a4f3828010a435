"""The socket file itself: bound with mode 0600 from the start, stale files replaced,
and reachable however deep the data folder is."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

_SUN_PATH_MAX = 107  # bytes an AF_UNIX address may hold on Linux (108 with the NUL)


class SocketInUse(OSError):
    """Another live process answers on the socket path (or the path is no socket)."""


@contextlib.contextmanager
def address(path: Path) -> Iterator[str]:
    """An AF_UNIX address for `path`.  A path longer than an address may be (a deep
    data folder) is reached through the folder's descriptor in /proc/self/fd."""
    text = str(path)
    if len(os.fsencode(text)) <= _SUN_PATH_MAX or not os.path.isdir("/proc/self/fd"):
        yield text
        return
    fd = os.open(path.parent, getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def clear_stale(path: Path) -> None:
    """A socket file left by a dead owner is removed; a live one, or a file that is
    not a socket, raises SocketInUse and is not touched."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketInUse(f"{path} exists and is not a socket; remove it or move it away")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        with address(path) as where:
            probe.connect(where)
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    except OSError:
        pass  # e.g. a timeout or a full backlog: something lives there
    else:
        raise SocketInUse(f"another pwtui process already serves {path}")
    finally:
        probe.close()
    raise SocketInUse(f"{path} does not answer and cannot be replaced")


def listen_private(path: Path, backlog: int) -> socket.socket:
    """A listening Unix socket at `path`, mode 0600.

    Bound under a private name, made 0600, moved into place, and only then
    listening: nobody can connect before the mode is right (and no process-wide
    umask is changed under other threads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        with address(tmp) as where:
            sock.bind(where)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        sock.listen(backlog)
    except OSError:
        sock.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return sock
