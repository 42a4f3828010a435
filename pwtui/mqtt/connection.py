"""The paho-mqtt 2.x client of the bridge: connect, retry with backoff, last will, TLS.

paho runs its own network thread (`loop_start`); its callbacks only put items on the bridge's
queue, so nothing of the engine is touched from there.  The password goes to paho and nowhere
else: it is never logged, shown or kept in a repr.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import ssl
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from ..config import MqttConfig
from .payloads import Topics

log = logging.getLogger("pwtui.mqtt")

MIN_RETRY_S = 1
MAX_RETRY_S = 30
KEEPALIVE_S = 30

# what paho's thread tells the bridge's worker
Item = tuple[str, Any]


class _Client(mqtt.Client):
    """paho's client, telling why a connection attempt failed (paho's own `on_connect_fail`
    does not say: a refused port and an untrusted certificate look the same)."""

    inbox: queue.Queue[Item] | None = None

    def reconnect(self) -> MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as exc:
            if self.inbox is not None:
                self.inbox.put(("refused", str(exc) or type(exc).__name__))
            raise


def make_client(config: MqttConfig, topics: Topics, inbox: queue.Queue[Item]) -> mqtt.Client:
    """A configured, not yet connected client whose callbacks feed `inbox`."""
    client_id = config.client_id or f"pwtui-{socket.gethostname()}-{os.getpid()}"
    client = _Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    if config.username:
        client.username_pw_set(config.username, config.password or None)
    if config.tls:
        client.tls_set(
            ca_certs=str(config.ca_file) if config.ca_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT
        )
    client.inbox = inbox
    client.will_set(topics.status, "offline", qos=1, retain=True)
    client.reconnect_delay_set(min_delay=MIN_RETRY_S, max_delay=MAX_RETRY_S)

    def on_connect(c: mqtt.Client, _u: object, _flags: object, reason: ReasonCode, _props: object) -> None:
        if reason.is_failure:
            inbox.put(("refused", str(reason)))
            return
        # first the subscription and "online"; the worker sends the rest in order
        c.subscribe(topics.commands, qos=1)
        c.publish(topics.status, "online", qos=1, retain=True)
        inbox.put(("connected", None))

    def on_disconnect(
        _c: mqtt.Client, _u: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        inbox.put(("disconnected", str(reason)))

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers refuse such topics; should one pass, paho's thread lives on
            log.warning("MQTT: a message on a topic that is not UTF-8 ignored")
            return
        inbox.put(("message", (topic, bytes(msg.payload))))

    def on_publish(_c: mqtt.Client, _u: object, mid: int, _reason: ReasonCode, _props: object) -> None:
        inbox.put(("ack", mid))

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    client.on_publish = on_publish
    return client


def describe(config: MqttConfig) -> str:
    """Where the bridge connects, for log lines (never the password)."""
    who = f"{config.username}@" if config.username else ""
    tls = " (TLS)" if config.tls else ""
    return f"mqtt://{who}{config.host}:{config.port}{tls}"
