"""Restaurant names a reply mentions that nothing in the conversation backs: the chat flags them.

    gazetteer = Gazetteer.from_database(engine)            # agent.grounding: the names the database knows
    unbacked_names("How about Zareen's?", messages, gazetteer)   # ["Zareen's"] if no search returned it

Grounded decoding (agent.grounding) keeps a call's arguments to values the conversation gave, but a
respond_to_user message is prose and stays free: a small model can recommend a restaurant no search
returned ("How about Yum Yum Hunan in San Francisco?" after a search in San Jose). A person cannot
tell such a name from a real result, so the agent loop runs this check on every reply
(`Reply.unbacked`), the chat and the REPL show what it finds, and the session log keeps it.

A name in a reply is backed when a tool result of this conversation holds it, or the user said it
(`Gazetteer.candidates`, which never counts the assistant's own words: a name the model made up in one
turn must not back itself in the next). Another branch of the same chain backs it too ("Coupa Cafe"
when the search returned "Coupa Cafe - Ramona"). Only names the database knows can be recognised in
prose, and only as the database writes them; text a tool result returned (a street address, a longer
name) is not searched; a restaurant whose name is also a city or a cuisine ("Napa") is never
flagged, because in a reply that word is most likely the city or the cuisine.
"""

from __future__ import annotations

import re
from typing import Any

from agent.grounding import Gazetteer, chain, records


def unbacked_names(reply: str, messages: list[dict[str, Any]], gazetteer: Gazetteer) -> list[str]:
    """The restaurants `reply` names (by their chain name, in the database's order) that neither a tool
    result of `messages` nor the user's words gave."""
    if not gazetteer.mentioned("restaurant_name", reply, case_sensitive=True):
        return []  # most replies name none: skip reading the conversation
    given = gazetteer.candidates(messages, keys=("restaurant_name",)).get("restaurant_name", [])
    backed = {chain(name).lower() for name in given}
    # Whatever a tool result said is backed, and is taken out of the reply before names are looked
    # for in what is left: the "Golden Wok" inside a returned "New Golden Wok", the restaurant called
    # "Boulevard" inside a returned street address, are not names the model made up.
    rest = reply
    for value in sorted(_result_strings(messages), key=len, reverse=True):
        rest = re.sub(re.escape(value), " | ", rest, flags=re.IGNORECASE)
    # As the database writes them only: "let's gather some details" does not name the restaurant Gather.
    mentioned = gazetteer.mentioned("restaurant_name", rest, case_sensitive=True)
    other_words = {n.lower() for key in ("city", "cuisine") for n in gazetteer.names.get(key, ())}
    flagged: dict[str, None] = {}
    for name in mentioned:
        short = chain(name)
        if short.lower() in backed or short.lower() in other_words or name.lower() in other_words:
            continue
        flagged[short] = None
    return list(flagged)


def _result_strings(messages: list[dict[str, Any]]) -> set[str]:
    """Every string value (of at least 4 characters) in the tool results of `messages`."""
    found: set[str] = set()
    for message in messages:
        if message.get("role") in ("user", "tool") and isinstance(message.get("content"), str):
            for record in records(message["content"]):
                found.update(v for v in record.values() if isinstance(v, str) and len(v.strip()) >= 4)
    return found


def warning(names: list[str]) -> str:
    """What the chat and the REPL say under a reply that names `names`."""
    listed = ", ".join(names)
    return (f"Not from a search in this chat: {listed}. The model may have made "
            f"{'it' if len(names) == 1 else 'them'} up; search before you go.")
