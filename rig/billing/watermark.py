"""How far a meter's vends are settled, so a readback reads only the vends after that point.

A vend is *settled* once a MAC-verified readback confirmed it or a supervisor reversed it:
neither status ever changes again. The watermark is the highest sequence up to which every
vend of the meter is settled, with the credit and count of the unreversed ones up to it. A
readback's totals are then the watermark's plus the vends after it (or minus those between its
own last sequence and the watermark, for a readback older than the watermark), so its cost
and its stored evidence depend on the vends since the last verified readback, not on history.

Each reconciliation's evidence names the watermark it started from (and the readback that
set it) and the vends it added: an auditor follows those links back to the first readback,
checking at each step that the totals add up (:func:`chain_breaks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Applied = tuple[tuple[int, int], ...]  # (sequence, credit) of unreversed vends


@dataclass(frozen=True)
class Watermark:
    """Every vend up to ``sequence`` is settled; ``credit``/``count``: its unreversed ones.
    ``readback_id``: the verified readback that moved it here (None: nothing settled yet)."""

    sequence: int = 0
    credit: int = 0
    count: int = 0
    readback_id: int | None = None

    def plus(self, vends: Applied) -> tuple[int, int]:
        """(credit, count) of the unreversed vends up to the last of ``vends`` (those after
        the watermark)."""
        return self.credit + sum(c for _, c in vends), self.count + len(vends)

    def minus(self, vends: Applied) -> tuple[int, int]:
        """(credit, count) without ``vends`` (those above an older readback's sequence)."""
        return self.credit - sum(c for _, c in vends), self.count - len(vends)


def advanced(start: Watermark, settled_to: int, since: Applied, readback_id: int) -> Watermark:
    """The watermark after a verified readback settled every vend up to ``settled_to``
    (its last sequence, no further than the last issued); ``since``: the unreversed vends
    after ``start`` up to there. Never moves back."""
    if settled_to <= start.sequence:
        return start
    credit, count = start.plus(tuple(v for v in since if v[0] <= settled_to))
    return Watermark(settled_to, credit, count, readback_id)


def evidence(start: Watermark, since: Applied, withdrawn: Applied,
             after: Watermark) -> dict[str, Any]:
    """What a reconciliation stores of the watermark: where it started, the vends added (or
    taken away, for a readback older than the watermark) and where it ended."""
    return {"from": _row(start), "applied_since": [list(v) for v in since],
            "withdrawn": [list(v) for v in withdrawn], "to": _row(after)}


def _row(w: Watermark) -> dict[str, Any]:
    return {"sequence": w.sequence, "credit": w.credit, "count": w.count,
            "readback_id": w.readback_id}


def chain_breaks(by_readback: Mapping[int, Mapping[str, Any]],
                 newest: Iterable[Mapping[str, Any]]) -> list[str]:
    """Walk the watermark chain back from each evidence in ``newest`` to the first readback.

    ``by_readback``: each verified readback's stored watermark evidence (its ``watermark``
    entry), by readback id. Returns what does not add up (empty: the chain holds): a link
    naming a readback with no evidence, a ``to`` that is not ``from`` plus the vends added,
    or a ``from`` that is not the ``to`` of the readback it names.
    """
    breaks: list[str] = []
    seen: set[int] = set()
    todo = list(newest)
    while todo:
        ev = todo.pop()
        start, to = ev["from"], ev["to"]
        since = [tuple(v) for v in ev["applied_since"]]
        if to["sequence"] > start["sequence"]:
            added = [v for v in since if v[0] <= to["sequence"]]
            if (start["credit"] + sum(c for _, c in added) != to["credit"]
                    or start["count"] + len(added) != to["count"]):
                breaks.append(f"watermark to {to} is not {start} plus {added}")
        link = start["readback_id"]
        if link is None:
            if (start["sequence"], start["credit"], start["count"]) != (0, 0, 0):
                breaks.append(f"watermark {start} names no readback but is not the start")
            continue
        if link in seen:
            continue
        seen.add(link)
        prior = by_readback.get(link)
        if prior is None:
            breaks.append(f"watermark {start} names readback {link}, which has no evidence")
            continue
        if dict(prior["to"]) != dict(start):
            breaks.append(f"watermark {start} is not where readback {link} left it "
                          f"({prior['to']})")
        todo.append(prior)
    return breaks
