"""`load_dataset` shaped like `datasets.load_dataset`, for the datasets this package builds."""

from __future__ import annotations

import logging
from typing import Any

import datasets

from .builders import available, builder_class, is_known

logger = logging.getLogger(__name__)


def list_datasets() -> list[str]:
    """Names of the datasets this installation can build."""
    return available()


def load_builder(
    path: str,
    name: str | None = None,
    *,
    data_dir: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | None = None,
    **config_kwargs: Any,
) -> datasets.DatasetBuilder:
    """Instantiate the builder of dataset `path` with config `name` (not yet prepared)."""
    cls = builder_class(path)
    return cls(config_name=name, data_dir=data_dir, cache_dir=cache_dir, token=token, **config_kwargs)


def load_dataset(
    path: str,
    name: str | None = None,
    *,
    data_dir: str | None = None,
    split: str | datasets.Split | None = None,
    token: str | bool | None = None,
    streaming: bool = False,
    cache_dir: str | None = None,
    num_proc: int | None = None,
    download_mode: datasets.DownloadMode | str | None = None,
    verification_mode: datasets.VerificationMode | str | None = None,
    keep_in_memory: bool | None = None,
    **config_kwargs: Any,
) -> datasets.DatasetDict | datasets.Dataset | datasets.IterableDatasetDict | datasets.IterableDataset:
    """Build (or reuse from cache) dataset `path`, config `name`; returns `datasets` types.

    Names this package does not know are handed to `datasets.load_dataset`, so a Hub export
    of these datasets loads the same way. `download_mode`, `verification_mode` and
    `keep_in_memory` mean what they mean there. Clips named in the release's or the gated repo's
    `deletions.txt` (or forgotten with `facevid forget`) are never built and never returned.
    """
    if not is_known(path):
        return datasets.load_dataset(
            path, name, data_dir=data_dir, split=split, token=token, streaming=streaming,
            cache_dir=cache_dir, num_proc=num_proc, download_mode=download_mode,
            verification_mode=verification_mode, keep_in_memory=keep_in_memory, **config_kwargs,
        )  # fmt: skip
    from .licence.deletions import apply_shipped_deletions

    builder = load_builder(path, name, data_dir=data_dir, token=token, cache_dir=cache_dir, **config_kwargs)
    if streaming:
        return apply_shipped_deletions(builder, builder.as_streaming_dataset(split=split))
    builder.download_and_prepare(num_proc=num_proc, download_mode=download_mode, verification_mode=verification_mode)
    report = getattr(builder, "report", None)
    if report is not None and report.rows():
        logger.warning("%s/%s: %s", path, builder.config.name, report.summary())
    from datasets.utils.info_utils import is_small_dataset

    in_memory = is_small_dataset(builder.info.dataset_size) if keep_in_memory is None else keep_in_memory
    # deletion lists apply to every load, also over a cache built before the list arrived
    return apply_shipped_deletions(builder, builder.as_dataset(split=split, in_memory=in_memory))
