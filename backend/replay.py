"""Replay SGD's Restaurants_1 service calls against our database and compare (replay fidelity).

For every FindRestaurants call: is every restaurant SGD returned in our full match set (no cap),
and is our capped list the very same list, in the same order, as SGD's? For every
ReserveRestaurant call (run as a dry run, so each call sees the freshly built database): does
success/failure match, and does the three-way outcome (success / failure with an alternative
slot / failure with nothing) match, alternative time included?

`bench/replay_fidelity.py` prints the report; tests assert on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from backend.sgd import SgdCall, iter_calls
from backend.tools import DEFAULT_LIMIT, execute
from backend.tools.reserve_restaurant import DEFAULT_DATE


@dataclass
class Mismatch:
    call: SgdCall
    kind: str  # find-subset | find-list | reserve-outcome | reserve-alternative
    detail: str


@dataclass
class FidelityReport:
    find_calls: int = 0
    find_subset: int = 0  # every SGD restaurant is in our full match set
    find_exact: int = 0  # our capped list == SGD's list (names and order)
    find_records_exact: int = 0  # ... and every record equal key for key
    reserve_calls: int = 0
    reserve_success_failure: int = 0
    reserve_outcome: int = 0  # success / alternative (same time) / failure
    mismatches: list[Mismatch] = field(default_factory=list)

    @staticmethod
    def pct(part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else 100.0

    def lines(self) -> list[str]:
        f, r = self.find_calls, self.reserve_calls
        return [
            f"FindRestaurants calls: {f}",
            f"  SGD's restaurants all in our match set: {self.find_subset}/{f} ({self.pct(self.find_subset, f):.2f}%)",
            f"  same list, same order (10-result cap):  {self.find_exact}/{f} ({self.pct(self.find_exact, f):.2f}%)",
            f"  same records, key for key:              {self.find_records_exact}/{f} "
            f"({self.pct(self.find_records_exact, f):.2f}%)",
            f"ReserveRestaurant calls: {r}",
            f"  success/failure matches SGD:            {self.reserve_success_failure}/{r} "
            f"({self.pct(self.reserve_success_failure, r):.2f}%)",
            f"  outcome incl. alternative slot matches: {self.reserve_outcome}/{r} ({self.pct(self.reserve_outcome, r):.2f}%)",
        ]


def _names(results: list[dict]) -> list[str]:
    return [r.get("restaurant_name", "") for r in results]


def _our_outcome(call: SgdCall, results: list[dict]) -> tuple[str, str | None]:
    if not results or "error" in results[0]:
        return "failure", None
    asked = call.parameters.get("time")
    booked = results[0]["time"]
    return ("success", None) if booked == asked else ("alternative", booked)


def replay_call(engine: Engine, call: SgdCall, report: FidelityReport) -> None:
    if call.method == "FindRestaurants":
        report.find_calls += 1
        everything = execute(engine, call.method, call.parameters, limit=0).results
        capped = everything[:DEFAULT_LIMIT]  # the order is deterministic, so this is the capped call
        missing = sorted(set(_names(call.results)) - set(_names(everything)))
        if not missing:
            report.find_subset += 1
        else:
            report.mismatches.append(Mismatch(call, "find-subset", f"not in our match set: {missing}"))
        if _names(capped) == _names(call.results):
            report.find_exact += 1
            if capped == call.results:
                report.find_records_exact += 1
        elif not missing:
            extra = [n for n in _names(capped) if n not in _names(call.results)]
            report.mismatches.append(
                Mismatch(call, "find-list", f"SGD returned {len(call.results)}, we return {len(capped)}; "
                         f"ours not in SGD's list: {extra}")
            )
        return
    report.reserve_calls += 1
    outcome = execute(engine, call.method, call.parameters, dry_run=True)
    ours, our_alt = _our_outcome(call, outcome.results)
    sgd = call.outcome
    sgd_alt = call.results[0]["time"] if sgd == "alternative" else None
    if (ours == "success") == (sgd == "success"):
        report.reserve_success_failure += 1
    else:
        detail = outcome.error or f"SGD {sgd}, ours {ours}"
        report.mismatches.append(Mismatch(call, "reserve-outcome", detail))
        return
    if (ours, our_alt) == (sgd, sgd_alt):
        report.reserve_outcome += 1
    else:
        sgd_date = call.results[0]["date"] if call.results else None
        asked_date = call.parameters.get("date") or DEFAULT_DATE
        detail = f"SGD {sgd} {sgd_alt or ''} (date {sgd_date}), ours {ours} {our_alt or ''} (date {asked_date})"
        if outcome.error:
            detail = f"SGD {sgd}; ours: {outcome.error}"
        report.mismatches.append(Mismatch(call, "reserve-alternative", detail))


def replay(engine: Engine, sgd_dir: Path) -> FidelityReport:
    """Replay every Restaurants_1 service call of SGD against `engine`'s database."""
    report = FidelityReport()
    for call in iter_calls(sgd_dir):
        replay_call(engine, call, report)
    return report
