"""`facevid forget`: carry a deletion request into every copy of a dataset this package made."""

from __future__ import annotations

from pathlib import Path

import typer


def forget_cmd(
    name: str = typer.Argument(..., help="Dataset name, e.g. facevid-1k"),
    ids: Path = typer.Option(None, "--ids", help="Deletion list: one clip id or source video id a line, # comments"),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="datasets cache used for builds (default: HF's)"),
    also: list[Path] = typer.Option([], "--also", help="Another folder to clean: curated, training copies, exports"),
    delete_source: bool = typer.Option(False, "--delete-source", help="Delete from the release (--root) too"),
    root: Path = typer.Option(None, "--root", help="The release folder (its deletions.txt is applied too)"),
    repo_id: str = typer.Option(None, "--repo-id", help="Gated Hub repo whose deletions.txt is applied too"),
    check: bool = typer.Option(
        False, "--check", help="Change nothing; list copies still present (exit 1 if any, or if a file is unreadable)"
    ),
    audit_log: Path = typer.Option(None, "--audit-log", help="Audit log (default: <cache>/facevid_forget/audit.jsonl)"),
) -> None:
    """Remove listed clips from the build cache, probe cache, curation, training copies, exports and reports,
    and append one audit line per listed id. The lists of --root (its deletions.txt) and of the gated
    --repo-id are applied too."""
    from .. import cache_paths
    from ..errors import FaceVidError
    from .deletions import DeletionList, load_deletions
    from .forget import default_cache_dir, forget

    if delete_source and root is None:
        typer.echo("facevid forget: --delete-source needs --root (the release folder to delete from)", err=True)
        raise typer.Exit(2)
    if ids is None and root is None and repo_id is None:
        typer.echo("facevid forget: give the deletion list with --ids FILE (or --root / --repo-id)", err=True)
        raise typer.Exit(2)
    hub_dir = cache_paths.hub_dir(cache_dir or default_cache_dir(), repo_id) if repo_id else None
    try:
        deletions = load_deletions(name, ids=ids if ids is not None else DeletionList(), root=root, repo_id=repo_id,
                                   hub_dir=hub_dir, strict=True)  # fmt: skip
        res = forget(name, deletions, cache_dir=cache_dir, extra_dirs=also, delete_source=delete_source,
                     release_root=root, check=check, audit_log=audit_log)  # fmt: skip
    except (FaceVidError, KeyError) as e:  # one line naming the file or repo, never a traceback
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        typer.echo(f"facevid forget: {' '.join(str(message).split())}", err=True)
        raise typer.Exit(1) from None
    typer.echo(res.summary())
    if check and (res.present or res.unchecked):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `forget` to the `facevid` CLI."""
    app.command("forget")(forget_cmd)
