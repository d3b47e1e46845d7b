"""Sampling: which windows of which clips each rank trains on, in what order, and how to resume.

Imports run one way, all over `..plan` (clip plans): `mixing` (the numpy arithmetic of balance) and
`base` (`ClipSampler`: rank layout, elastic state) are leaves; `balanced` (`BalancedSampler`) uses
both; `streaming` (`StreamingClipDataset`, streamed groups mixed per reader) uses `base`.
"""

from .balanced import DEFAULT_MIN_GAP, MISSING_GROUP, BalancedSampler
from .base import ClipSampler, layout_indices, rank_world
from .mixing import GroupShare, format_tally, spread_order, systematic_counts
from .streaming import StreamingClipDataset

__all__ = [
    "DEFAULT_MIN_GAP",
    "MISSING_GROUP",
    "BalancedSampler",
    "ClipSampler",
    "GroupShare",
    "StreamingClipDataset",
    "format_tally",
    "layout_indices",
    "rank_world",
    "spread_order",
    "systematic_counts",
]
