"""Splitting a basket no single pharmacy can deliver: the fewest pharmacies that deliver it all in time.

Pure: the caller gives, per basket line, the pharmacies that can deliver that line alone within
the promise (with their ETA), and a ``recheck`` that asks whether one pharmacy can deliver a
whole sub-basket now (its ETA, or None). Candidate splits are ranked by the number of parts
(fewest first, at most ``max_parts``), then the worst ETA, then the sum of the ETAs, then the
pharmacy ids, so the same inputs always give the same split. Within a candidate set of
pharmacies each line goes to the fastest of them that offers it (ties: the lower id). Each part
of a candidate is rechecked as a whole; the first candidate whose every part passes is the
proposal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from yaodao.kernel.errors import Conflict


@dataclass(frozen=True, slots=True)
class SplitParams:
    max_parts: int = 3
    max_rechecks: int = 64  # candidate splits rechecked before giving up

    def __post_init__(self) -> None:
        if not 1 <= self.max_parts <= 5:
            raise ValueError(f"max_parts must be between 1 and 5, got {self.max_parts!r}.")
        if self.max_rechecks < 1:
            raise ValueError(f"max_rechecks must be at least 1, got {self.max_rechecks!r}.")


DEFAULT_SPLIT = SplitParams()


@dataclass(frozen=True, slots=True)
class LineOffer:
    pharmacy_id: str
    eta_minutes: int


@dataclass(frozen=True, slots=True)
class SplitPart:
    pharmacy_id: str
    product_ids: tuple[str, ...]  # in basket order
    eta_minutes: int


Recheck = Callable[[str, tuple[str, ...]], int | None]


class SplitNeeded(Conflict):
    """No single pharmacy delivers the whole basket in time, but these pharmacies together do."""

    code = "split_needed"


def find_split(
    basket: Sequence[str],
    offers: Mapping[str, Sequence[LineOffer]],
    recheck: Recheck,
    params: SplitParams = DEFAULT_SPLIT,
) -> tuple[SplitPart, ...] | None:
    """The best split of ``basket`` (product ids) into parts, or None when there is none."""
    options: dict[str, dict[str, int]] = {}
    for product_id in basket:
        etas = {o.pharmacy_id: o.eta_minutes for o in offers.get(product_id, ())}
        if not etas:
            return None  # nobody delivers this line in time
        options[product_id] = etas
    candidates: dict[tuple[tuple[str, tuple[str, ...]], ...], tuple[int, int, int, tuple[str, ...]]] = {}
    for cover in _covers(basket, options, params.max_parts):
        assigned = tuple(_assign(basket, options, cover))
        part_etas = [max(options[p][pharmacy] for p in lines) for pharmacy, lines in assigned]
        candidates[assigned] = (
            len(assigned), max(part_etas), sum(part_etas), tuple(pharmacy for pharmacy, _ in assigned)
        )  # fmt: skip
    ranked = sorted(candidates, key=lambda k: candidates[k])
    for parts in ranked[: params.max_rechecks]:
        checked = []
        for pharmacy, lines in parts:
            eta = recheck(pharmacy, lines)
            if eta is None:
                break
            checked.append(SplitPart(pharmacy, lines, eta))
        else:
            return tuple(checked)
    return None


def _covers(basket: Sequence[str], options: Mapping[str, Mapping[str, int]], limit: int) -> set[frozenset[str]]:
    """Every set of at most ``limit`` pharmacies that together hold an offer for each line."""
    found: set[frozenset[str]] = set()

    def grow(chosen: frozenset[str], uncovered: list[str]) -> None:
        if not uncovered:
            found.add(chosen)
            return
        if len(chosen) == limit:
            return
        line = min(uncovered, key=lambda p: (len(options[p]), p))  # the hardest line first
        for pharmacy in sorted(options[line]):
            grow(chosen | {pharmacy}, [p for p in uncovered if pharmacy not in options[p]])

    grow(frozenset(), list(dict.fromkeys(basket)))
    return found


def _assign(
    basket: Sequence[str], options: Mapping[str, Mapping[str, int]], cover: frozenset[str]
) -> list[tuple[str, tuple[str, ...]]]:
    """Each line to its fastest pharmacy in ``cover`` (ties: the lower id); pharmacies left empty drop out."""
    lines: dict[str, list[str]] = {}
    for product_id in basket:
        pharmacy = min((p for p in cover if p in options[product_id]), key=lambda p: (options[product_id][p], p))
        lines.setdefault(pharmacy, []).append(product_id)
    return sorted((pharmacy, tuple(ids)) for pharmacy, ids in lines.items())
