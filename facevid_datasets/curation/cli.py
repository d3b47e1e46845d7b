"""`facevid curate`: clean a built dataset into a curated folder (see `pipeline.py` for its layout)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import typer

from ..raw.layout import VIDEO_EXTENSIONS


def register(app: typer.Typer) -> None:
    """Add the `curate` command to the `facevid` CLI."""

    @app.command()
    def curate(
        name: str = typer.Argument(..., help="Dataset name (facevid list), or a folder of video files"),
        out: Path = typer.Option(..., "--out", help="Curated output folder (also the measurement cache)"),
        data_dir: str = typer.Option(None, "--data-dir", help="Where the dataset's files are"),
        config_name: str = typer.Option(None, "--config", help="Builder config (default: the builder's)"),
        split: str = typer.Option(None, "--split", help="Only this split (default: all)"),
        workers: int = typer.Option(None, "--workers", help="Processes on this machine (default: all cores)"),
        ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster address, or 'local'"),
        threshold: list[str] = typer.Option([], "--threshold", help="name=value, e.g. max_brisque=50 (repeat)"),
        model: list[str] = typer.Option([], "--model", help="kind=spec, e.g. sync=mypkg.syncnet:load (repeat)"),
        limit: int = typer.Option(None, "--limit", help="Only the first N clips"),
    ) -> None:
        """Measure every clip (scene cuts, faces, borders, subtitles, BRISQUE, lip sync, head pose,
        keypoints), decide keep/drop with reasons, write decisions.parquet and the kept records."""
        from ..errors import FaceVidError
        from . import MeasureConfig, Thresholds, curate_dataset
        from . import curate as curate_inputs
        from .pipeline import is_inside, list_videos

        try:
            thresholds = Thresholds.from_strings(threshold)
            config = MeasureConfig(models=dict(_pair(m) for m in model))
            config.check_models()  # a plugin that cannot load: one line, before any output is touched
            if limit is not None and limit < 1:
                raise ValueError(f"--limit {limit}: give 1 or more clips")
        except ValueError as e:
            _fail(str(e))
        kwargs = dict(thresholds=thresholds, config=config, workers=workers, ray_address=ray_address, limit=limit)
        folder = Path(name)
        try:
            if folder.is_dir() and data_dir is None:
                listing = list_videos(folder, out)
                if is_inside(out, folder):
                    typer.echo(f"facevid curate: note: --out {out} is inside the input folder; its files are not "
                               "read as input", err=True)  # fmt: skip
                for d in listing.skipped:
                    if not is_inside(d, out):
                        typer.echo(f"facevid curate: note: skipped {d}: a curated folder, not input", err=True)
                if not listing.videos:
                    left = f" (left out, written by facevid: {', '.join(map(str, listing.skipped))})"
                    _fail(f"{folder}: no video files ({', '.join(VIDEO_EXTENSIONS)}) to curate"
                          f"{left if listing.skipped else ''}")  # fmt: skip
                result = curate_inputs(listing.videos, out, **kwargs)
            else:
                if data_dir is not None and is_inside(out, data_dir):
                    _fail(f"--out {out} is inside the release folder {data_dir}: nothing is written into a "
                          "release; give a folder outside it")  # fmt: skip
                result = curate_dataset(name, out, data_dir=data_dir, config_name=config_name, split=split, **kwargs)
        except FaceVidError as e:
            _fail(str(e))
        s = result.summary
        typer.echo(
            f"{s['inputs']} clips ({s['split']} split into {s['segments']} segments): "
            f"{s['kept']} kept, {s['dropped']} dropped; measured {result.measured}, reused {result.reused}, "
            f"{result.seconds:.1f} s"
        )
        for stage, n in s["dropped_by_stage"].items():
            typer.echo(f"  dropped at {stage:11s} {n}")
        total = result.stage_seconds.get("total") or 1.0
        shares = {k: round(100 * v / total, 1) for k, v in result.stage_seconds.items() if k != "total"}
        typer.echo("time per stage (% of measuring time): " + json.dumps(shares))
        typer.echo(f"decisions: {result.decisions_path}")


def _fail(message: str) -> NoReturn:
    """End the command with one line on stderr and exit status 1."""
    typer.echo(f"facevid: error: {message}", err=True)
    raise typer.Exit(1)


def _pair(text: str) -> tuple[str, str]:
    kind, sep, spec = text.partition("=")
    if not sep or not spec:
        raise ValueError(f"bad --model {text!r}: use kind=spec")
    return kind.strip(), spec.strip()
