"""Per-token loss weights that make the model's decisions count: the function name and argument keys.

Most supervised tokens of a conversation are free text (respond_to_user messages, argument values):
in a rendered S1 conversation the function name is one or two tokens out of ~40 per assistant
turn. A plain token average therefore spends little of the loss on the choice every metric scores
first (the staged metric: same function, then same argument keys, then same values). With
`FinetuneConfig.decision_weight = w`, tokens that overlap a call's function name or one of its
argument keys weigh w in the loss; every other supervised token weighs 1.

The spans are found in the rendered text of each assistant output (`agent.render.TrainingTokens`) by
a small JSON scanner, not by searching for substrings: inside a JSON string every quote is escaped,
so a message that merely mentions `"city":` cannot be mistaken for a key.
"""

from __future__ import annotations

from agent.render import IGNORE_INDEX, TrainingTokens

ARGUMENT_FIELDS = ("arguments", "parameters")


def _string_end(text: str, i: int) -> int:
    """Index of the closing quote of the JSON string whose opening quote is at i (or len(text))."""
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == '"':
            return j
        j += 1
    return len(text)


def _object_spans(text: str, start: int) -> tuple[list[tuple[int, int]], int]:
    """Scan the JSON object opening at `start`: (name/key spans, index after the object)."""
    spans: list[tuple[int, int]] = []
    depth, i = 0, start
    outer_key: str | None = None  # the key at depth 1 whose value is being read
    while i < len(text):
        ch = text[i]
        if ch == '"':
            end = _string_end(text, i)
            if end == len(text):  # unterminated: not a complete name or key
                break
            k = end + 1
            while k < len(text) and text[k] in " \t\r\n":
                k += 1
            is_key = k < len(text) and text[k] == ":"
            if depth == 1 and is_key:
                outer_key = text[i + 1 : end]
            elif depth == 1 and outer_key == "name":
                spans.append((i + 1, end))  # the function name
            elif depth == 2 and is_key and outer_key in ARGUMENT_FIELDS:
                spans.append((i + 1, end))  # an argument key
            i = end + 1
            continue
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return spans, i + 1
        i += 1
    return spans, len(text)


def call_structure_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the function name and the argument keys of every tool call in `text`
    (an assistant output: `<tool_call>{json}</tool_call>`, or a bare JSON object)."""
    spans: list[tuple[int, int]] = []
    starts = []
    pos = text.find("<tool_call>")
    while pos != -1:
        starts.append(pos + len("<tool_call>"))
        pos = text.find("<tool_call>", pos + 1)
    if not starts:
        starts = [0]
    for begin in starts:
        brace = text.find("{", begin)
        if brace == -1:
            continue
        found, _ = _object_spans(text, brace)
        spans.extend(found)
    return spans


def decision_mask(tokens: TrainingTokens) -> list[bool]:
    """True for supervised tokens that overlap a function name or an argument key."""
    marked: list[tuple[int, int]] = []
    for s, e in tokens.spans:
        marked.extend((s + a, s + b) for a, b in call_structure_spans(tokens.text[s:e]))
    out = []
    for label, (start, end) in zip(tokens.labels, tokens.offsets, strict=True):
        out.append(label != IGNORE_INDEX and any(start < b and end > a for a, b in marked))
    return out


def loss_weights(tokens: TrainingTokens, decision_weight: float) -> list[float]:
    """Per-token loss weights: `decision_weight` on decision tokens, 1 elsewhere (masked tokens
    carry no loss whatever their weight)."""
    return [decision_weight if d else 1.0 for d in decision_mask(tokens)]
