"""The `facevid` command line. Core commands live here; each area adds its own from a module
exposing `register(app)` (curation, hub access/export, statistics, training tools)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import typer

app = typer.Typer(help="Get, clean and train on talking-face video datasets.", no_args_is_help=True)

# Modules that add commands to `app` through `register(app)`; absent ones are skipped.
COMMAND_MODULES = (
    "facevid_datasets.curation.cli",
    "facevid_datasets.forget_cli",
    "facevid_datasets.hub.cli",
    "facevid_datasets.stats_cli",
    "facevid_datasets.training.cli",
)


@app.command("list")
def list_cmd() -> None:
    """List the datasets this installation can build."""
    from .builders import BUILDERS, available

    have = set(available())
    for name in BUILDERS:
        typer.echo(f"{name:18s} {'available' if name in have else 'coming in a later version'}")


@app.command()
def info(name: str, config: str = typer.Option(None, help="Config name (default: the builder's)")) -> None:
    """Show a dataset's configs, licence, access route and record features."""
    from .builders import builder_class

    cls = builder_class(name)
    typer.echo(f"{cls.NAME}: {(cls.__doc__ or '').strip().splitlines()[0]}")
    typer.echo(f"homepage: {cls.HOMEPAGE}\nlicence:  {cls.LICENSE}")
    typer.echo(f"configs:  {', '.join(c.name for c in cls.BUILDER_CONFIGS)}")
    if cls.ACCESS:
        typer.echo(f"access:   {cls.ACCESS}")
    typer.echo("\n" + importlib.import_module("facevid_datasets.terms").licence_summary(cls.NAME))
    doc = (importlib.import_module(cls.__module__).__doc__ or "").strip()
    if doc:
        typer.echo("\n" + doc)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_out"), help="Folder for the contact sheet and summary"),
    batches: int = typer.Option(4, help="Batches to pull"),
    batch_size: int = typer.Option(4, help="Clips per batch"),
) -> None:
    """Build the embedded sample, load it, pull decoded batches, write a contact sheet PNG."""
    from .demo import run_demo

    summary = run_demo(out, batches=batches, batch_size=batch_size)
    typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))


def _register_plugins() -> None:
    for mod in COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod or (e.name and mod.startswith(e.name)):
                continue
            raise
        module.register(app)


_register_plugins()


def main() -> None:
    """Entry point of `facevid`: known problems end in one clear line on stderr, not a traceback."""
    from .errors import FaceVidError

    try:
        app()
    except (FaceVidError, KeyError, FileNotFoundError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        typer.echo(f"facevid: error: {message}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
