"""The `pwtui` command line (DESIGN.md fixes its shape).

Exit codes: 0 success, 1 device/communication failure, 2 bad usage or input.
Handlers live in the modules named for what they do; this file only parses
arguments and maps failures to exit codes, so that no traceback ever reaches
the user (PWTUI_DEBUG=1 shows one for an unexpected failure).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import DeviceError, UsageError

EXIT_OK = 0
EXIT_DEVICE = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _common(p: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    p.add_argument("--config", metavar="FILE", default=default, help="pwtui.toml to use")
    p.add_argument(
        "--port",
        metavar="PORT",
        default=default,
        help="serial port, socket://host:port, rfc2217://… or sim://…",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pwtui", description="Console and logger for Plugwise Circle smart plugs.")
    p.add_argument("--version", action="version", version=f"pwtui {__version__}")
    _common(p, suppress=False)
    p.add_argument("--headless", action="store_true", help="run the logger and file control without a UI")
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="headless log verbosity",
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("simulate", help="run the virtual Plugwise network")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="open a pseudo-terminal (default)")
    where.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP; prints socket://HOST:PORT")
    s.add_argument("--circles", type=int, default=8, help="number of circles besides the Circle+ (0-63)")
    s.add_argument("--latency", type=float, default=None, help="typical node reply latency in ms")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--history", type=float, default=0, help="days of log-buffer history to pre-fill")
    s.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    s.add_argument("--state", metavar="FILE", help="keep the network across runs in this file")
    s.add_argument("--faults", default="", help="comma-separated faults, e.g. drop=0.05,corrupt=0.01,chatter")

    d = sub.add_parser("decode", help="decode frames or communication-log lines to JSON lines")
    d.add_argument("items", nargs="*", metavar="FRAME", help="frames, bodies or log lines; - reads stdin")

    for name, helptext in (("scan", "stick, Circle+ and node table"),):
        sp = sub.add_parser(name, help=helptext)
        _common(sp, suppress=True)

    sp = sub.add_parser("info", help="node information of a circle")
    _common(sp, suppress=True)
    sp.add_argument("mac")

    sp = sub.add_parser("power", help="live power of circles")
    _common(sp, suppress=True)
    sp.add_argument("macs", nargs="*", metavar="MAC")

    sp = sub.add_parser("switch", help="switch a circle's relay")
    _common(sp, suppress=True)
    sp.add_argument("mac")
    sp.add_argument("state", choices=["on", "off"])

    sp = sub.add_parser("clock", help="read (and optionally set) a circle's clock")
    _common(sp, suppress=True)
    sp.add_argument("mac")
    sp.add_argument("--sync", action="store_true", help="set the circle's clock to the host's UTC time")

    sp = sub.add_parser("history", help="read a circle's log buffer")
    _common(sp, suppress=True)
    sp.add_argument("mac")
    sp.add_argument("--from", dest="first", metavar="ADDR", help="first block (0-6015)")
    sp.add_argument("--to", dest="last", metavar="ADDR", help="last block (0-6015)")

    sp = sub.add_parser("status", help="the stick owner's state as JSON (via its control socket)")
    _common(sp, suppress=True)

    sp = sub.add_parser("export", help="stored data as CSV on stdout")
    _common(sp, suppress=True)
    sp.add_argument("--kind", choices=["energy", "power"], default="energy")
    sp.add_argument("--mac", action="append", dest="macs", metavar="MAC")
    sp.add_argument("--from", dest="start", metavar="DATE")
    sp.add_argument("--to", dest="end", metavar="DATE")

    sp = sub.add_parser("web", help="the console in a browser (textual-serve)")
    sp.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="pwtui.toml to use")
    sp.add_argument(
        "--host", dest="web_host", metavar="HOST", help="address to listen on (default 127.0.0.1)"
    )
    sp.add_argument("--port", dest="web_port", type=int, metavar="PORT", help="HTTP port (default 8000)")
    sp = sub.add_parser("import-legacy", help="convert a Plugwise-2-py config folder")
    _common(sp, suppress=True)
    sp.add_argument("folder", metavar="DIR")
    sp.add_argument("--out", metavar="DIR", default=".", help="where to write pwtui.toml and the CSV files")
    sp.add_argument(
        "--logs", metavar="DIR", help="Plugwise-2-py's datalog folder (found by itself if not given)"
    )
    sp.add_argument("--json", action="store_true", help="progress and summary as JSON lines on stdout")
    return p


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "decode":
        from . import decode

        items = args.items or ["-"]
        if items == ["-"]:
            return decode.run(decode.stdin_items(sys.stdin), sys.stdout)
        return decode.run(items, sys.stdout)
    if cmd == "simulate":
        from . import simulate

        return simulate.main(args)
    if cmd in ("scan", "info", "power", "switch", "clock", "history"):
        from . import oneshot

        return oneshot.main(args)
    if cmd == "status":
        from .control import status_cmd

        return status_cmd.main(args)
    if cmd == "export":
        from . import export

        return export.main(args)
    if cmd == "web":
        from . import web

        return web.main(args)
    if cmd == "import-legacy":
        from . import legacy

        return legacy.main(args)
    if args.headless:
        from . import headless

        return headless.main(args)
    from screens import app  # the console is the only part that needs Textual

    return app.main(args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _dispatch(args)
    except UsageError as exc:
        print(f"pwtui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DeviceError as exc:
        print(f"pwtui: {exc}", file=sys.stderr)
        return EXIT_DEVICE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the last line of defence: a message and an exit code, no traceback
        if os.environ.get("PWTUI_DEBUG"):
            raise
        code, text = _unexpected(exc)
        print(f"pwtui: {text}", file=sys.stderr)
        return code


def _unexpected(exc: Exception) -> tuple[int, str]:
    """Exit code and message for a failure no handler turned into Usage/DeviceError."""
    from protocol.errors import PlugwiseError

    from .config import ConfigError
    from .controlfile import ControlFileError
    from .schedulefile import ScheduleFileError
    from .store import StoreError

    if isinstance(exc, ConfigError | ControlFileError | ScheduleFileError | StoreError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, PlugwiseError):
        return EXIT_DEVICE, str(exc)
    if isinstance(exc, TimeoutError):
        return EXIT_DEVICE, f"no answer in time{f' ({exc})' if str(exc) else ''}"
    if isinstance(exc, OSError):
        return EXIT_DEVICE, str(exc)
    where = "set PWTUI_DEBUG=1 to see where, and please report it"
    return EXIT_DEVICE, f"internal error: {type(exc).__name__}: {exc} ({where})"


if __name__ == "__main__":
    sys.exit(main())
