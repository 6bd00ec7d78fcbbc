"""Scripted stand-ins for the TFT pipeline's big LLMs (GLM-5 as teacher, gpt-oss-120b as judge and
committee member), served over real HTTP by `tests.support.scripted_server.ScriptedServer`.

One server answers for every model name; the handler looks at `body["model"]` and at which prompt
it was sent (filter / relabel / arbitrate / synthesize) and answers like the model would:
- `teacher`: judges, relabels correctly, arbitrates towards the gold labels, writes conversations;
- `good`: relabels correctly;  `slow`: answers too late (the client times out);
- `broken`: answers malformed JSON;  `contrarian`: a valid but different labelling (drops a
  search filter), so the teacher has to arbitrate.
The gold conversations use the two restaurants of `tests.support.agent_db.small_db`, so their
service calls execute for real against that database.
"""

from __future__ import annotations

import json
import random
import re
import threading
from typing import Any

import yaml

from agent.conversation import ToolCall
from tests.support.scripted_server import Delay, completion

MIMI = {"city": "Fairfield", "cuisine": "Breakfast", "has_live_music": "False", "phone_number": "707-421-0835",
        "price_range": "moderate", "restaurant_name": "Mimi's Cafe", "serves_alcohol": "True",
        "street_address": "1650 Gateway Boulevard"}
THAI = {"city": "San Jose", "cuisine": "Thai", "has_live_music": "False", "phone_number": "408-555-0101",
        "price_range": "inexpensive", "restaurant_name": "Thai Orchid", "serves_alcohol": "False",
        "street_address": "12 Market Street"}


def u(text: str) -> dict:
    return {"role": "user", "content": text}


def call(name: str, **args: str) -> dict:
    return ToolCall(name, args).to_message()


def say(text: str) -> dict:
    return call("respond_to_user", message=text)


def result(*rows: dict) -> dict:
    return u(json.dumps(list(rows)))


GOLD = {
    "I want some breakfast in Fairfield": [
        u("I want some breakfast in Fairfield"),
        call("FindRestaurants", city="Fairfield", cuisine="Breakfast"),
        result(MIMI),
        say("Mimi's Cafe at 1650 Gateway Boulevard serves breakfast and is moderately priced."),
        u("Sounds good, thanks a lot"),
        say("You're welcome, enjoy your breakfast!"),
    ],
    "Any cheap Thai food in San Jose?": [
        u("Any cheap Thai food in San Jose?"),
        call("FindRestaurants", city="San Jose", cuisine="Thai", price_range="inexpensive"),
        result(THAI),
        say("Thai Orchid on 12 Market Street is inexpensive."),
        u("Great, that's all I need"),
        say("Enjoy your meal!"),
    ],
    "Hi, can you help me find a place to eat?": [
        u("Hi, can you help me find a place to eat?"),
        say("Sure! Which city, and what kind of food?"),
        u("Thai food in San Jose please"),
        call("FindRestaurants", city="San Jose", cuisine="Thai"),
        result(THAI),
        say("I found Thai Orchid in San Jose."),
    ],
}
HOLD_KEYS = list(GOLD)  # the gold conversations in the order of corrupted()'s first three traces
HOTEL = [u("I need a hotel room in London"), say("45 Park Lane has rooms from Monday."), u("Book it")]


def corrupted() -> list[list[dict]]:
    """The input traces: noisy labels, another dialogue's arguments, one clean, one off-domain."""
    t1 = [dict(m) for m in GOLD["I want some breakfast in Fairfield"]]
    t1[1] = say("Have an enjoyable rest of the day!")  # a service call replaced by noise
    t2 = [dict(m) for m in GOLD["Any cheap Thai food in San Jose?"]]
    t2[1] = call("FindRestaurants", city="Berkeley", cuisine="Indian")  # another dialogue's arguments
    t3 = GOLD["Hi, can you help me find a place to eat?"]
    return [t1, t2, t3, HOTEL]


def gold_for(prompt: str) -> list[ToolCall] | None:
    match = re.search(r"^USER: (.*)$", prompt, re.MULTILINE)
    messages = GOLD.get(match.group(1)) if match else None
    return [ToolCall.from_message(m) for m in messages if m["role"] == "assistant"] if messages else None


def calls_json(calls: list[ToolCall]) -> str:
    return json.dumps({"calls": [{"turn": f"A{i}", "name": c.name, "arguments": c.arguments}
                                 for i, c in enumerate(calls, start=1)]})


WORDS = ("amber bistro cedar dune ember fjord grove harbor iris jade kelp lumen maple nectar opal "
         "prairie quartz river sage tundra umber violet willow yarrow zephyr").split()


def synthetic(k: int) -> dict:
    """Conversation number k: distinct wording (random words seeded by k), real DB results."""
    rng = random.Random(k)
    chatter = " ".join(rng.sample(WORDS, 8))
    if k % 2 == 0:
        first, found, args = f"Breakfast in Fairfield please, {chatter}", MIMI, {"city": "Fairfield", "cuisine": "Breakfast"}
    else:
        first, found, args = f"Thai food in San Jose, {chatter}", THAI, {"city": "San Jose", "cuisine": "Thai"}
    return {"messages": [
        {"role": "user", "content": first},
        {"role": "assistant", "name": "FindRestaurants", "arguments": args},
        {"role": "tool_result", "results": [found]},
        {"role": "assistant", "name": "respond_to_user",
         "arguments": {"message": f"{found['restaurant_name']} is at {found['street_address']}."}},
        {"role": "user", "content": f"Thanks {' '.join(rng.sample(WORDS, 6))}"},
        {"role": "assistant", "name": "respond_to_user", "arguments": {"message": "Enjoy!"}},
    ]}


# Synthesis requests with special answers (by request number #k in the prompt).
SYNTH_SPECIAL = {
    1: "Sure! Here are the conversations: {conversations: [",  # malformed JSON
    3: {"messages": [  # ungrounded: a restaurant nobody mentioned (dropped at synthesis)
        {"role": "user", "content": "Book me a table in Fairfield at 6 pm"},
        {"role": "assistant", "name": "ReserveRestaurant",
         "arguments": {"restaurant_name": "Ghost Diner", "city": "Fairfield", "time": "18:00"}},
        {"role": "tool_result", "results": [{"restaurant_name": "Ghost Diner"}]},
        {"role": "assistant", "name": "respond_to_user", "arguments": {"message": "Booked."}}]},
    4: {"messages": [  # grounded in its own fake results, but the DB has no such restaurant
        {"role": "user", "content": "Breakfast in Fairfield?"},
        {"role": "assistant", "name": "FindRestaurants", "arguments": {"city": "Fairfield", "cuisine": "Breakfast"}},
        {"role": "tool_result", "results": [{**MIMI, "restaurant_name": "Ghost Diner"}]},
        {"role": "assistant", "name": "respond_to_user", "arguments": {"message": "Try Ghost Diner."}}]},
    5: {"messages": [  # a copy of a seed: a near-duplicate
        {"role": "user", "content": m["content"]} if m["role"] == "user" and not m["content"].startswith("[")
        else {"role": "tool_result", "results": json.loads(m["content"])} if m["role"] == "user"
        else {"role": "assistant", **{"name": ToolCall.from_message(m).name,
                                      "arguments": ToolCall.from_message(m).arguments}}
        for m in GOLD["I want some breakfast in Fairfield"]]},
}


class ScriptedLLMs:
    """The request handler; `synth_gate` (a threading.Event) makes synthesis request number
    `hold_at` wait until it is set — to kill a run while a call is in flight."""

    def __init__(self, hold_at: int | None = None):
        self.hold_at = hold_at
        self.synth_gate = threading.Event()
        self.lock = threading.Lock()
        self.synth_seen: list[int] = []

    def __call__(self, body: dict[str, Any]) -> Any:
        model = body.get("model")
        system = body["messages"][0]["content"]
        prompt = body["messages"][-1]["content"]
        if model == "slow":
            return Delay(2.0)
        if model == "broken":
            return completion('{"calls": [{"turn": "A1", "name": "FindRestaurants", "arguments": {"city": ')
        if "You judge the quality" in system:
            if "hotel" in prompt.lower():
                return completion('{"relevance": 1, "coherence": 3, "reason": "hotel booking, not restaurants"}')
            return completion('Here is my verdict: {"relevance": 5, "coherence": 4, "reason": "on task"}')
        if "You write training data" in system:
            return self.synth(prompt)
        if "Pick the most correct candidate" in prompt:
            gold = gold_for(prompt)
            rows = "\n".join(f"  A{i}: {c.name} {json.dumps(c.arguments)}" for i, c in enumerate(gold, start=1))
            blocks = re.split(r"\n(?=C\d+:)", prompt.split("# Candidate labellings\n", 1)[1])
            for block in blocks:
                if block.split(":", 1)[1].strip().startswith(rows.strip()):
                    return completion(json.dumps({"choice": block.split(":", 1)[0], "reason": "matches results"}))
            return completion('{"choice": "C1", "reason": "no better option"}')
        gold = gold_for(prompt)
        if gold is None:
            return completion("I cannot label this conversation.")
        if model == "contrarian":  # valid and grounded, but leaves out a search filter
            gold = [ToolCall(c.name, {k: v for k, v in c.arguments.items() if k != "price_range"}) for c in gold]
        return completion(calls_json(gold))

    def synth(self, prompt: str) -> Any:
        k = int(re.search(r"request #(\d+)", prompt).group(1))
        with self.lock:
            self.synth_seen.append(k)
            arrival = len(self.synth_seen)
        if self.hold_at is not None and arrival == self.hold_at:
            self.synth_gate.wait(30)
        special = SYNTH_SPECIAL.get(k)
        if isinstance(special, str):
            return completion(special)
        conv = special if special is not None else synthetic(k)
        return completion("```json\n" + json.dumps({"conversations": [conv]}) + "\n```")


def write_config(path, base_url: str, traces, job, committee=("good",), target: int = 4, parallel: bool = True,
                 **tft: Any):
    """A tiny TFT config: every model name → the scripted server."""
    endpoints = {name: {"base_url": base_url, "model": name, "backoff_s": 0.01, "max_retries": 0,
                        "timeout_s": 0.3 if name == "slow" else 10, "max_concurrency": 2}
                 for name in {"teacher", "judge", *committee}}
    config = {
        "base": {"task": "multi-turn-tool-calling-closed-book", "teacher_model_name": "teacher"},
        "trace_processing": {"min_relevance_score": 3, "min_coherence_score": 2,
                             "relabelling_committee_models": list(committee)},
        "synthgen": {"generation_target": target, "generation_in_single_call": 1,
                     "mutation_topics": ["short conversation", "long conversation"],
                     "validation_max_total_length": 20000, "parallel_llm_calls": parallel},
        "evaluation": {"llm_as_a_judge_model_name": "judge"},
        "tft": {"traces": str(traces), "job_description": str(job), "endpoints": endpoints, **tft},
    }
    path.write_text(yaml.safe_dump(config))
    return path
