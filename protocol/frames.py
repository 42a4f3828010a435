"""Plugwise framing: `05 05 03 03` + ASCII hex body + CRC-16/XMODEM + CRLF.

The decoder is a pure state machine (h11 style): feed it whatever bytes a read
returned and it hands back whole frames.  It never raises on bad input, since a
real stick interleaves frames with 0x83 bytes and `# APS…` debug text.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field

HEADER = b"\x05\x05\x03\x03"
FOOTER = b"\r\n"
#: Longest body we accept; the longest catalogued response (0049) is 96 chars.
MAX_BODY = 256
_HEX = frozenset(b"0123456789ABCDEF")


def crc16(body: str | bytes) -> str:
    """CRC-16/XMODEM of the body as 4 upper-case, zero-padded hex digits."""
    data = body.encode("ascii") if isinstance(body, str) else body
    return f"{binascii.crc_hqx(data, 0):04X}"


def encode_frame(body: str) -> bytes:
    """Wrap a message body (ID + fields, no CRC) into a complete frame."""
    return HEADER + body.encode("ascii") + crc16(body).encode("ascii") + FOOTER


@dataclass(frozen=True)
class RawFrame:
    """One frame cut from the stream: body without CRC, and whether the CRC matched."""

    body: str
    crc: str
    crc_ok: bool

    @property
    def message_id(self) -> str:
        return self.body[:4]


@dataclass
class DecoderStats:
    frames: int = 0
    bad_crc: int = 0
    malformed: int = 0
    junk_bytes: int = 0


@dataclass
class FrameDecoder:
    """Streaming frame decoder.

    `feed()` returns complete frames with a valid CRC; with `keep_bad=True`
    frames whose CRC fails are returned too (flagged), which `pwtui decode`
    uses to report them.  Memory stays bounded whatever arrives.
    """

    keep_bad: bool = False
    stats: DecoderStats = field(default_factory=DecoderStats)
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[RawFrame]:
        self._buf += data
        out: list[RawFrame] = []
        buf = self._buf
        while True:
            start = buf.find(HEADER)
            if start < 0:
                # Keep a possible partial header at the tail, drop the rest.
                keep = 0
                for n in (3, 2, 1):
                    if len(buf) >= n and buf[-n:] == HEADER[:n]:
                        keep = n
                        break
                self.stats.junk_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                self.stats.junk_bytes += start
                del buf[:start]
            body_start = len(HEADER)
            # A frame ends at CRLF; a new header before that means the
            # previous one was cut off.
            end = buf.find(FOOTER, body_start)
            next_header = buf.find(HEADER, body_start)
            if end < 0:
                if next_header >= 0:
                    self._malformed(buf, next_header)
                    continue
                if len(buf) - body_start > MAX_BODY + 4:
                    self._malformed(buf, len(buf))
                    continue
                break
            if 0 <= next_header < end:
                self._malformed(buf, next_header)
                continue
            raw = bytes(buf[body_start:end])
            del buf[: end + len(FOOTER)]
            frame = self._check(raw)
            if frame is None:
                continue
            if frame.crc_ok:
                self.stats.frames += 1
                out.append(frame)
            else:
                self.stats.bad_crc += 1
                if self.keep_bad:
                    out.append(frame)
        return out

    def _malformed(self, buf: bytearray, upto: int) -> None:
        self.stats.malformed += 1
        self.stats.junk_bytes += upto
        del buf[:upto]

    def _check(self, raw: bytes) -> RawFrame | None:
        if len(raw) < 8 or len(raw) > MAX_BODY + 4 or not _HEX.issuperset(raw):
            self.stats.malformed += 1
            return None
        body, crc = raw[:-4].decode("ascii"), raw[-4:].decode("ascii")
        return RawFrame(body=body, crc=crc, crc_ok=crc16(body) == crc)

    @property
    def buffered(self) -> int:
        return len(self._buf)
