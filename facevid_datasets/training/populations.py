"""Reference population tables for population-proportional mixing (DH-FaceVid-1K appendix I).

The tables ship in `facevid_datasets/data/populations.json`, each with its source, year and
caveats; `population_shares` turns one into group shares, and a user dict replaces it entirely.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

#: Which shipped table a sampler column uses when the caller names none.
DEFAULT_TABLE_FOR_COLUMN = {"attributes.ethnicity": "ethnicity", "ethnicity": "ethnicity"}


@lru_cache(maxsize=1)
def population_tables() -> dict[str, dict[str, Any]]:
    """All shipped tables, keyed by name, with their citations."""
    text = resources.files("facevid_datasets").joinpath("data/populations.json").read_text(encoding="utf-8")
    return json.loads(text)


def population_shares(table: str | Mapping[str, float]) -> dict[str, float]:
    """Group shares (summing to 1) from a shipped table's name or from a user dict {group: size}."""
    if isinstance(table, Mapping):
        sizes = {str(k): float(v) for k, v in table.items()}
    else:
        tables = population_tables()
        if table not in tables:
            raise KeyError(f"no population table {table!r}; shipped: {sorted(tables)} (or pass a dict)")
        t = tables[table]
        sizes = {g: float(sum(t["regions"][r] for r in regions)) for g, regions in t["groups"].items()}
    bad = {k: v for k, v in sizes.items() if v < 0}
    if bad or not sum(sizes.values()):
        raise ValueError(f"population sizes must be non-negative and not all zero: {bad or sizes}")
    total = sum(sizes.values())
    return {k: v / total for k, v in sizes.items()}


def citation(table: str) -> str:
    """Source line of a shipped table (for logs and reports)."""
    t = population_tables()[table]
    return f"{t['source']} ({t['year']})"
