"""Tool results shaped exactly like SGD's `service_results`.

SGD's records have their keys in alphabetical order and every value as a string: booleans are
"True"/"False", dates "2019-03-01", times "18:30", party sizes "2". The agent hands these lists
to the model verbatim, so they must look like what the model saw in training.
"""

from __future__ import annotations

from backend.models import Restaurant


def _flag(value: bool) -> str:
    return "True" if value else "False"


def restaurant_record(restaurant: Restaurant, cuisine: str | None = None) -> dict[str, str]:
    """A FindRestaurants result. `cuisine`: the one searched for (SGD shows the matched cuisine
    for places listed under several); default the restaurant's primary cuisine."""
    return {
        "city": restaurant.city,
        "cuisine": cuisine or restaurant.cuisine,
        "has_live_music": _flag(restaurant.has_live_music),
        "phone_number": restaurant.phone_number,
        "price_range": restaurant.price_range,
        "restaurant_name": restaurant.name,
        "serves_alcohol": _flag(restaurant.serves_alcohol),
        "street_address": restaurant.street_address,
    }


def reservation_record(restaurant: Restaurant, *, date: str, time: str, party_size: int) -> dict[str, str]:
    """A ReserveRestaurant result: the restaurant record plus date, party_size and time, each in
    its alphabetical place."""
    record = restaurant_record(restaurant)
    record.update(date=date, party_size=str(party_size), time=time)
    return dict(sorted(record.items()))
