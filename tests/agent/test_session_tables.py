"""The session-log tables: a message survives the round trip through a row, a relabel replaces the
call only when asked, and stats that JSON cannot hold are stringified, not lost."""

from decimal import Decimal

from agent.conversation import ToolCall, user_message
from agent.session_tables import ChatMessage, jsonable, message_row


def round_trip(message, **kw):
    return message_row(message, "s1", 1, 0).to_message(**kw)


def test_messages_survive_a_row():
    call = ToolCall("FindRestaurants", {"city": "Oakland", "cuisine": "Thai"}, "call_1").to_message()
    assert round_trip(call) == call
    assert round_trip(user_message("Thai in Oakland")) == user_message("Thai in Oakland")
    tool = {"role": "tool", "content": '[{"restaurant_name": "Thai Basil"}]', "tool_call_id": "call_1"}
    assert round_trip(tool) == tool


def test_a_relabel_replaces_the_call_only_when_asked():
    row = message_row(ToolCall("respond_to_user", {"message": "Hi"}, "call_2").to_message(), "s1", 1, 3)
    assert isinstance(row, ChatMessage) and row.position == 3 and row.tool_name == "respond_to_user"
    row.relabel = {"name": "FindRestaurants", "arguments": {"city": "Dixon"}}
    assert ToolCall.from_message(row.to_message()).name == "respond_to_user"
    fixed = ToolCall.from_message(row.to_message(use_relabel=True))
    assert (fixed.name, fixed.arguments, fixed.id) == ("FindRestaurants", {"city": "Dixon"}, "call_2")


def test_non_string_content_and_odd_stats_are_kept_as_text():
    row = message_row({"role": "user", "content": [{"type": "text", "text": "hi"}]}, "s1", 1, 0)
    assert row.content == '[{"type": "text", "text": "hi"}]'
    assert jsonable({"latency_s": Decimal("0.5"), "ok": [1, None]}) == {"latency_s": "0.5", "ok": [1, None]}
