"""The search filters a user asks for in words: a price range, live music, alcohol.

    said = spoken_filters("Something affordable, and it should serve alcohol.")
    # {"price_range": "moderate", "serves_alcohol": "True"}
    spoken_filters("I don't have a price preference.")    # {"price_range": None}: any price
    spoken_filters("Do they have live music?")            # {}: a question about a restaurant

FindRestaurants has three optional filters besides its city and cuisine. SGD's reference searches
carry one exactly when the user has asked for it, in words like the ones below ("somewhere fancy"
→ expensive, "economical" → moderate, "I love live music", "a place that serves booze"), and SGD's
annotators map "affordable" and "reasonably priced" to moderate, not inexpensive. Grounded decoding
(agent.grounding) uses these to decide which filters a search carries: a filter the user never asked
for hides restaurants they would have wanted (decoded free, the `--sgd-segments` demo model adds a
`price_range` to 5 of its 22 searches of the benchmark's test rows), and one the user asked for and the
search lacks shows them places they ruled out.

Per message: `None` means the user lifted the filter ("any price is fine"); a key left out means
the message says nothing about it. A question about a restaurant already found ("do they serve
liquor?") asks about that place and sets no filter. The phrases were chosen on the user turns of
SGD's train split and are measured there by `bench/filter_coverage.py` (precision and recall against
SGD's own annotations, and the key sets of the benchmark's test searches).
"""

from __future__ import annotations

import re

FILTER_KEYS = ("price_range", "has_live_music", "serves_alcohol")

# Checked in this order, the first match wins: a lifted filter and the negated forms ("not too
# expensive" is moderate to SGD's annotators) before the words they contain.
_PRICE = [
    (value, re.compile(pattern))
    for value, pattern in [
        (None, r"\b(no|any|don'?t have a|without( the)?|not have a) price|\bprice (is not|isn't|doesn't|does not)|"
               r"preference (on|for|about) (the )?(price|cost)|(regardless|irrespective) of (the )?price|"
               r"(doesn't|does not|don't|do not) (matter|care)( about)?( the)? (how much|price|cost)|no object|"
               r"(do not|don't|doesn't|does not) mind (the )?(price|cost)|no idea (on|about) (the )?price|"
               r"(not|n't) care (too much |much )?about (the )?(price|cost)|money is (not|no)\b|"
               r"not pretentious about|(isn't|is not|there's no) (a )?price"),
        ("moderate", r"not (very |too |that |so |overly |super |too much |extremely )?(costly|expensive|pricey|pricy)|"
                     r"moderate|affordabl|afforadabl|reasonabl|economical|intermediate|(?<!above )average pric|"
                     r"mid[- ]?(range|pric)|medium pric|normal pric|decent pric|fair pric|modest"),
        ("very expensive", r"very (expensive|pricey|costly|high)|ultra|high[- ]end|luxur|extravagan|lavish"),
        ("inexpensive", r"inexpensive|cheap|low[- ]?(cost|pric|budget|end)|budget|bargain|thrift|"
                        r"less expensive|lower pric|not costly|frugal"),
        ("expensive", r"expensive|pricey|pricy|costly|(?<!i )fancy|above average|pay more|upscale|high[- ]?pric|"
                      r"splurge|posh|classy|high class|top notch|swanky"),
    ]
]
_FLAGS = {
    "has_live_music": re.compile(r"live music|live band|band playing|live performance|live entertainment|musician"),
    "serves_alcohol": re.compile(r"alcohol|liquor|booze|\bdrinks\b|\ba drink\b|\bbeer\b|\bwine\b|cocktail"),
}
# a question about the place already found, not a wish for the next search: these forms always, and
# any other question that does not ask for a search (`_SEARCH`)
_ASKS = re.compile(
    r"\b(do|does|did|will|would|is|are|was)\s+(they|it|the|their|its|this|that|these|those|\w+'s)\b|"
    r"\b(if|whether|weather) (they|the|their|its|this|that)\b|"
    r"\bhow('s| is| are)? (expensive|pricey|pricy|costly|much|the pric|the cost)|\b(their|its) (price|pricing|menu|cost)|"
    r"\bwould you say\b|\bwill i be able\b|\bfind out\b|\btell me if\b|\bcheck (with|if|whether)\b|"
    r"^(is|will) there (be )?(any )?(live|liquor|alcohol)|\bthe budget like\b|"
    r"\b(at|of|for) (this|that) (place|restaurant)\b|\bat the (place|restaurant|venue)\b|"
    r"\b(they|it) (serves?|has|have|features?|offers?|plays?)\b"
)
_SEARCH = re.compile(
    r"\b(find\w*|suggest\w*|recommend\w*|look(ing)? for|search|another|other|additional|more|else|somewhere|"
    r"anywhere|some ?(place|thing)|restaurants?|places?|food|where can|to eat)\b"
)
_NEGATED = re.compile(r"\b(no|not|don'?t|doesn'?t|without|never)\b(\s+\w+){0,3}\s*$")


def _wishes(text: str) -> list[str]:
    """The sentences and clauses of a message that say what the user wants, lower-cased: questions
    about a restaurant already found are left out, and a question in one sentence does not void a
    wish in another."""
    out = []
    for sentence in re.findall(r"[^.?!;]+[.?!;]*", text.lower()):
        sentence = sentence.strip()
        if not sentence or _ASKS.search(sentence) or (sentence.endswith("?") and not _SEARCH.search(sentence)):
            continue
        out += [part.strip() for part in re.split(r"\bbut\b|\band also\b", sentence) if part.strip()]
    return out


def _price(clause: str) -> tuple[bool, str | None]:
    for value, pattern in _PRICE:
        if pattern.search(clause):
            return True, value
    return False, None


def _flag(clause: str, pattern: re.Pattern) -> bool:
    match = pattern.search(clause)
    return bool(match) and not _NEGATED.search(clause[: match.start()])


def spoken_filters(text: str) -> dict[str, str | None]:
    """The filters this user message sets ("True", a price range) or lifts (None); the last clause
    that speaks of a filter wins."""
    said: dict[str, str | None] = {}
    for clause in _wishes(text):
        found, value = _price(clause)
        if found:
            said["price_range"] = value
        for key, pattern in _FLAGS.items():
            if _flag(clause, pattern):
                said[key] = "True"
    return said
