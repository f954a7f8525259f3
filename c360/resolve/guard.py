"""The over-merge guard of clustering (steps 2-5 of :mod:`c360.resolve.cluster`), in plain Python over one
neighbourhood of cores at a time: which weak bridges to follow, ambiguous lone records, and clusters split
where they would join conflicting records. No Spark here: :mod:`c360.resolve.cluster` feeds it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

STAT_NAMES = ("weak_bridges_held_for_review", "core_links", "ambiguous_records", "ambiguous_records_joined_best")


class UnionFind:
    """Disjoint sets of ids (path halving); a set is named by its smallest id."""

    def __init__(self, items: Iterable[str] = ()):
        self._parent = {x: x for x in items}

    def find(self, x: str) -> str:
        parent = self._parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: str, b: str) -> tuple[str, str] | None:
        """Join the sets of ``a`` and ``b``: ``(kept root, joined root)``, or None if already one set."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        keep, gone = (ra, rb) if ra < rb else (rb, ra)
        self._parent[gone] = keep
        return keep, gone

    def items(self) -> list[str]:
        return list(self._parent)


@dataclass
class Settled:
    """One or more neighbourhoods settled: each core's cluster (named by its smallest core), the links
    ``(c1, c2)`` not followed (held for review, or undone by a conflict), and counts for the report."""

    cluster: dict[str, str]
    rejected: list[tuple[str, str]]
    counts: dict[str, int]


def settle_links(links: dict[tuple[str, str], tuple[int, float]], sizes: dict[str, int],
                 conflicts: list[tuple[str, str]], min_bridge_edges: int, margin: float) -> Settled:
    """Steps 2-5 of the module notes over whole neighbourhoods of cores.

    ``links``: ``(c1, c2) -> (weak edges, best weight)`` with ``c1 < c2``; ``sizes``: each touched core's
    vertex count; ``conflicts``: ``(k1, k2)`` pairs of distinct cores with conflicting records."""
    # 2. bridges: a lone record's, or enough agreeing edges
    accepted = {k: min(sizes[k[0]], sizes[k[1]]) == 1 or e >= min_bridge_edges for k, (e, _) in links.items()}
    # 3. a lone record whose partner cores are not all bridged to each other joins only the clearly best
    partners: dict[str, list[tuple[float, str]]] = {}
    for (c1, c2), ok in accepted.items():
        if ok:
            best = links[(c1, c2)][1]
            if sizes[c1] == 1:
                partners.setdefault(c1, []).append((best, c2))
            if sizes[c2] == 1:
                partners.setdefault(c2, []).append((best, c1))
    drop, ambiguous, joined_best = set(), 0, 0
    for s, found in partners.items():
        others = sorted(o for _, o in found)
        if all(accepted.get((x, y), False) for i, x in enumerate(others) for y in others[i + 1:]):
            continue
        ambiguous += 1
        ranked = sorted(found, key=lambda t: (-t[0], t[1]))
        joins = ranked[0][0] - ranked[1][0] >= margin
        joined_best += joins
        drop.update((min(s, o), max(s, o)) for _, o in ranked[1 if joins else 0:])
    for k in drop:
        accepted[k] = False
    # 4. clusters of cores over the accepted bridges, named by their smallest core
    sets = UnionFind(sizes)
    for (c1, c2), ok in accepted.items():
        if ok:
            sets.union(c1, c2)
    cluster = {c: sets.find(c) for c in sizes}
    # 5. a cluster holding conflicting cores is re-assembled without the bridges that join them
    against: dict[str, list[tuple[str, str]]] = {}
    for k1, k2 in conflicts:
        if cluster[k1] == cluster[k2]:
            against.setdefault(cluster[k1], []).append((min(k1, k2), max(k1, k2)))
    undone: list[tuple[str, str]] = []
    split = 0
    if against:
        bridges: dict[str, list[tuple[str, str, float]]] = {}
        for (c1, c2), ok in accepted.items():
            if ok and cluster[c1] in against:
                bridges.setdefault(cluster[c1], []).append((c1, c2, links[(c1, c2)][1]))
        for name, pairs in against.items():
            parts = split_conflicts(bridges.get(name, []), sorted(set(pairs)))
            cluster.update(parts)
            split += len(set(parts.values())) > 1
            undone += [(a, b) for a, b, _ in bridges.get(name, []) if parts[a] != parts[b]]
    held = [k for k, ok in accepted.items() if not ok]
    return Settled(cluster, held + undone, {
        "weak_bridges_held_for_review": len(held), "core_links": len(links), "ambiguous_records": ambiguous,
        "ambiguous_records_joined_best": joined_best, "conflicted_clusters": len(against),
        "conflicted_clusters_split": split, "bridges_undone_by_conflicts": len(undone)})


def split_conflicts(bridges: list[tuple[str, str, float]], conflicts: list[tuple[str, str]]) -> dict[str, str]:
    """One cluster's cores re-assembled: ``bridges`` ``(a, b, weight)`` between cores are followed strongest
    first (ties by core ids), skipping any that would put two cores of a ``conflicts`` pair together.
    Returns each core's part, named by its smallest core (the part holding the cluster's smallest core keeps
    the cluster's name: cores and clusters are named by their smallest vertex id)."""
    sets = UnionFind()
    members: dict[str, set[str]] = {}
    against: dict[str, set[str]] = {}
    for a, b in conflicts:
        against.setdefault(a, set()).add(b)
        against.setdefault(b, set()).add(a)
    for a, b, _ in bridges:
        for x in (a, b):
            members.setdefault(sets.find(x), {x})
    for a, b, _ in sorted(bridges, key=lambda e: (-e[2], e[0], e[1])):
        ra, rb = sets.find(a), sets.find(b)
        if ra == rb:
            continue
        small, large = sorted((members[ra], members[rb]), key=len)
        if any(against.get(x, set()) & large for x in small):
            continue
        keep, gone = sets.union(ra, rb)
        members[keep] |= members.pop(gone)
    return {x: min(members[sets.find(x)]) for x in sets.items()}
