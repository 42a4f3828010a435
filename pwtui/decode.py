"""`pwtui decode`: frames as people paste them → one JSON object each.

Accepts a raw frame (bytes, or Python-style escapes as logs print them), a
bare body with or without CRC, or a line of pwtui's communication log.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from typing import Any

from protocol import commlog, messages
from protocol.frames import FOOTER, HEADER, FrameDecoder, crc16

_HEXCHARS = set("0123456789ABCDEFabcdef")


def describe(body: str, crc_ok: bool | None, crc: str | None = None) -> dict[str, Any]:
    """The JSON object for one frame body (without CRC)."""
    out: dict[str, Any] = {"id": body[:4], "name": None, "seq": None, "mac": None, "crc_ok": crc_ok}
    try:
        msg = messages.decode(body)
    except messages.DecodeError as exc:
        out["error"] = str(exc)
        return out
    out["name"] = msg.NAME
    out["direction"] = (
        "response"
        if msg.RESPONSE or (isinstance(msg, messages.UnknownMessage) and msg.seq is not None)
        else "request"
    )
    out["seq"] = f"{msg.seq:04X}" if msg.seq is not None else None
    out["mac"] = getattr(msg, "mac", None)
    out["fields"] = messages.to_json(msg)
    if crc_ok is False:
        out["error"] = f"CRC mismatch: frame says {crc}, body gives {crc16(body)}"
    return out


def _from_bytes(data: bytes) -> list[dict[str, Any]]:
    dec = FrameDecoder(keep_bad=True)
    frames = dec.feed(data)
    if not frames and HEADER in data and not data.rstrip(b"\x83").endswith(FOOTER):
        frames = dec.feed(FOOTER)
    if not frames:
        return [{"error": "no complete frame found (expected 05 05 03 03, hex body, CRC, CR LF)"}]
    return [describe(fr.body, fr.crc_ok, fr.crc) for fr in frames]


def _from_hex(text: str) -> dict[str, Any]:
    text = text.upper()
    if len(text) >= 8 and crc16(text[:-4]) == text[-4:]:
        return describe(text[:-4], True, text[-4:])
    whole = describe(text, None)
    if "error" not in whole:
        return whole
    if len(text) >= 8:
        trimmed = describe(text[:-4], False, text[-4:])
        if "fields" in trimmed:
            return trimmed
    return whole


def decode_item(item: str) -> list[dict[str, Any]]:
    """Decode one command-line argument or input line."""
    text = item.strip()
    if not text:
        return []
    line = commlog.parse_line(text)
    if line is not None:
        return [_from_hex(line.body)]
    if set(text) <= _HEXCHARS:
        return [_from_hex(text)]
    if "\\" in text:
        try:
            data = codecs.decode(text, "unicode_escape").encode("latin-1")
        except (UnicodeDecodeError, UnicodeEncodeError) as exc:
            return [{"error": f"cannot unescape: {exc}"}]
        return _from_bytes(data)
    if any(ord(c) < 32 or ord(c) > 126 for c in text):
        return _from_bytes(text.encode("latin-1", "replace"))
    return [{"error": f"not a frame, body or log line: {text[:60]!r}"}]


#: Exit status when any input was not a good frame: bad input, not a device failure (DESIGN.md).
BAD_INPUT = 2


def run(items: Iterable[str], out: Any) -> int:
    """Write JSON lines, one per frame, going on past bad ones; 2 if any item failed."""
    failed = False
    for item in items:
        for obj in decode_item(item):
            if "error" in obj:
                failed = True
            out.write(json.dumps(obj) + "\n")
            out.flush()
    return BAD_INPUT if failed else 0


def stdin_items(stream: Any) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\r\n")
