"""Guided decoding: the model may only write one tool call that the tool schemas allow.

    checker = CallChecker(tool_schemas())
    checker.check('<tool_call>\\n{"name": "Find')          # "partial": a prefix of some valid call
    checker.check('<tool_call>\\n{"name": "Fly')            # "bad"
    guide = TokenGuide(tokenizer, checker, stop_ids)
    token = guided_argmax(guide, generated_text, logits)     # the best-ranked token that keeps it valid

The grammar is the call format resto renders and parses (`agent.parse`, the benchmark's parser):
`<tool_call>` {"name": one of the tools, "arguments": {key: value, …}} `</tool_call>`, starting at
the first character, with JSON whitespace (up to 16 characters a run) wherever JSON allows it.
Argument keys come from the chosen tool's schema, each at most once, the required ones before the
object closes (grounded decoding adds `filters`: keys written exactly when the conversation grounds
them); enum values are one of the enum; other values are JSON strings (escapes included) of
at most `maxLength` characters, 512 where the schema gives none, so a model that repeats itself
inside a string still closes the call before its token budget runs out. Every prefix the checker
accepts can still be completed, so a guided decoder never paints itself into a corner (a "," is
refused when no key is left to add).

Why: a small model sometimes loses the JSON (an unescaped quote inside a message, a key the tool
does not have) and the benchmark's parser then sees no call at all; guided, the same model's most
likely *valid* continuation is taken instead. It is a decoding option (`--guided` on `resto eval
run` and `resto chat`, `HFPolicy(guided=True)`), off by default: the benchmark's published scores are free decoding.

`TokenGuide` works on decoded text, so it fits any tokenizer: for each step it tries the model's
candidates best first and keeps those whose text keeps the call valid; stop tokens are allowed only
once the call is complete.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

Verdict = Literal["bad", "partial", "complete"]
WHITESPACE = " \t\n\r"
ESCAPES = '"\\/bfnrt'
HEX = "0123456789abcdefABCDEF"
MAX_STRING = 512  # characters of a string value without a schema maxLength: a looping model must close it
MAX_WHITESPACE = 16  # per run between JSON tokens: room for pretty-printing, none for endless blanks


class _End(Exception):
    """The text ended where the grammar still goes on: a valid prefix."""


class _Bad(Exception):
    """The text left the grammar."""


class _Reader:
    def __init__(self, text: str):
        self.text, self.i = text, 0

    def peek(self) -> str:
        if self.i >= len(self.text):
            raise _End
        return self.text[self.i]

    def take(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def ws(self) -> None:
        start = self.i
        while self.i < len(self.text) and self.text[self.i] in WHITESPACE:
            self.i += 1
            if self.i - start > MAX_WHITESPACE:  # a model looping on blanks must move on
                raise _Bad

    def literal(self, word: str) -> None:
        for ch in word:
            if self.take() != ch:
                raise _Bad

    def choice(self, options: Iterable[str]) -> str:
        """A JSON string whose raw text (escapes as written) equals one of `options`."""
        options = list(options)
        self.literal('"')
        content = ""
        while True:
            if self.i >= len(self.text):
                if any(o.startswith(content) for o in options):
                    raise _End
                raise _Bad
            ch = self.take()
            if ch == '"':
                if content in options:
                    return content
                raise _Bad
            content += ch
            if not any(o.startswith(content) for o in options):
                raise _Bad
            if ch == "\\":  # an escape: the next character is part of the string, even a quote
                content += self.take()
                if not any(o.startswith(content) for o in options):
                    raise _Bad

    def string(self, limit: int) -> None:
        """Any JSON string of at most `limit` characters (an escape counts as its characters)."""
        self.literal('"')
        start = self.i
        while True:
            ch = self.take()
            if ch == '"':
                return
            if self.i - start > limit:
                raise _Bad
            if ch == "\\":
                esc = self.take()
                if esc == "u":
                    for _ in range(4):
                        if self.take() not in HEX:
                            raise _Bad
                elif esc not in ESCAPES:
                    raise _Bad
            elif ord(ch) < 0x20:
                raise _Bad


class CallChecker:
    """Is a text a prefix of (or exactly) one tool call the schemas allow?"""

    def __init__(
        self,
        tools: Sequence[dict[str, Any]],
        max_string: int = MAX_STRING,
        values: Mapping[str, Sequence[str]] | None = None,
        filters: Iterable[str] = (),
    ):
        self.max_string = max_string
        # argument key -> the only strings its value may be (agent.grounding); keys absent or with no
        # candidate stay free strings
        self.values = {key: [json.dumps(v)[1:-1] for v in vs] for key, vs in (values or {}).items() if vs}
        # `filters`: optional keys written exactly when `values` grounds them (agent.filters)
        filters = set(filters)
        self.tools: dict[str, tuple[dict[str, dict], set[str]]] = {}
        for tool in tools:
            fn = tool.get("function", tool)
            params = fn.get("parameters") or {}
            props = {
                key: prop for key, prop in (params.get("properties") or {}).items()
                if key not in filters or key in self.values
            }
            required = (set(params.get("required") or []) | (filters & set(self.values))) & set(props)
            self.tools[fn["name"]] = (props, required)
        if not self.tools:
            raise ValueError("guided decoding needs at least one tool schema")

    def check(self, text: str) -> Verdict:
        r = _Reader(text)
        try:
            r.literal("<tool_call>")  # first: the prompt ends where the call begins
            r.ws()
            r.literal("{")
            r.ws()
            r.literal('"name"')
            r.ws()
            r.literal(":")
            r.ws()
            name = r.choice(self.tools)
            r.ws()
            r.literal(",")
            r.ws()
            r.choice(("arguments", "parameters"))
            r.ws()
            r.literal(":")
            r.ws()
            self._arguments(r, *self.tools[name])
            r.ws()
            r.literal("}")
            r.ws()
            r.literal("</tool_call>")
        except _End:
            return "partial"
        except _Bad:
            return "bad"
        return "complete" if r.i == len(text) else "bad"

    def _arguments(self, r: _Reader, props: dict[str, dict], required: set[str]) -> None:
        r.literal("{")
        r.ws()
        used: set[str] = set()
        if r.peek() == "}":
            if required:
                raise _Bad
            r.take()
            return
        while True:
            key = r.choice(sorted(set(props) - used))
            used.add(key)
            r.ws()
            r.literal(":")
            r.ws()
            prop = props[key]
            if prop.get("enum"):
                options = [str(v) for v in prop["enum"]]
                grounded = [v for v in options if v in self.values.get(key, ())]
                r.choice(grounded or options)  # grounded enum values when the conversation gives some
            elif key in self.values:
                r.choice(self.values[key])
            else:
                r.string(int(prop.get("maxLength", self.max_string)))
            r.ws()
            ch = r.take()
            if ch == "," and set(props) - used:
                r.ws()
                continue
            if ch == "}" and required <= used:
                return
            raise _Bad


class TokenGuide:
    """Token-level filter over CallChecker for one tokenizer."""

    def __init__(self, tokenizer: Any, checker: CallChecker, stop_ids: Iterable[int] = ()):
        self.tokenizer, self.checker = tokenizer, checker
        self.stop_ids = set(stop_ids)
        self._pieces: dict[int, str] = {}

    def with_checker(self, checker: CallChecker) -> TokenGuide:
        """The same tokenizer and stop tokens under another checker (sharing the decoded pieces)."""
        guide = TokenGuide(self.tokenizer, checker, self.stop_ids)
        guide._pieces = self._pieces
        return guide

    def piece(self, token: int) -> str:
        if token not in self._pieces:
            self._pieces[token] = self.tokenizer.decode([token])
        return self._pieces[token]

    def ok(self, text: str, token: int) -> bool:
        """May `token` follow the generated `text`? A stop token only ends a complete call; the
        `</tool_call>` token is judged by its text like any other."""
        piece = self.piece(token)
        if token in self.stop_ids and piece.strip() != "</tool_call>":
            return self.checker.check(text) == "complete"
        return self.checker.check(text + piece) != "bad"

    def first_allowed(self, text: str, ranked: Iterable[int]) -> int | None:
        """The best-ranked allowed token (what greedy decoding takes), or None if none is."""
        for token in ranked:
            if self.ok(text, int(token)):
                return int(token)
        return None


def guided_argmax(guide: TokenGuide, text: str, logits: Any, top: int = 64) -> int:
    """Greedy pick under the guide: the top `top` candidates first, the whole vocabulary if none of
    them is allowed; the plain argmax when nothing at all is (the text is already off the grammar)."""
    import torch

    k = min(top, logits.shape[-1])
    token = guide.first_allowed(text, torch.topk(logits, k).indices.tolist())
    if token is None and k < logits.shape[-1]:
        token = guide.first_allowed(text, torch.argsort(logits, descending=True)[k:].tolist())
    return int(torch.argmax(logits).item()) if token is None else token


def guided_logits_processor(guide: TokenGuide | Sequence[TokenGuide], prompt_width: int):
    """A transformers LogitsProcessor for greedy `generate` on a left-padded batch: each row keeps
    only its guided argmax (rows are decoded from position `prompt_width` on). One guide for every
    row, or one per row (grounded decoding: each conversation allows its own values)."""
    import torch
    from transformers import LogitsProcessor

    guides = guide if isinstance(guide, Sequence) else None

    class Guided(LogitsProcessor):
        def __call__(self, input_ids, scores):
            out = torch.full_like(scores, float("-inf"))
            for row in range(input_ids.shape[0]):
                row_guide = guides[row] if guides is not None else guide
                generated = input_ids[row, prompt_width:].tolist()
                if row_guide.stop_ids.intersection(generated):  # a finished row: generate pads it anyway
                    out[row] = scores[row]
                    continue
                token = guided_argmax(row_guide, row_guide.tokenizer.decode(generated), scores[row])
                out[row, token] = 0.0
            return out

    return Guided()
