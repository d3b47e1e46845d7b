"""When a clip fails to decode: draw a replacement from the same group, and count every failure.

`Replacer` is the collator's replacement hook: it asks the sampler for another row of the failed
clip's group (`BalancedSampler.replacement_row`, drawn by usable duration, so the balance holds)
or, without such a sampler, a uniformly random row, and plans it with the failed slot's epoch and
position (so `mark_consumed` and resume count the slot as served). It is picklable, so it works the
same inside DataLoader workers. `EpochReport` folds the `errors` of each batch into counts by file
and reason; `clip_loader` keeps one per epoch (also when workers decode).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .plan import ClipPlan, Draw


@dataclass
class Replacer:
    """Replacement plans for failed clips of a map-style `dataset` (items are `Draw`able rows)."""

    dataset: Any
    sampler: Any = None
    seed: int = 0

    def row_for(self, plan: ClipPlan, attempt: int) -> int:
        """The row that replaces `plan` at `attempt` (1, 2, ...), deterministic for a given slot."""
        rng = np.random.default_rng([self.seed, max(plan.row, 0), plan.epoch, plan.position + 1, attempt])
        pick = getattr(self.sampler, "replacement_row", None)
        if pick is not None and plan.row >= 0:
            return int(pick(plan.row, rng))
        n = len(self.dataset)
        if n <= 1:
            return 0
        row = int(rng.integers(n - 1))
        return row + 1 if plan.row >= 0 and row >= plan.row else row  # another row than the failed one

    def __call__(self, plan: ClipPlan, attempt: int) -> ClipPlan:
        row = self.row_for(plan, attempt)
        key = int(np.random.default_rng([self.seed, plan.position + 1, attempt, row]).integers(2**62))
        new = self.dataset[Draw(row, plan.epoch, plan.position, key)]
        new.epoch, new.position = plan.epoch, plan.position
        return new


@dataclass
class EpochReport:
    """Clips that failed this epoch, with file and reason, and how their slots were filled."""

    batches: int = 0
    clips: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    replaced: int = 0  # slots served by a replacement clip or a copy of another clip of the batch

    def add(self, batch: Mapping[str, Any]) -> None:
        """Count one batch (its `errors` list and `replaced` mask)."""
        self.batches += 1
        self.clips += len(batch.get("clip_id") or ())
        self.failures.extend(batch.get("errors") or ())
        rep = batch.get("replaced")
        if rep is not None:
            self.replaced += int(sum(bool(r) for r in (rep.tolist() if hasattr(rep, "tolist") else rep)))

    def extend(self, failures: Sequence[Mapping[str, Any]]) -> None:
        self.failures.extend(dict(f) for f in failures)

    @property
    def by_file(self) -> Counter:
        return Counter(f["file"] for f in self.failures)

    @property
    def by_reason(self) -> Counter:
        return Counter(f["reason"] for f in self.failures)

    def summary(self, top: int = 5) -> str:
        """One paragraph: counts, then the files that failed most with their last reason."""
        if not self.failures:
            return f"{self.batches} batches, {self.clips} clips, no decode failures"
        last = {f["file"]: f["reason"] for f in self.failures}
        lines = [f"{self.batches} batches, {self.clips} clips: {len(self.failures)} decode failures in "
                 f"{len(last)} files, {self.replaced} slots filled by replacements"]
        lines += [f"  {n}x {path}: {last[path]}" for path, n in self.by_file.most_common(top)]
        return "\n".join(lines)
