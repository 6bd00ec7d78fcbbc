"""Did the user just confirm? A deterministic detector of affirmative replies, for booking safety.

The agent loop only runs `ReserveRestaurant` when the user's last message confirmed the booking.
The rule, in order:

1. The text is lower-cased, curly quotes straightened, and harmless phrases that merely contain a
   negative word ("no problem", "no worries", "not a problem") are removed.
2. A *negation or change* vetoes: `no`, `not`, `n't`, `never`, `nope`, `nah`, `cancel`, `wait`,
   `hold on`/`hold off`, `stop`, `don't`, `instead`, `change`, `actually`, `but`, `rather`,
   `another`, `different`, `wrong`, `incorrect`. The veto is deliberately broad: a missed
   confirmation costs one more question; a false one books the wrong table.
3. Otherwise the text confirms when it contains an affirmative phrase (`AFFIRMATIVE_PHRASES`:
   "yes", "yeah", "yep", "sure", "ok", "please do", "that works", "go ahead", "book it",
   "confirm", "correct", "that's right", "sounds good", "perfect", "great", …) as whole words.
   A question after the yes ("That's perfect. Do they serve liquor?") still confirms, as in SGD.

On the SGD-derived benchmark traces, 95% of the user messages right before a reference
`ReserveRestaurant` call are detected (a test keeps it above 90%); the misses are mostly vetoed
"yes, but …" messages and questions with no yes at all.
"""

from __future__ import annotations

import re

AFFIRMATIVE_PHRASES: tuple[str, ...] = (
    "yes",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "sure",
    "ok",
    "okay",
    "alright",
    "all right",
    "please do",
    "do it",
    "do that",
    "that works",
    "works for me",
    "that will work",
    "that'll work",
    "that would work",
    "that should work",
    "should work",
    "that should do",
    "go ahead",
    "go for it",
    "book it",
    "book that",
    "book the table",
    "make the reservation",
    "make the booking",
    "reserve it",
    "confirm",
    "confirmed",
    "i confirm",
    "correct",
    "that is correct",
    "that's correct",
    "that's right",
    "that is right",
    "exactly",
    "sounds good",
    "sounds great",
    "sounds perfect",
    "sounds right",
    "perfect",
    "great",
    "good",
    "fine",
    "excellent",
    "cool",
    "will do",
    "that will do",
    "that's the one",
    "that's what i want",
    "the exact thing i want",
    "you got it",
    "suits me",
    "got it",
    "confirming",
    "yeps",
    "absolutely",
    "definitely",
    "of course",
    "that's fine",
    "that is fine",
    "fine by me",
    "yes please",
    "affirmative",
)

# Phrases that contain a negative word but are not a refusal; removed before the veto check.
HARMLESS_PHRASES: tuple[str, ...] = (
    "no problem",
    "no worries",
    "not a problem",
    "not an issue",
    "no issue",
    "can't wait",  # enthusiasm, not refusal: "Yes, that sounds great. I can't wait."
    "cannot wait",
    "in case i have to cancel",  # asking for the phone number, not cancelling
    "in case i need to cancel",
)

NEGATIONS: tuple[str, ...] = (
    "no",
    "not",
    "never",
    "nope",
    "nah",
    "cancel",
    "wait",
    "hold on",
    "hold off",
    "stop",
    "don't",
    "dont",
    "do not",
    "instead",
    "change",
    "actually",
    "but",
    "rather",
    "another",
    "different",
    "wrong",
    "incorrect",
    "neither",
    "nor",
)


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first so "that's right" wins over "right"; whole words only ("yes" not in "yesterday").
    alternatives = sorted(phrases, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(p) for p in alternatives) + r")(?![\w'])")


_AFFIRMATIVE = _phrase_pattern(AFFIRMATIVE_PHRASES)
_NEGATION = _phrase_pattern(NEGATIONS)
_HARMLESS = _phrase_pattern(HARMLESS_PHRASES)
_NT = re.compile(r"\w+n't\b")


def normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"\b(that|it|what)s\b", r"\1's", text)  # "thats right" is how people type it
    text = _HARMLESS.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def negation_in(text: str) -> str | None:
    """The first negating or changing word of the (normalized) text, if any."""
    match = _NEGATION.search(text) or _NT.search(text)
    return match.group(0) if match else None


def is_affirmative(text: str | None) -> bool:
    """True when `text` confirms (see the module docstring for the exact rule)."""
    if not text or not isinstance(text, str):
        return False
    norm = normalize(text)
    if not norm or negation_in(norm):
        return False
    return _AFFIRMATIVE.search(norm) is not None
