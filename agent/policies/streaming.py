"""Stream the `message` of a respond_to_user call while the call's JSON is still being written.

The model writes `<tool_call>\\n{"name": "respond_to_user", "arguments": {"message": "Hel…` token by
token; a UI wants "Hel…" as it grows. `MessageStreamer.feed(text_so_far)` returns the new decoded
characters of the `message` string value (JSON escapes handled, incomplete escapes held back) and
nothing at all when the call is not respond_to_user.
"""

from __future__ import annotations

import re

_NAME = re.compile(r'"name"\s*:\s*"([^"\\]*)"')
_MESSAGE_START = re.compile(r'"message"\s*:\s*"')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def decode_partial_json_string(body: str) -> tuple[str, bool]:
    """Decode the characters of a JSON string body (text after the opening quote) as far as they are
    complete. Returns (decoded, closed): closed is True once the closing quote was seen."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == '"':
            return "".join(out), True
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            break  # an escape cut in half: wait for the next token
        code = body[i + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
            continue
        if code != "u":
            out.append(code)  # invalid escape: keep the character rather than stall the stream
            i += 2
            continue
        hex4 = body[i + 2 : i + 6]
        if len(hex4) < 4:
            break
        try:
            unit = int(hex4, 16)
        except ValueError:
            out.append(hex4)
            i += 6
            continue
        if 0xD800 <= unit < 0xDC00:  # high surrogate: needs its low half
            low = body[i + 6 : i + 12]
            if len(low) < 6:
                break
            if low.startswith("\\u"):
                try:
                    low_unit = int(low[2:], 16)
                except ValueError:
                    low_unit = 0
                if 0xDC00 <= low_unit < 0xE000:
                    out.append(chr(0x10000 + ((unit - 0xD800) << 10) + (low_unit - 0xDC00)))
                    i += 12
                    continue
            out.append("\ufffd")
            i += 6
            continue
        out.append(chr(unit))
        i += 6
    return "".join(out), False


class MessageStreamer:
    """Feed it the whole generated text so far; it returns what is new in the message text."""

    def __init__(self, tool_name: str = "respond_to_user", key: str = "message"):
        self.tool_name = tool_name
        self._start = re.compile(_MESSAGE_START.pattern.replace("message", re.escape(key)))
        self.emitted = ""
        self.closed = False

    def feed(self, text: str) -> str:
        if self.closed:
            return ""
        text = text.rstrip("\ufffd")  # a multi-byte character cut between tokens
        name = _NAME.search(text)
        if name is None or name.group(1) != self.tool_name:
            return ""
        start = self._start.search(text, name.end())
        if start is None:
            return ""
        decoded, self.closed = decode_partial_json_string(text[start.end() :])
        if not decoded.startswith(self.emitted):  # cannot happen with append-only text; be safe
            return ""
        delta = decoded[len(self.emitted) :]
        self.emitted = decoded
        return delta
