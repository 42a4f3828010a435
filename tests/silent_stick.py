"""A TCP "stick" whose circles never answer: it acks every request (00C1) and then
stays silent — no reply, no 00E1 — the case that used to end in a
concurrent.futures.TimeoutError traceback.  Only the stick itself answers (000A)."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading

from protocol import messages as M
from protocol.frames import FrameDecoder, encode_frame

STICK = "000D6F0000990000"
CIRCLE_PLUS = "000D6F0001000000"


class SilentStick:
    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._seq = itertools.count(1)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        decoder = FrameDecoder()
        with contextlib.closing(conn):
            while not self._stop.is_set():
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                for frame in decoder.feed(data):
                    seq = next(self._seq)
                    out: list[M.Message] = [M.Ack(seq=seq, status=M.ACCEPTED)]
                    if frame.message_id == M.StickInitRequest.ID:
                        out.append(
                            M.StickInitResponse(
                                seq=seq,
                                mac=STICK,
                                network_online=True,
                                network_id="01" + CIRCLE_PLUS[2:],
                                short_network_id="1234",
                                trailer="FF",
                            )
                        )
                    for msg in out:
                        conn.sendall(encode_frame(M.encode(msg)))
