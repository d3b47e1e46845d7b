"""Deterministic, identity-disjoint held-out splits (the paper's protocol: 2,048 test clips)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

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


def assign_splits(
    clips: Iterable[tuple[str, str | None]], seed: int = 0, num_test: int | None = None
) -> dict[str, str]:
    """Map clip id -> "train" / "test" from (clip_id, identity) pairs.

    Identities are ordered by a seeded hash and taken whole into the test split until it holds at
    least `num_test` clips, so no identity is on both sides and the result does not depend on
    file order. Clips without an identity count as their own identity.
    """
    by_identity: dict[str, list[str]] = defaultdict(list)
    for clip_id, identity in clips:
        by_identity[identity or f"clip:{clip_id}"].append(clip_id)
    total = sum(len(v) for v in by_identity.values())
    want = test_size(total) if num_test is None else num_test
    out: dict[str, str] = {}
    taken = 0
    for ident in sorted(by_identity, key=lambda k: _rank(k, seed)):
        side = "test" if taken < want else "train"
        if side == "test":
            taken += len(by_identity[ident])
        for cid in by_identity[ident]:
            out[cid] = side
    return out
