"""`pwtui web`: the console in a browser, served by textual-serve, with one stick owner.

Every browser session is its own `pwtui` console process (textual-serve's model), and each
of them is a client of ONE stick owner over the control socket: the headless logger that
already runs, or one that `pwtui web` starts and stops with itself. Closing tabs therefore
never stops logging, and a switch from any tab reaches every tab through the owner.

Nobody on the network switches plugs without a secret: off localhost a token is required
(`[web] token` or `PWTUI_WEB_TOKEN`); it is checked on the page and on the websocket, set as
an HttpOnly cookie after the first `/?token=…`, and never logged (the access log is off).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import ipaddress
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.server import Server

from .config import Config
from .errors import UsageError
from .headless import resolve_config
from .lock import holder

COOKIE = "pwtui_token"
TOKEN_ENV = "PWTUI_WEB_TOKEN"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_local(host: str) -> bool:
    """Loopback only: 127.0.0.0/8, ::1 or localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebServer(Server):
    """textual-serve's server with a token check, no access log and a clean stop."""

    def __init__(
        self, command: str, host: str, port: int, token: str, on_stopped: Callable[[], None]
    ) -> None:
        super().__init__(command, host=host, port=port, title="pwtui")
        self._token = token
        self._on_stopped = on_stopped
        self._sessions: set[asyncio.Task[Any]] = set()

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._check_token)
        app.on_cleanup.append(self._cleanup)
        return app

    @web.middleware
    async def _check_token(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if not self._token or request.path.startswith("/static"):
            return await handler(request)
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            raise web.HTTPForbidden(text="pwtui web: this server needs its token (open /?token=…)\n")
        response = await handler(request)
        if "token" in request.query:
            response.set_cookie(COOKIE, self._token, httponly=True, samesite="Strict")
        return response

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # URLs follow the address the browser used (0.0.0.0, a tunnel or a reverse proxy).
        scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
        self.public_url = f"{scheme}://{request.host}"
        response: web.StreamResponse = await super().handle_index(request)
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            if task is not None:
                self._sessions.discard(task)

    async def on_startup(self, app: web.Application) -> None:
        pass

    def _listening(self, *_: object) -> None:
        """Called by aiohttp once the socket listens; the token itself is never printed."""
        shown = f"http://{self.host}:{self.port}/" + ("?token=…" if self._token else "")
        print(f"pwtui web on {shown} (Ctrl+C or SIGTERM stops it)", file=sys.stderr, flush=True)

    async def on_shutdown(self, app: web.Application) -> None:
        # Each session's handler, cancelled, closes its websocket and tells its console to quit.
        sessions = list(self._sessions)
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)

    async def _cleanup(self, app: web.Application) -> None:
        self._on_stopped()

    def serve(self, debug: bool = False) -> None:
        self.debug = debug
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            access_log=None,
            shutdown_timeout=5.0,
            print=self._listening,
        )


class Owner:
    """The stick owner the sessions attach to: a running logger, or one started here."""

    def __init__(self, config: Config, config_path: Path | None) -> None:
        self.config = config
        self.config_path = config_path
        self.process: subprocess.Popen[bytes] | None = None

    def ensure(self, timeout: float = 30.0) -> int:
        pid = holder(self.config.paths.data)
        if pid is not None:
            print(f"pwtui web: sessions attach to the running logger (pid {pid})", file=sys.stderr)
            return pid
        # the port in force, named: the logger never falls back to a simulator by itself
        cmd = [
            sys.executable,
            "-m",
            "pwtui",
            "--headless",
            *self._config_args(),
            "--port",
            self.config.stick.port,
        ]
        if self.config.stick.port.startswith("sim://"):
            print(f"pwtui web: the logger runs the simulator {self.config.stick.port}", file=sys.stderr)
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UsageError(f"the logger did not start (exit {self.process.returncode}); see above")
            pid = holder(self.config.paths.data)
            if pid == self.process.pid:
                print(f"pwtui web: started the logger (pid {pid})", file=sys.stderr)
                return pid
            time.sleep(0.05)
        self.stop()
        raise UsageError("the logger did not take the stick within 30 s")

    def _config_args(self) -> list[str]:
        return ["--config", str(self.config_path)] if self.config_path else []

    def session_command(self) -> str:
        # textual-serve runs its command through a shell: every part is quoted.
        return shlex.join([sys.executable, "-m", "pwtui", *self._config_args()])

    def stop(self) -> None:
        """Stop the logger if this process started it; a logger found running stays."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(args: argparse.Namespace) -> int:
    cfg = resolve_config(args)
    host = args.web_host or cfg.web.host
    port = args.web_port or cfg.web.port
    token = os.environ.get(TOKEN_ENV, "") or cfg.web.token
    if not is_local(host) and not token:
        raise UsageError(
            f"binding to {host} lets anyone on the network switch your plugs: set [web] token in "
            f"pwtui.toml or {TOKEN_ENV}, or keep the default 127.0.0.1 and use an SSH tunnel "
            "(ssh -L 8000:127.0.0.1:8000 pi) or a reverse proxy"
        )
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port}: must be 1…65535")
    owner = Owner(cfg, cfg.path)
    owner.ensure()
    server = WebServer(owner.session_command(), host, port, token, on_stopped=owner.stop)
    try:
        server.serve()
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        owner.stop()
    return 0
