"""The MQTT bridge: Plugwise-2-py's topics, Home Assistant discovery, and a backlog that
survives a broker that is away (issue 13).  Started by whoever owns the stick."""

from __future__ import annotations

from .bridge import MqttBridge

__all__ = ["MqttBridge"]
