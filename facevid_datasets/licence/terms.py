"""Licence terms where the user works: the summary from a dataset's card, shown once per release folder.

On the Hub a gated repo shows its terms before access is granted; a release obtained through an
application form and loaded from a folder shows nothing. Every builder of a dataset whose
description says `gated` (DH-FaceVid-1K, the CelebV sets, VoxCeleb2, ...) calls `announce_terms`
when it starts a build: `terms_notice_once` returns the card's terms (its `extra_gated_prompt`)
the first time a release folder is built, and then never again for that folder (a marker file in
the cache, keyed by the folder's resolved path). `facevid info NAME` prints `licence_summary(NAME)`.
"""

from __future__ import annotations

import hashlib
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import cache_paths
from ..description import DatasetDescription


def _describe(dataset: DatasetDescription | str) -> DatasetDescription:
    if isinstance(dataset, DatasetDescription):
        return dataset
    from ..builders import description

    return description(dataset)


def card_path(dataset: DatasetDescription | str) -> Path:
    """The dataset card of a dataset (its description's `card_path`)."""
    return _describe(dataset).card_path


def _card_data(dataset: DatasetDescription | str) -> dict[str, Any]:
    from huggingface_hub import DatasetCard

    d = _describe(dataset)
    path = d.card_path
    if not path.is_file():
        raise KeyError(f"{d.name}: no dataset card at {path}")
    return DatasetCard.load(path).data.to_dict()


def is_gated(dataset: DatasetDescription | str) -> bool:
    """Whether the dataset's terms go beyond an open licence (its description's `gated`)."""
    return _describe(dataset).gated


def licence_summary(dataset: DatasetDescription | str, width: int = 100) -> str:
    """The licence and the terms users agree to (the card's gating prompt), with where to read them in full."""
    d = _describe(dataset)
    data = _card_data(d)
    title = data.get("pretty_name") or d.title
    licence = data.get("license_name") or data.get("license") or d.licence
    lines = [f"{title} licence: {licence}"]
    prompt = (data.get("extra_gated_prompt") or "").strip()
    if prompt:
        lines += textwrap.wrap(prompt, width=width)
    where = f"Full terms: the dataset card {d.card_path} (section 'Intended use and restrictions')"
    link = data.get("license_link")
    lines.append(where + (f" and {link}" if link else ""))
    return "\n".join(lines)


def terms_notice_once(dataset: DatasetDescription | str, root: str | Path, cache_dir: str | Path) -> str | None:
    """The licence summary the first time release folder `root` of a gated dataset is built, else None.

    The marker `<cache_dir>/facevid_terms/<name>-<hash of the resolved root>` records that it was shown.
    """
    d = _describe(dataset)
    if not d.gated:
        return None
    resolved = str(Path(root).expanduser().resolve())
    key = hashlib.sha256(resolved.encode()).hexdigest()[:16]
    marker = cache_paths.terms_marker(cache_dir, d.name, key)
    if marker.exists():
        return None
    text = licence_summary(d)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{resolved}\nshown {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    return text


def announce_terms(builder: Any) -> str | None:
    """Builder hook: print the terms to stderr on the first build of a gated dataset from a folder (`data_dir`)."""
    data_dir = builder.config.data_dir
    if not data_dir or builder.config.name == "sample":
        return None
    text = terms_notice_once(builder.DESCRIPTION, data_dir, cache_paths.cache_root(builder))
    if text:
        print(f"\n{text}\n", file=sys.stderr)
    return text
