"""Measure clips on a Ray cluster with Ray Data: the same `measure_clip` as the local pool.

Workers must be able to read the input video paths (shared storage or the same paths on every
node); their results travel back to the driver, which writes the measurement cache, so the
output folder only has to exist where `facevid curate` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .measure import ClipInput, MeasureConfig, measure_clip
from .measurements import MeasurementStore
from .models import ModelLoadError


def _measure_row(row: dict[str, Any], config: MeasureConfig) -> dict[str, Any]:
    """Ray Data map function: one clip row in, its clip id and measurement bytes out."""
    clip = ClipInput(row["clip_id"], row["video"], row["audio"] or None)
    return {"clip_id": row["clip_id"], "payload": measure_clip(clip, config)}


def run_ray(
    clips: list[ClipInput],
    config: MeasureConfig,
    store: MeasurementStore,
    keys: dict[str, str],
    address: str,
    on_result: Callable[[str], None] | None = None,
    progress: bool = True,
) -> None:
    """Measure `clips` with Ray Data on the cluster at `address` ("local" starts a local Ray);
    results are stored as they stream back, so an interrupted run resumes like a local one."""
    import ray
    from tqdm.auto import tqdm

    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    items = [{"clip_id": c.clip_id, "video": c.video, "audio": c.audio or ""} for c in clips]
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 10_000)))
    ds = ds.map(_measure_row, fn_kwargs={"config": config}, num_cpus=1)
    with tqdm(total=len(items), desc="measuring (ray)", unit="clip", disable=not progress) as bar:
        try:
            for row in ds.iter_rows():
                store.save(keys[row["clip_id"]], bytes(row["payload"]))
                bar.update(1)
                if on_result is not None:
                    on_result(row["clip_id"])
        except Exception as e:
            err = _model_error(e)
            if err is None:
                raise
            raise ModelLoadError(str(err.args[0]) if err.args else str(err)) from None


def _model_error(e: BaseException | None) -> ModelLoadError | None:
    """The `ModelLoadError` a Ray worker raised, found inside Ray's wrapping (`RayTaskError.cause`,
    `__cause__`), so the driver reports the model's one line rather than a remote traceback."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        cause = getattr(e, "cause", None)
        if isinstance(cause, ModelLoadError):
            return cause
        if isinstance(e, ModelLoadError) and not isinstance(cause, BaseException):
            return e
        e = cause if isinstance(cause, BaseException) else e.__cause__
    return None
