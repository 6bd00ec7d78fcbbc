"""Restaurant names in a reply that nothing backs: the check itself, then through the agent loop on a
real database (Reply event, turn result, session log), the plain REPL, and `resto sessions show`."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import text

from agent.conversation import ToolCall
from agent.events import Reply
from agent.grounding import Gazetteer
from agent.loop import AgentSession
from agent.name_check import unbacked_names, warning
from agent.repl import run_repl
from agent.sessionlog import SessionLog
from agent.settings import Settings
from backend.db import make_engine
from tests.support.agent_db import ScriptedPolicy, small_db

GAZETTEER = Gazetteer({
    "restaurant_name": ["Coupa Cafe - Ramona", "Coupa Cafe - Palo Alto", "Thai Orchid", "Napa", "Zareen's",
                        "Golden Wok", "New Golden Wok", "Boulevard", "Gather"],
    "city": ["Napa", "San Jose", "Palo Alto"],
    "cuisine": ["Thai"],
})


def user(content: str) -> dict:
    return {"role": "user", "content": content}


def said(message: str) -> dict:
    return ToolCall("respond_to_user", {"message": message}).to_message()


def results(*names: str) -> dict:
    return user(json.dumps([{"restaurant_name": n, "city": "Palo Alto"} for n in names]))


def test_a_name_no_search_returned_is_flagged_and_a_returned_one_is_not():
    history = [user("Thai food in Palo Alto"), results("Zareen's")]
    assert unbacked_names("How about Thai Orchid? Or Zareen's?", history, GAZETTEER) == ["Thai Orchid"]
    assert unbacked_names("Zareen's is a nice place.", history, GAZETTEER) == []
    assert unbacked_names("What time would you like?", history, GAZETTEER) == []


def test_the_users_words_back_a_name_but_the_assistants_own_do_not():
    assert unbacked_names("Booking Thai Orchid.", [user("book thai orchid please")], GAZETTEER) == []
    # a name the model made up in an earlier reply does not back itself in the next
    history = [user("Thai food?"), said("How about Thai Orchid?"), user("sure")]
    assert unbacked_names("Shall I book Thai Orchid?", history, GAZETTEER) == ["Thai Orchid"]


def test_a_chain_is_backed_by_any_branch_and_flagged_once():
    assert unbacked_names("Coupa Cafe is open.", [results("Coupa Cafe - Ramona")], GAZETTEER) == []
    assert unbacked_names("Coupa Cafe - Palo Alto it is.", [results("Coupa Cafe - Ramona")], GAZETTEER) == []
    assert unbacked_names("Try Coupa Cafe - Ramona.", [user("hi")], GAZETTEER) == ["Coupa Cafe"]


def test_a_name_that_is_also_a_city_or_cuisine_is_never_flagged():
    assert unbacked_names("I found nothing in Napa.", [user("anything in Napa?")], GAZETTEER) == []
    assert unbacked_names("Napa is lovely.", [], GAZETTEER) == []


def test_text_a_tool_result_returned_and_lowercase_words_name_nothing():
    found = user(json.dumps([{"restaurant_name": "New Golden Wok", "street_address": "570 North Shoreline Boulevard"}]))
    reply = "New Golden Wok is at 570 north shoreline boulevard. Let's gather the details."
    assert unbacked_names(reply, [found], GAZETTEER) == []
    # but the same names, written as the database writes them and returned by nothing, are flagged
    assert unbacked_names("Golden Wok or Boulevard? Gather!", [found], GAZETTEER) == ["Boulevard", "Gather", "Golden Wok"]
    assert unbacked_names("thai orchid is good.", [], GAZETTEER) == []  # recognised only as written


def test_warning_names_them():
    assert warning(["Thai Orchid"]).startswith("Not from a search in this chat: Thai Orchid.")
    assert "made it up" in warning(["A"]) and "made them up" in warning(["A", "B"])


# -- through the loop, on a real database (tests.support.agent_db: Mimi's Cafe in Fairfield, Thai Orchid in San Jose)

SEARCH_FAIRFIELD = ToolCall("FindRestaurants", {"city": "Fairfield", "cuisine": "Breakfast"}).to_text()


def say(message: str) -> str:
    return ToolCall("respond_to_user", {"message": message}).to_text()


@pytest.fixture
def engine(tmp_path):
    return small_db(tmp_path / "resto.db")


def test_the_loop_flags_a_recommendation_the_search_did_not_return(engine):
    log = SessionLog(engine)
    policy = ScriptedPolicy([SEARCH_FAIRFIELD, say("How about Thai Orchid? Mimi's Cafe is good too.")])
    session = AgentSession(policy, engine, log=log, confirm_bookings=False)
    result = session.send("Breakfast in Fairfield")
    (reply,) = [e for e in result.events if isinstance(e, Reply)]
    assert reply.unbacked == ["Thai Orchid"] == result.unbacked  # Mimi's Cafe was returned
    assert result.reply == "How about Thai Orchid? Mimi's Cafe is good too."  # the reply itself is kept
    (turn,) = log.get(session.session_id).turns
    assert turn.stats["unbacked_names"] == ["Thai Orchid"]
    # a backed reply: nothing flagged, nothing logged
    policy.outputs.append(say("Mimi's Cafe it is."))
    result = session.send("the first one")
    assert result.unbacked == [] and "unbacked_names" not in log.get(session.session_id).turns[1].stats


def test_the_check_can_be_off_and_an_unreadable_database_only_turns_it_off(engine, tmp_path):
    off = AgentSession(ScriptedPolicy([say("Try Thai Orchid.")]), engine, check_names=False)
    assert off.send("hi").unbacked == []
    empty = make_engine(tmp_path / "empty.db")  # no tables: the gazetteer cannot be read
    with empty.connect() as conn:
        conn.execute(text("select 1"))
    session = AgentSession(ScriptedPolicy([say("Try Thai Orchid.")]), empty)
    result = session.send("hi")
    assert result.reply == "Try Thai Orchid." and result.unbacked == [] and result.error is None


def test_the_loop_shares_a_grounded_policy_s_gazetteer_instead_of_reading_the_database_again(engine):
    # The policy's names differ from the database's on purpose: only a shared gazetteer flags "Golden Wok".
    policy = ScriptedPolicy([say("Golden Wok or Thai Orchid?")])
    policy.grounding = GAZETTEER
    session = AgentSession(policy, engine)
    assert session.send("hi").unbacked == ["Golden Wok", "Thai Orchid"]
    assert session._gazetteer is GAZETTEER


def test_the_repl_prints_the_warning_under_the_reply(engine):
    out = io.StringIO()
    policy = ScriptedPolicy([SEARCH_FAIRFIELD, say("How about Thai Orchid?")])
    assert run_repl(Settings(), policy, engine, io.StringIO("Breakfast in Fairfield\n"), out) == 0
    printed = out.getvalue()
    assert "resto: How about Thai Orchid?\n  · Not from a search in this chat: Thai Orchid." in printed


def test_sessions_show_names_them_on_the_turn(engine, tmp_path, capsys):
    from cli.main import main

    session = AgentSession(ScriptedPolicy([say("Try Thai Orchid.")]), engine, log=SessionLog(engine))
    session.send("hi")
    assert main(["sessions", "show", session.session_id[:12], "--db", str(tmp_path / "resto.db")]) == 0
    assert "1 model calls · not from a search: Thai Orchid\n" in capsys.readouterr().out


def test_export_marks_or_leaves_out_sessions_with_unbacked_names_unless_corrected(engine, tmp_path, capsys):
    from agent.trace_io import read_traces
    from cli.main import main

    log = SessionLog(engine)
    flagged = AgentSession(ScriptedPolicy([SEARCH_FAIRFIELD, say("Try Thai Orchid.")]), engine, log=log)
    flagged.send("Breakfast in Fairfield")
    clean = AgentSession(ScriptedPolicy([SEARCH_FAIRFIELD, say("Try Mimi's Cafe.")]), engine, log=log)
    clean.send("Breakfast in Fairfield")
    db, out = str(tmp_path / "resto.db"), tmp_path / "traces.jsonl"

    assert main(["sessions", "export", "--all", "--out", str(out), "--db", db]) == 0
    assert "wrote 2 conversations" in capsys.readouterr().out
    traces, _ = read_traces(out, strict=True)
    marks = {t.meta["session_id"]: t.meta.get("unbacked_names") for t in traces}
    assert marks == {flagged.session_id: ["Thai Orchid"], clean.session_id: None}

    assert main(["sessions", "export", "--all", "--skip-unbacked", "--out", str(out), "--db", db]) == 0
    assert ("wrote 1 conversation to" in (printed := capsys.readouterr().out)
            and "left out 1 whose replies named a restaurant no search returned" in printed)
    assert [t.meta["session_id"] for t in read_traces(out, strict=True)[0]] == [clean.session_id]

    # a person corrects the flagged reply: the session is no longer marked, and exports with the correction
    record = log.get(flagged.session_id)
    log.relabel(record.message_ids[-1], ToolCall("respond_to_user", {"message": "Try Mimi's Cafe."}))
    assert log.get(flagged.session_id).unbacked_names() == []
    assert log.get(flagged.session_id).unbacked_names(use_relabels=False) == ["Thai Orchid"]
    assert log.export(None, out, skip_unbacked=True).written == 2
