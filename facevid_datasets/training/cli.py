"""`facevid training-copies`: store a dataset's clips once in a training-friendly encoding."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def training_copies_cmd(
    name: str = typer.Argument(..., help="Dataset name, e.g. facevid-1k"),
    out: Path = typer.Option(..., help="Folder for the copies and the saved dataset"),
    config: str = typer.Option(None, help="Config name"),
    data_dir: str = typer.Option(None, help="The release's folder (as for load_dataset)"),
    split: str = typer.Option("train", help="Split to convert"),
    short_side: int = typer.Option(512, help="Short side of the copies in pixels (0: keep the size)"),
    gop: int = typer.Option(16, help="Keyframe interval of the copies in frames"),
    workers: int = typer.Option(0, help="FFmpeg processes at once (0: one per core)"),
    ray_address: str = typer.Option(None, help="Run the encodes as Ray tasks: 'local', 'auto' or ray://host:port"),
    progress: bool = typer.Option(True, help="Show a progress bar"),
) -> None:
    """Re-encode a split with short keyframe intervals so random clips decode fast, and save its records
    pointing at the copies to OUT/records.parquet (open it with `datasets.Dataset.from_parquet`).
    A killed run resumes: finished copies are kept and reused."""
    from ..loading import load_dataset
    from .store import CopyReport, training_copies

    ds = load_dataset(name, config, data_dir=data_dir, split=split)
    report = CopyReport()
    copied = training_copies(ds, out / "clips", short_side=short_side or None, gop=gop, workers=workers or None,
                             progress=progress, ray_address=ray_address, report=report)
    # Parquet keeps the features and the paths; save_to_disk would embed every video's bytes.
    tmp = out / f"records.parquet.{os.getpid()}.tmp"
    copied.to_parquet(str(tmp))
    os.replace(tmp, out / "records.parquet")
    typer.echo(f"{copied.num_rows} clips -> {out / 'clips'}; records in {out / 'records.parquet'}")
    typer.echo(report.summary())


def register(app: typer.Typer) -> None:
    """Add the training commands to the `facevid` CLI."""
    app.command("training-copies")(training_copies_cmd)
