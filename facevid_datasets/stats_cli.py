"""`facevid stats`: the paper's dataset statistics as text, PNG plots and a JSON summary."""

from __future__ import annotations

from pathlib import Path

import typer

from .errors import FaceVidError


def register(app: typer.Typer) -> None:
    """Add the `stats` command to the `facevid` app."""

    @app.command()
    def stats(
        name: str = typer.Argument(..., help="Dataset name, e.g. facevid-1k"),
        config: str = typer.Option(None, help="Config (default: the builder's)"),
        data_dir: str = typer.Option(None, help="Release folder (default: the sample / the Hub)"),
        split: str = typer.Option(None, help="One split only (default: all)"),
        out: Path = typer.Option(None, "--out", help="Folder for summary.json and PNGs (default: stats_<name>)"),
        cache_dir: str = typer.Option(None, help="datasets cache folder"),
        repo_id: str = typer.Option(None, help="Gated Hub repo to build from when no data_dir is given"),
        token: str = typer.Option(None, help="Hub token (default: HF_TOKEN or `hf auth login`)"),
    ) -> None:
        """Print clips, hours, identities and the label, duration, resolution and BRISQUE distributions."""
        from .loading import load_dataset
        from .stats import format_stats, write_stats

        kwargs = {"repo_id": repo_id} if repo_id else {}
        try:
            ds = load_dataset(name, config, data_dir=data_dir, split=split, cache_dir=cache_dir, token=token, **kwargs)
        except (FaceVidError, KeyError) as e:
            typer.echo(str(e).strip("'\""), err=True)
            raise typer.Exit(1) from None
        from .builders import description

        desc = description(name)
        folder = out or Path(f"stats_{name}" + (f"_{config}" if config else ""))
        summary = write_stats(ds, folder, title=f"{desc.title}" + (f"/{config}" if config else ""))
        typer.echo(format_stats(summary))
        if desc.clips:
            typer.echo(f"{desc.title} as published: {desc.clips:,} clips; built here: {summary['clips']:,}")
        typer.echo(f"summary: {folder / 'summary.json'}")
        typer.echo(f"plots: {folder / 'overview.png'} and {len(summary['plots']) - 1} more in {folder}")
