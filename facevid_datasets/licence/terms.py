"""Licence terms where the user works: the summary from a dataset's card, shown once per release folder.

On the Hub a gated repo shows its terms before access is granted; a release obtained through an
application form and loaded from a folder shows nothing. `terms_notice_once` returns the card's
terms (its `extra_gated_prompt`) the first time a release folder is built, and then never again for
that folder (a marker file in the cache, keyed by the folder's resolved path). `facevid info NAME`
prints `licence_summary(NAME)`.
"""

from __future__ import annotations

import hashlib
import sys
import textwrap
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any


def card_path(name: str) -> Path:
    """The dataset card shipped with the package (`dataset_cards/<name>.md`)."""
    return Path(str(files("facevid_datasets.dataset_cards") / f"{name.replace('_', '-').lower()}.md"))


def _card_data(name: str) -> dict[str, Any]:
    from huggingface_hub import DatasetCard

    path = card_path(name)
    if not path.is_file():
        raise KeyError(f"{name}: no dataset card at {path}")
    return DatasetCard.load(path).data.to_dict()


def is_gated(name: str) -> bool:
    """Whether the dataset's terms go beyond an open licence (card licence `other` with gating terms)."""
    data = _card_data(name)
    licences = data.get("license") if isinstance(data.get("license"), list) else [data.get("license")]
    return "other" in licences and bool(data.get("extra_gated_prompt"))


def licence_summary(name: str, width: int = 100) -> str:
    """The licence and the terms users agree to (the card's gating prompt), with where to read them in full."""
    data = _card_data(name)
    title = data.get("pretty_name") or name
    licence = data.get("license_name") or data.get("license") or "see the card"
    lines = [f"{title} licence: {licence}"]
    prompt = (data.get("extra_gated_prompt") or "").strip()
    if prompt:
        lines += textwrap.wrap(prompt, width=width)
    where = f"Full terms: the dataset card {card_path(name)} (section 'Intended use and restrictions')"
    link = data.get("license_link")
    lines.append(where + (f" and {link}" if link else ""))
    return "\n".join(lines)


def terms_notice_once(name: str, root: str | Path, cache_dir: str | Path) -> str | None:
    """The licence summary the first time release folder `root` of a gated dataset is built, else None.

    The marker `<cache_dir>/facevid_terms/<name>-<hash of the resolved root>` records that it was shown.
    """
    if not is_gated(name):
        return None
    resolved = str(Path(root).expanduser().resolve())
    key = hashlib.sha256(resolved.encode()).hexdigest()[:16]
    marker = Path(cache_dir) / "facevid_terms" / f"{name}-{key}"
    if marker.exists():
        return None
    text = licence_summary(name)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{resolved}\nshown {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    return text


def announce_terms(builder: Any) -> str | None:
    """Builder hook: print the terms to stderr on the first build of a gated dataset from a folder (`data_dir`)."""
    data_dir = builder.config.data_dir
    if not data_dir or builder.config.name == "sample":
        return None
    text = terms_notice_once(builder.NAME, data_dir, builder._cache_dir_root)
    if text:
        print(f"\n{text}\n", file=sys.stderr)
    return text
