"""The `facevid` command line. Core commands live here; each area adds its own from a module
exposing `register(app)` (curation, hub access/export, statistics, training tools).

Those modules are imported only when their command runs (`LAZY_COMMANDS` names them with their
one-line help), so `facevid --help` and `facevid list` start without torch or OpenCV."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

#: command -> (module exposing `register(app)`, the one-line help shown by `facevid --help`)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "curate": ("facevid_datasets.curation.cli", "Measure every clip and decide keep/drop with reasons."),
    "download": ("facevid_datasets.hub.cli", "Download a dataset's files from its gated Hub repo, verified."),
    "export": ("facevid_datasets.hub.cli", "Write a built dataset as Parquet, WebDataset or LitData shards."),
    "forget": ("facevid_datasets.licence.cli", "Remove clips named in a deletion list from every copy made of them."),
    "stats": ("facevid_datasets.stats_cli", "Print the paper's distributions; write plots and a JSON summary."),
    "training-copies": ("facevid_datasets.training.cli", "Re-encode a split with short GOPs for fast random clips."),
}


def load_command(name: str) -> click.Command:
    """The real click command `name` of `LAZY_COMMANDS` (imports its module now)."""
    module = importlib.import_module(LAZY_COMMANDS[name][0])
    sub = typer.Typer()
    module.register(sub)
    group = typer.main.get_group(sub)
    cmd = group.commands.get(name)
    if cmd is None:
        raise RuntimeError(f"{module.__name__}.register() added no command {name!r}")
    return cmd


class _LazyCommand(click.Command):
    """Stands for a command in the listing; turns into the real one when it is invoked."""

    def __init__(self, name: str):
        super().__init__(name, help=LAZY_COMMANDS[name][1], short_help=LAZY_COMMANDS[name][1])

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        return load_command(self.name or "").make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """The `facevid` group: core commands eagerly, the others from `LAZY_COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        core = super().list_commands(ctx)
        return core + [n for n in LAZY_COMMANDS if n not in core]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in LAZY_COMMANDS:
            return _LazyCommand(cmd_name)
        return cmd


app = typer.Typer(help="Get, clean and train on talking-face video datasets.", no_args_is_help=True,
                  cls=LazyGroup)


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
    d = cls.DESCRIPTION
    typer.echo(f"{d.name}: {(cls.__doc__ or '').strip().splitlines()[0]}")
    typer.echo(f"homepage: {d.homepage}\nlicence:  {d.licence}")
    typer.echo(f"configs:  {', '.join(c.name for c in cls.BUILDER_CONFIGS)}")
    if d.clips:
        typer.echo(f"size:     {d.clips:,} clips as published")
    for what, repo in (("hub repo", d.hub_repo), ("modelscope", d.modelscope_repo),
                       ("sample", d.hub_sample_repo), ("sample (modelscope)", d.modelscope_sample_repo)):  # fmt: skip
        if repo:
            typer.echo(f"{what}: {repo}")
    if d.application_form:
        typer.echo(f"apply:    {d.application_form}")
    if d.access:
        typer.echo(f"access:   {d.access}")
    typer.echo("\n" + importlib.import_module("facevid_datasets.licence.terms").licence_summary(d))
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
