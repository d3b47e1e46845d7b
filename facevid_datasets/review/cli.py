"""`facevid review`: the review page of a curated folder or a build cache."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the `review` command to the `facevid` CLI."""

    @app.command()
    def review(
        run: Path = typer.Argument(..., help="A curated folder (facevid curate --out) or a build cache folder"),
        out: Path = typer.Option(..., "--out", help="Folder for index.html and its images"),
        workers: int = typer.Option(None, "--workers", help="Threads drawing thumbnails (default: up to 4)"),
    ) -> None:
        """Write a static page showing why every clip was kept or dropped (or what a build left out)."""
        from . import write_review

        result = write_review(run, out, workers=workers)
        what = f"{result.clips} clips" if result.kind.value == "curation" else \
            f"{result.report_lines} report lines, {result.clips} clips built"  # fmt: skip
        typer.echo(f"review of a {result.kind.value} ({what}): {result.page}  "
                   f"({result.images_written} images drawn, {result.images_reused} reused)")  # fmt: skip
