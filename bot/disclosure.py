"""Statistical disclosure control for counts of people: which figures HR may see.

A ``SuppressionTable`` holds figures (each a count and the opaque numbers of the people
behind it) and the sums that tie them together (a total and its parts). ``protect(k)``
hides every figure resting on fewer than ``k`` people, then enough partners that no hidden
figure can be worked out exactly from the visible ones through any combination of sums
(``solved``), and so that the hidden parts of any visible total rest on ``k`` together.
It knows nothing of policies or weeks; ``bot.trends`` builds the table.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np


class SuppressionTable:
    """Figures, the sums that tie them together, and which of them must be hidden."""

    def __init__(self, year_of: dict[int, str]) -> None:
        self.counts: list[int] = []
        self.members: list[set[int]] = []  # opaque asker numbers, for counting only
        self.sums: list[tuple[int, tuple[int, ...]]] = []  # (total, parts)
        self._year_of = year_of
        self._one_year = len(set(year_of.values())) <= 1

    def add(self, count: int, members: set[int]) -> int:
        self.counts.append(count)
        self.members.append(members)
        return len(self.counts) - 1

    def tie(self, total: int, parts: Sequence[int]) -> None:
        if parts:
            self.sums.append((total, tuple(parts)))

    def askers(self, members: Iterable[int]) -> int:
        """Distinct askers, counted within each ISO year; the largest year stands for all."""
        distinct = members if isinstance(members, set) else set(members)
        if self._one_year:
            return len(distinct)
        return max(Counter(self._year_of[m] for m in distinct).values(), default=0)

    def protect(self, k: int) -> list[bool]:
        """Decide which figures to hide: small groups, then enough partners to shield them."""
        hidden = [0 < self.askers(m) < k for m in self.members]
        sums_of: dict[int, list[int]] = defaultdict(list)
        for index, (total, parts) in enumerate(self.sums):
            for fid in (total, *parts):
                sums_of[fid].append(index)
        while True:
            if self._widen(hidden, k, sums_of):
                continue
            exposed = self._exposed(hidden)
            if not exposed:
                return hidden
            self._cover(exposed, hidden, sums_of)

    def _cost(self, fid: int, hidden: list[bool], sums_of: dict[int, list[int]]) -> int:
        """What hiding ``fid`` starts: each sum it would be alone in needs another partner,
        dearer when only that sum's total is left to hide (which climbs the hierarchy)."""
        cost = 0
        for i in sums_of[fid]:
            total, parts = self.sums[i]
            if not hidden[total] and not any(hidden[p] for p in parts):
                cost += 1 if any(p != fid and self.counts[p] > 0 for p in parts) else 3
        return cost

    def _widen(self, hidden: list[bool], k: int, sums_of: dict[int, list[int]]) -> bool:
        """Where a total is visible, its hidden parts together must rest on k askers."""
        changed = False
        for total, parts in self.sums:
            secret = [p for p in parts if hidden[p]]
            if hidden[total] or not secret:
                continue
            if self.askers(set().union(*(self.members[p] for p in secret))) >= k:
                continue
            # Hide one more part, or the total itself: whichever starts the fewest chains.
            spare = [p for p in (total, *parts) if not hidden[p] and self.counts[p] > 0]
            costs = [(self._cost(p, hidden, sums_of), p == total, self.counts[p], p) for p in spare]
            hidden[min(costs)[-1]] = True
            changed = True
        return changed

    def _exposed(self, hidden: list[bool]) -> list[int]:
        """Hidden figures that the visible ones determine exactly."""
        single = set()
        for total, parts in self.sums:
            secret = [f for f in (total, *parts) if hidden[f]]
            if len(secret) == 1:
                single.add(secret[0])
        return sorted(single) if single else solved(self.sums, hidden)

    def _cover(self, exposed: list[int], hidden: list[bool], sums_of: dict[int, list[int]]) -> None:
        """Hide one more figure beside each exposed one, in a sum they share: the one that
        exposes fewest others, then a part before a total, then the smallest."""
        used: set[int] = set()
        for fid in exposed:
            if used.intersection(sums_of[fid]):
                continue  # a neighbour just got a partner; look again next round
            options = [
                ((self._cost(f, hidden, sums_of), f == self.sums[i][0], self.counts[f], f), i)
                for i in sums_of[fid]
                for f in (self.sums[i][0], *self.sums[i][1])
                if not hidden[f] and self.counts[f] > 0
            ]
            if options:
                (*_, pick), _ = min(options)
                hidden[pick] = True
                used.update(sums_of[pick])
        if not used:  # nothing left to pair with nearby: hide everything that is not zero
            for fid, count in enumerate(self.counts):
                hidden[fid] = hidden[fid] or count > 0


def solved(sums: Sequence[tuple[int, Sequence[int]]], hidden: Sequence[bool]) -> list[int]:
    """The hidden figures that the sums and the visible figures determine exactly.

    Each sum ``total = parts`` is an equation; with the visible figures moved to the right,
    a hidden figure is determined exactly when its unit vector lies in the row space of the
    equations restricted to the hidden figures (projection onto that space keeps it whole).
    Works per connected group of equations, so a big table costs several small SVDs.
    """
    group: dict[int, int] = {}

    def root(f: int) -> int:
        while group.setdefault(f, f) != f:
            group[f] = group[group[f]]
            f = group[f]
        return f

    equations = []
    for total, parts in sums:
        secret = [(f, 1.0 if f == total else -1.0) for f in (total, *parts) if hidden[f]]
        if secret:
            equations.append(secret)
            for f, _ in secret[1:]:
                group[root(f)] = root(secret[0][0])
    by_group: dict[int, list[list[tuple[int, float]]]] = defaultdict(list)
    for equation in equations:
        by_group[root(equation[0][0])].append(equation)
    found: list[int] = []
    for rows in by_group.values():
        columns = sorted({f for row in rows for f, _ in row})
        where = {f: i for i, f in enumerate(columns)}
        matrix = np.zeros((len(rows), len(columns)))
        for r, row in enumerate(rows):
            for f, sign in row:
                matrix[r, where[f]] += sign
        _, values, right = np.linalg.svd(matrix, full_matrices=False)
        rank = int((values > 1e-9 * max(1.0, float(values.max(initial=0.0)))).sum())
        weight = (right[:rank] ** 2).sum(axis=0)
        found += [columns[i] for i in np.flatnonzero(weight > 1 - 1e-6)]
    return sorted(found)
