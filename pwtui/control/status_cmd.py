"""`pwtui status`: the stick owner's state as JSON, asked over the control socket.

Exit 0 with the JSON on stdout; 1 when no logger answers (the message says
whether a status.json is left and how old it is, so a stale file is not taken
for a running logger); 2 for a bad --config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..config import ConfigError, find_config, load_config, parse_config
from ..errors import DeviceError, UsageError
from ..lock import holder
from ..status import STATUS_NAME
from .client import ControlError, OwnerGone, find_owner


def data_dir(args: argparse.Namespace) -> Path:
    """The data folder of --config, ./pwtui.toml or the user's config (else ./data)."""
    cfg_path = getattr(args, "config", None)
    path = Path(cfg_path) if cfg_path else find_config()
    try:
        cfg = load_config(path) if path else parse_config("", None)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return cfg.paths.data


def main(args: argparse.Namespace) -> int:
    data = data_dir(args)
    client = find_owner(data)
    if client is None:
        raise DeviceError(_no_owner(data))
    try:
        with client:
            status = client.call("status")["status"]
    except (OwnerGone, ControlError, TimeoutError, KeyError) as exc:
        raise DeviceError(f"the pwtui logger on {client.path} did not answer: {exc}") from None
    sys.stdout.write(json.dumps(status, indent=1) + "\n")
    return 0


def _no_owner(data: Path) -> str:
    pid = holder(data)
    if pid is not None:
        return (
            f"pid {pid} owns the stick for {data} but its control socket {data / 'pwtui.sock'} "
            "does not answer (see that logger's log)"
        )
    text = f"no pwtui logger runs for {data} (no answer on {data / 'pwtui.sock'})"
    stale = data / STATUS_NAME
    try:
        age = time.time() - stale.stat().st_mtime
        old = json.loads(stale.read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError, AttributeError):
        return text
    alive = "running" if isinstance(old, int) and _running(old) else "not running"
    return f"{text}; {stale} is stale: written by pid {old} ({alive}) {age:.0f} s ago"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
