import json

import pytest

from agent.conversation import (
    ToolCall,
    normalize_messages,
    result_message,
    tool_calls,
    user_message,
    with_string_arguments,
)


def test_tool_call_forms():
    call = ToolCall("ReserveRestaurant", {"restaurant_name": "Ala Romana", "city": "San Francisco", "time": "12:00"})
    assert json.loads(call.to_answer()) == {"name": "ReserveRestaurant", "parameters": call.arguments}
    assert call.to_text().startswith("<tool_call>\n{") and call.to_text().endswith("}\n</tool_call>")
    assert ToolCall.from_message(call.to_message()).arguments == call.arguments
    assert call.message is None
    assert ToolCall("respond_to_user", {"message": "Hi"}).message == "Hi"


def test_results_come_back_as_user_message_by_default():
    assert result_message([]) == {"role": "user", "content": "[]"}
    msg = result_message([{"a": "1"}], role="tool", call_id="call_1")
    assert msg == {"role": "tool", "tool_call_id": "call_1", "content": '[{"a": "1"}]'}
    with pytest.raises(ValueError):
        result_message([], role="system")


def test_string_arguments_round_trip():
    messages = [user_message("x"), ToolCall("respond_to_user", {"message": "y"}, id="c1").to_message()]
    wire = with_string_arguments(messages)
    assert wire[1]["tool_calls"][0]["function"]["arguments"] == '{"message": "y"}'
    assert normalize_messages(wire) == messages
    assert [c.name for c in tool_calls(wire)] == ["respond_to_user"]
