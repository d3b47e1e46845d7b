"""`facevid training-copies`: store a dataset's clips once in a training-friendly encoding."""

from __future__ import annotations

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
) -> None:
    """Re-encode a split with short keyframe intervals so random clips decode fast, and save its records
    pointing at the copies to OUT/records.parquet (open it with `datasets.Dataset.from_parquet`)."""
    from ..loading import load_dataset
    from .store import training_copies

    ds = load_dataset(name, config, data_dir=data_dir, split=split)
    copied = training_copies(ds, out / "clips", short_side=short_side or None, gop=gop)
    # Parquet keeps the features and the paths; save_to_disk would embed every video's bytes.
    copied.to_parquet(str(out / "records.parquet"))
    typer.echo(f"{copied.num_rows} clips -> {out / 'clips'}; records in {out / 'records.parquet'}")


def register(app: typer.Typer) -> None:
    """Add the training commands to the `facevid` CLI."""
    app.command("training-copies")(training_copies_cmd)
