"""A short booking conversation the decoding tests share (search, reply, booking, empty result)."""

from __future__ import annotations

from agent.conversation import ToolCall, user_message


def booking_history() -> list[dict]:
    find = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"})
    return [
        user_message("Thai food in San Jose please"),
        find.to_message(),
        user_message('[{"restaurant_name": "Bangkok Bay", "city": "San Jose"}]'),
        ToolCall("respond_to_user", {"message": "Bangkok Bay is good."}).to_message(),
        user_message("Book it for 7pm"),
        ToolCall("ReserveRestaurant", {"restaurant_name": "Bangkok Bay", "city": "San Jose", "time": "19:00"}).to_message(),
        user_message("[]"),
    ]
