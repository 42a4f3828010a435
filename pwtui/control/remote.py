"""`RemoteStick`: `protocol.Stick`'s submit/call through the running logger.

A one-shot command (`pwtui info`, `history`, …) uses the stick the logger already
owns instead of opening the port a second time, so the Circle API works
unchanged on top of this.  Raw requests travel as hex bodies over the control
socket; errors come back as the same exception types (`NodeTimeout`,
`NodeRefused`, `LinkDown`) with the owner's message.  Commands with a policy
behind them (switching: always-on, the control file) go as engine commands.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from protocol import messages as M
from protocol.errors import LinkDown, NodeRefused, NodeTimeout, PlugwiseError
from protocol.stick import Priority, StickInfo

from .. import events as E
from .client import ControlClient, OwnerGone
from .wire import WireError, from_wire, to_wire

WINDOW = 32  # raw requests one one-shot keeps in flight on the owner's stick


class RemoteStick:
    """Stick-like access to the owner's stick; `open()` before use, `close()` after."""

    def __init__(self, client: ControlClient, *, timeout: float = 10.0, retries: int = 2) -> None:
        # timeout/retries only size how long Circle waits for an answer: the owner's own
        # stick times out and retries each request
        self.client = client
        self.timeout = timeout
        self.retries = retries
        self.port = str(client.hello.get("port", ""))
        self.owner_pid = client.hello.get("pid")
        self.info: StickInfo | None = None
        self.snapshot: E.Snapshot | None = None
        self._results: dict[int, Future[E.CommandResult]] = {}
        # a pipelined read (history: one request per block) waits here rather than
        # flooding the owner's stick queue
        self._window = threading.BoundedSemaphore(WINDOW)
        client.on_event = self._on_event
        client.on_close = self._on_close

    @property
    def link_up(self) -> bool:
        return self.client.alive and self.snapshot is not None and self.snapshot.link.up

    def open(self) -> StickInfo:
        """The stick as the owner knows it; LinkDown when the owner has no link."""
        try:
            snap = from_wire(self.client.call("snapshot")["snapshot"], E.Snapshot)
        except (OwnerGone, TimeoutError, WireError, KeyError) as exc:
            raise LinkDown(f"the pwtui logger (pid {self.owner_pid}) does not answer: {exc}") from None
        self.snapshot = snap
        link = snap.link
        if not link.up or not link.stick_mac:
            raise LinkDown(f"the pwtui logger (pid {self.owner_pid}) has no link to the stick {link.port}")
        self.info = StickInfo(link.stick_mac, link.circle_plus_mac, link.network_online)
        return self.info

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RemoteStick:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- Stick's request API ------------------------------------------------------------

    def submit(
        self, msg: M.Request, priority: Priority | int = Priority.NORMAL, timeout: float | None = None
    ) -> Future[Any]:
        out: Future[Any] = Future()
        known = self._known_calibration(msg)
        if known is not None:
            out.set_result(known)
            return out
        if not self._window.acquire(timeout=self.timeout * (self.retries + 1) + 5):
            out.set_exception(NodeTimeout(getattr(msg, "mac", None), f"{msg.NAME}, the logger is busy"))
            return out
        sent = self.client.send("request", body=M.encode(msg), priority=int(priority))

        def done(f: Future[dict[str, Any]]) -> None:
            self._window.release()
            exc = f.exception()
            if exc is not None:
                out.set_exception(LinkDown(f"the pwtui logger (pid {self.owner_pid}) went away: {exc}"))
                return
            reply = f.result()
            if reply.get("ok"):
                try:
                    out.set_result(M.decode(str(reply.get("body", ""))))
                except M.DecodeError as err:
                    out.set_exception(PlugwiseError(f"undecodable reply from the logger: {err}"))
            else:
                out.set_exception(_error(reply, msg))

        sent.add_done_callback(done)
        return out

    def call(
        self, msg: M.Request, priority: Priority | int = Priority.USER, timeout: float | None = None
    ) -> M.Message:
        fut = self.submit(msg, priority, timeout)
        t = (timeout if timeout is not None else self.timeout) * (self.retries + 1) + 5
        try:
            result: M.Message = fut.result(t)
        except TimeoutError:
            raise NodeTimeout(getattr(msg, "mac", None), msg.NAME) from None
        return result

    def _known_calibration(self, msg: M.Request) -> M.CalibrationResponse | None:
        """The owner already read this circle's calibration: no need to ask it again."""
        if not isinstance(msg, M.CalibrationRequest) or self.snapshot is None:
            return None
        circle = self.snapshot.circle(msg.mac)
        if circle is None or circle.calibration is None:
            return None
        a, b, tot, noise = circle.calibration
        return M.CalibrationResponse(mac=msg.mac, gain_a=a, gain_b=b, off_tot=tot, off_noise=noise)

    # --- engine commands ----------------------------------------------------------------

    def command(self, command: E.Command, timeout: float = 60.0) -> E.CommandResult:
        """Run an engine command on the owner and wait for its result."""
        return self.result(command, self.command_future(command), timeout)

    def command_future(self, command: E.Command) -> tuple[Future[dict[str, Any]], Future[E.CommandResult]]:
        """Send an engine command without waiting: (the owner's acceptance, the result).

        Many commands sent first and waited for after go through the owner together."""
        fut: Future[E.CommandResult] = Future()
        self._results[command.id] = fut
        return self.client.send("command", command=to_wire(command)), fut

    def result(
        self,
        command: E.Command,
        futures: tuple[Future[dict[str, Any]], Future[E.CommandResult]],
        timeout: float = 60.0,
    ) -> E.CommandResult:
        """Wait for a command sent with `command_future`."""
        accepted, fut = futures
        try:
            reply = accepted.result(timeout)
            if not reply.get("ok"):
                return E.CommandResult(
                    command.id, getattr(command, "mac", None), False, str(reply.get("error"))
                )
            return fut.result(timeout)
        except OwnerGone as exc:
            raise LinkDown(f"the pwtui logger (pid {self.owner_pid}) went away: {exc}") from None
        except TimeoutError:
            raise PlugwiseError(
                f"the pwtui logger (pid {self.owner_pid}) did not answer in {timeout:.0f} s"
            ) from None
        finally:
            self._results.pop(command.id, None)

    def _on_close(self) -> None:
        """The owner went away: commands waiting for their result will not get one."""
        for fut in list(self._results.values()):
            if not fut.done():
                fut.set_exception(OwnerGone("the connection to the pwtui logger was lost"))

    def _on_event(self, event: E.Event) -> None:
        if isinstance(event, E.CommandResult):
            fut = self._results.get(event.command_id)
            if fut is not None and not fut.done():
                fut.set_result(event)


def _error(reply: dict[str, Any], msg: M.Request) -> PlugwiseError:
    """The owner's error as the exception the Circle API and its callers expect."""
    text = str(reply.get("error") or "failed")
    kind = reply.get("kind")
    mac = reply.get("mac") if isinstance(reply.get("mac"), str) else getattr(msg, "mac", None)
    exc: PlugwiseError
    if kind == "NodeTimeout":
        exc = NodeTimeout(mac, msg.NAME)
    elif kind == "NodeRefused" and isinstance(reply.get("status"), int):
        exc = NodeRefused(mac, int(reply["status"]), msg.NAME)
    elif kind == "LinkDown":
        exc = LinkDown(text)
    else:
        exc = PlugwiseError(text)
    exc.args = (text,)  # the owner's own words
    return exc
