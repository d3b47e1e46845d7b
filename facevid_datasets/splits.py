"""Deterministic, identity-disjoint held-out splits (the paper's protocol: 2,048 test clips).

Identities are ranked by a seeded hash of their name and whole identities are taken into the
test split, largest-fit first in rank order, until it holds exactly the target number of clips
(or as close as whole identities allow). The result depends only on the clip ids, identities and
seed, never on file order or on which files happen to be downloaded, so every config of a
release (e.g. FaceVid-1K `collected` and `public`) sees the same split of each clip.

Releases smaller than 10 x 2,048 = 20,480 clips hold out 10% instead. Clips without an identity
count as their own identity (a bare folder of videos has no identity labels).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping

#: Size of the held-out test set of the DH-FaceVid-1K evaluation protocol.
PAPER_TEST_CLIPS = 2048
#: Fraction held out for releases too small for 2,048 test clips (fewer than 20,480 clips).
SMALL_RELEASE_TEST_FRACTION = 0.1


def _rank(key: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()


def test_size(num_clips: int) -> int:
    """2,048 clips, or 10% of a release smaller than 20,480 clips (at least one clip)."""
    if num_clips >= PAPER_TEST_CLIPS * 10:
        return PAPER_TEST_CLIPS
    return max(1, round(num_clips * SMALL_RELEASE_TEST_FRACTION)) if num_clips > 1 else 0


def _pick_test(by_identity: Mapping[str, list[str]], want: int, seed: int) -> set[str]:
    """Identities (in seeded rank order) whose clips fill `want` test slots without overshooting.

    An identity too large for the remaining room is passed over; if no identity fits at all the
    first one in rank order is taken, so a non-zero target never yields an empty test split.
    """
    chosen: set[str] = set()
    if want <= 0:
        return chosen
    taken = 0
    ranked = sorted(by_identity, key=lambda k: _rank(k, seed))
    for ident in ranked:
        n = len(by_identity[ident])
        if taken + n <= want:
            chosen.add(ident)
            taken += n
            if taken == want:
                break
    if not chosen and ranked:
        chosen.add(ranked[0])
    return chosen


def assign_splits(
    clips: Iterable[tuple[str, str | None]], seed: int = 0, num_test: int | None = None
) -> dict[str, str]:
    """Map clip id -> "train" / "test" from (clip_id, identity) pairs.

    No identity is on both sides; `num_test` defaults to `test_size(number of clips)`.
    """
    return assign_splits_given(clips, {}, seed=seed, num_test=num_test)


def assign_splits_given(
    clips: Iterable[tuple[str, str | None]],
    given: Mapping[str, str],
    *,
    seed: int = 0,
    num_test: int | None = None,
) -> dict[str, str]:
    """Like `assign_splits`, respecting splits a release already gives for some clips.

    Clips in `given` keep their split. A clip without one whose identity already has given clips
    joins that identity's side (train when the identity's given clips disagree), so identities
    stay disjoint. The rest are split so that the test side reaches the target in total.
    """
    by_identity: dict[str, list[str]] = defaultdict(list)
    total = 0
    for clip_id, identity in clips:
        by_identity[identity or f"clip:{clip_id}"].append(clip_id)
        total += 1
    want = test_size(total) if num_test is None else num_test
    out: dict[str, str] = {}
    free: dict[str, list[str]] = {}
    given_test = 0
    for ident, ids in by_identity.items():
        sides = {given[c] for c in ids if c in given}
        if not sides:
            free[ident] = ids
            continue
        side = next(iter(sides)) if len(sides) == 1 else "train"
        for c in ids:
            out[c] = given.get(c, side)
            given_test += out[c] == "test"
    test_idents = _pick_test(free, want - given_test, seed) if want > given_test else set()
    for ident, ids in free.items():
        side = "test" if ident in test_idents else "train"
        for c in ids:
            out[c] = side
    return out
