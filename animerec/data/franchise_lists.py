"""A ranked list made franchise-aware: entry points instead of later entries, one card each.

A model ranks catalog positions; a fan wants "start with Code Geass (the franchise has 3 more)"
rather than R2 at #1 and the first season at #7, and no recap or music video in a slot. This is
the list-level rule on top of :class:`~animerec.data.franchise.Franchises`, kept free of any
model so the ranking pipeline, the batch CLI and the evaluation can all apply the same one:

1. extras (recaps, music videos, specials) are skipped unless ``keep_extras``;
2. each ranked title is replaced by its :meth:`~Franchises.entry_point` for the watched set
   (the first season while it is unwatched; the next unwatched season after that);
3. at most one card per franchise (the best-ranked one decides); a title already watched, or an
   entry point already shown, is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from animerec.data.franchise import Franchises

__all__ = ["FranchiseEntry", "franchise_aware"]


@dataclass(frozen=True)
class FranchiseEntry:
    position: int
    """The catalog position to show: the entry point."""
    ranked: int
    """The ranked position it stands for (``== position`` when the model's pick was shown)."""
    franchise: int
    more: int
    """Other unwatched story entries of the franchise ("the franchise has N more")."""

    @property
    def replaced(self) -> bool:
        return self.position != self.ranked


def franchise_aware(
    ranked: Iterable[int],
    franchises: Franchises,
    watched: Iterable[int],
    k: int,
    *,
    keep_extras: bool = False,
) -> list[FranchiseEntry]:
    """The first ``k`` entries of ``ranked`` (catalog positions, best first) under the rules of
    this module; fewer when ``ranked`` runs out."""
    seen = {int(p) for p in watched}
    shown: set[int] = set()
    used: set[int] = set()
    out: list[FranchiseEntry] = []
    for p in ranked:
        if len(out) >= k:
            break
        p = int(p)
        if p < 0 or p in seen or (not keep_extras and franchises.is_extra(p)):
            continue
        f = int(franchises.franchise_of[p])
        if f in used:
            continue
        target = franchises.entry_point(p, seen)
        if target in seen or target in shown:
            continue
        unwatched = franchises.unwatched_story(f, seen | {target})
        out.append(FranchiseEntry(position=target, ranked=p, franchise=f, more=unwatched))
        used.add(f)
        shown.add(target)
    return out
