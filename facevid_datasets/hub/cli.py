"""`facevid download`, `facevid extract` and `facevid export`: gated download (Hugging Face Hub or
ModelScope), a release delivered as archives extracted once, and Hub-ready export."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import FaceVidError


def register(app: typer.Typer) -> None:
    """Add the `download` and `export` commands to the `facevid` app."""

    @app.command()
    def download(
        name: str = typer.Argument(..., help="Dataset name, e.g. facevid-1k"),
        out: Path = typer.Option(None, "--out", help="Folder for the files (default: ./<name>)"),
        config: str = typer.Option(None, help="Config whose files are fetched (default: the builder's)"),
        repo_id: str = typer.Option(None, help="Gated Hub dataset repo (default: FACEVID_HUB_REPO_<NAME>)"),
        revision: str = typer.Option(None, help="Branch, tag or commit"),
        token: str = typer.Option(None, help="Hub token (default: HF_TOKEN or `hf auth login`)"),
        workers: int = typer.Option(8, help="Parallel file downloads"),
        source: str = typer.Option("huggingface", "--from", help="huggingface or modelscope (server: "
                                   "MODELSCOPE_ENDPOINT or MODELSCOPE_DOMAIN; token: MODELSCOPE_API_TOKEN)"),
    ) -> None:
        """Download a dataset's files (only those the config needs) from its gated Hub or ModelScope repo, verified."""
        from ..builders import builder_class
        from . import download as hub_download

        try:
            cls = builder_class(name)
            cfg = config or cls.DEFAULT_CONFIG_NAME or "all"
            if cfg == "sample":
                typer.echo(f"{name}: the sample ships with the package; load_dataset({name!r}, 'sample').")
                return
            path = hub_download(name, out or Path(name), config=cfg, repo_id=repo_id, revision=revision,
                                token=token, max_workers=workers, hub=source)  # fmt: skip
        except (FaceVidError, KeyError) as e:
            typer.echo(str(e).strip("'\""), err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{name}/{cfg}: files in {path}\nload with: load_dataset({name!r}, {cfg!r}, data_dir={str(path)!r})")

    @app.command()
    def extract(
        data_dir: Path = typer.Argument(..., help="Folder holding the archives (.tar, .tar.gz, .zip, split parts)"),
        to: str = typer.Option(None, "--to", help="Folder to extract into, outside the release, or 'beside' "
                               "(<data_dir>-extracted; default)"),
        remove_parts: bool = typer.Option(False, help="Delete the parts once the whole archive was read without error"),
    ) -> None:
        """Extract the archives of a release folder once (resumable; parts read in order, never joined)."""
        from ..errors import FaceVidError as _Err
        from ..raw.archives import extraction_dir, finish_release, iter_extract

        try:
            if not data_dir.is_dir():
                raise _Err(f"{data_dir}: no such folder")
            dest = extraction_dir(data_dir, data_dir.parent, to or "beside")
            results = list(iter_extract(data_dir, dest, remove_parts=remove_parts))
            if not results:
                raise _Err(f"{data_dir}: holds no archive (.tar, .tar.gz, .tgz, .zip or their parts)")
            root = finish_release(data_dir, dest)
        except _Err as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(1) from None
        for r in results:
            done = "already extracted" if r.already_done else f"{r.written} files written, {r.skipped} already there"
            refused = f", {len(r.refused)} unsafe members refused" if r.refused else ""
            typer.echo(f"{r.archive.name}: {done}{refused}")
        typer.echo(f"load with: load_dataset(<name>, data_dir={str(root)!r})")

    @app.command()
    def export(
        name: str = typer.Argument(..., help="Dataset name, e.g. facevid-1k"),
        out: Path = typer.Option(..., "--out", help="Folder for README.md and data/<config>/*.parquet"),
        config: str = typer.Option(None, help="Config to export (default: the builder's)"),
        data_dir: str = typer.Option(None, help="Release folder (default: download from the Hub / the sample)"),
        repo_id: str = typer.Option(None, help="Gated Hub repo to build from when no data_dir is given"),
        token: str = typer.Option(None, help="Hub token (default: HF_TOKEN or `hf auth login`)"),
        cache_dir: str = typer.Option(None, help="datasets cache folder"),
        max_shard_size: str = typer.Option("500MB", help="Target size of one Parquet shard (500MB = 500*10^6 B)"),
        num_shards: int = typer.Option(None, help="Shards per split (default: by size, at least 16 when rows allow)"),
        fmt: str = typer.Option("parquet", "--format", help="parquet (typed, Hub-ready), webdataset (tar shards "
                                "of mp4 + json) or litdata (LitData chunks)"),
    ) -> None:
        """Write a built dataset as Parquet (typed, Hub-ready), WebDataset or LitData shards, videos embedded."""
        from .export import export_dataset

        kwargs = {"repo_id": repo_id} if repo_id else {}
        try:
            res = export_dataset(name, out, config=config, data_dir=data_dir, token=token, cache_dir=cache_dir,
                                 max_shard_size=max_shard_size, num_shards=num_shards, fmt=fmt, **kwargs)  # fmt: skip
        except (FaceVidError, KeyError, ValueError) as e:
            typer.echo(str(e).strip("'\""), err=True)
            raise typer.Exit(1) from None
        for cid, path in res.outside:
            typer.echo(f"left out {cid}: {path} lies outside the release folder", err=True)
        for split, paths in res.shards.items():
            typer.echo(f"{split}: {res.rows[split]} rows in {len(paths)} shard(s)")
        if fmt == "litdata":
            typer.echo(f"read with: litdata.StreamingDataset({str(res.out / 'litdata' / res.config / '<split>')!r})")
        else:
            typer.echo(f"card: {res.card}\nload with: datasets.load_dataset({str(res.out)!r})")
        typer.echo("Check the dataset's licence before uploading: several forbid redistribution.")
