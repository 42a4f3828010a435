"""The control socket's conversation, in one place.

Every message is one JSON object on one line (UTF-8).  A client sends
``{"op": OP, "id": ID, ...}``; the owner answers ``{"id": ID, "ok": true, ...}``
or ``{"id": ID, "ok": false, "error": "why"}``.  Pushed messages carry no id:
``{"event": EVENT}`` (events in `wire.py` form) and ``{"ping": true}`` (sent
after `HEARTBEAT_S` of silence, so a client can tell a hung owner from a quiet
one).

=========  =====================================  ===============================================
op         request fields                         reply fields
=========  =====================================  ===============================================
hello                                             pid, port, version
snapshot                                          snapshot
subscribe                                         pid, snapshot; then events are pushed
status                                            status (status.json keys + clients, version)
command    command (a `pwtui.events` command)     accepted, command_id; later the CommandResult
                                                  is pushed as an event, under the client's id
request    body (hex request body, no CRC),       body (hex reply body) — or ok false with
           priority (0 user, 1 normal, 2 bulk)    error, kind (NodeTimeout, NodeRefused, …),
                                                  mac, status
=========  =====================================  ===============================================
"""

from __future__ import annotations

SOCKET_NAME = "pwtui.sock"  # in the data folder, next to pwtui.lock
HEARTBEAT_S = 1.0  # the owner writes at least this often to every client
DEAD_AFTER_S = 4.0  # a client that hears nothing for this long takes the owner for gone
MAX_LINE = 1 << 20  # longest request line the owner accepts
SEND_QUEUE = 1000  # messages queued per client before a slow client is dropped
MAX_CLIENTS = 64  # connections served at once; more are told so and closed
MAX_IN_FLIGHT = 256  # raw requests one client may have waiting on the stick
