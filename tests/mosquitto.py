"""A real mosquitto for the tests, on a free port, and a paho subscriber that records.

No mock broker: the bridge is tested against the broker people run.  `.ci/run` installs
mosquitto; where it is missing the MQTT tests are skipped and say why.
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

BINARY = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Mosquitto:
    """One broker process; `restart()` keeps the port and (persistence on) the sessions."""

    def __init__(self, folder: Path, port: int | None = None, extra: str = "") -> None:
        assert BINARY is not None
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"user {getpass.getuser()}\n"  # as root it would drop to "mosquitto" and lose tmp_path
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "log_dest stderr\n" + extra
        )
        self.log = folder / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen([BINARY, "-c", str(self.conf)], stdout=err, stderr=err)  # type: ignore[list-item]
        wait_until(self._accepting, 10, f"mosquitto on port {self.port}")
        return self

    def _accepting(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float  # time.monotonic() when received

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """A paho client that records every message; tests wait on what they expect to see.

    With `session` set it keeps a persistent session (QoS 1), so messages sent while it
    reconnects after a broker restart are delivered, not missed.
    """

    def __init__(self, port: int, topic: str = "#", session: str | None = None) -> None:
        self.messages: list[Received] = []
        self.cond = threading.Condition()
        self.topic = topic
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=session or "",
            clean_session=session is None,
        )
        self.subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.messages.append(
                Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, time.monotonic())
            )
            self.cond.notify_all()

    def on(self, topic: str) -> list[Received]:
        with self.cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, pred: Callable[[list[Received]], Any], timeout: float = 15.0, what: str = "") -> Any:
        """Wait until `pred(messages)` is truthy and return its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = pred(list(self.messages))
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    shown = "\n".join(f"{m.topic} {m.payload[:120]!r}" for m in self.messages[-15:])
                    raise AssertionError(f"timed out waiting for {what or pred}; last messages:\n{shown}")
                self.cond.wait(left)

    def wait_topic(
        self, topic: str, pred: Callable[[Received], bool] = lambda m: True, **kw: Any
    ) -> Received:
        def find(ms: list[Received]) -> Received | None:
            return next((m for m in ms if m.topic == topic and pred(m)), None)

        return self.wait_for(find, what=kw.pop("what", topic), **kw)  # type: ignore[no-any-return]

    def send(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1: (ca.crt, server.crt, server.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, crt = (
        folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for cmd in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=pwtui test CA"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
         "-extfile", ext],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, cmd)], check=True, capture_output=True)
    return ca, crt, key
