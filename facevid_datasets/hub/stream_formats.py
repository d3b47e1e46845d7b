"""Streaming exports beside Parquet: WebDataset tar shards and LitData chunks, and reading them back.

Both writers have the interface of the Parquet one (`hub.export.EXPORT_WRITERS`): `(ds, folder,
split, num_shards, progress) -> [Shard]`, each shard a file with the clip ids it holds, which the
export records on the ledger of copies.

Object-storage trainers stream one of these rather than Parquet. Each sample holds the clip's
video (`mp4`), its audio file when the audio is separate (`wav` / `m4a` / ...), and the record's
other fields as `json`, so the `webdataset` and `litdata` libraries read an export with no code of
this package; `stream_records` turns either back into records a `ClipDataset` streams, one shard
per tar or LitData chunk, so ranks and DataLoader workers split by shard.

WebDataset keys must not contain dots (the library splits a member's name at the first dot), so a
key is the clip id with every character outside [A-Za-z0-9_-] replaced; the real id is in the json.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MEDIA = ("video", "audio")


def sample_key(clip_id: str, taken: set[str]) -> str:
    """A WebDataset-safe, unique key for `clip_id` (dots and slashes replaced; a suffix on collision)."""
    base = re.sub(r"[^A-Za-z0-9_-]", "_", clip_id) or "clip"
    key, n = base, 1
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    taken.add(key)
    return key


def _media_bytes(cell: Mapping[str, Any] | None) -> tuple[bytes | None, str | None]:
    """(bytes, extension) of a `Video`/`Audio` cell read with decode=False."""
    if not cell:
        return None, None
    path = cell.get("path")
    ext = (Path(path).suffix.lstrip(".").lower() if path else "") or None
    if cell.get("bytes") is not None:
        return bytes(cell["bytes"]), ext
    if path and os.path.isfile(path):
        return Path(path).read_bytes(), ext
    return None, ext


def sample_of(row: Mapping[str, Any]) -> tuple[dict[str, bytes], dict[str, Any]]:
    """A record as (media members by extension, json fields). Audio inside the video stays there."""
    video, vext = _media_bytes(row.get("video"))
    if video is None:
        raise ValueError(f"record {row.get('clip_id')!r} has no video bytes or readable file")
    members = {vext or "mp4": video}
    fields = {k: v for k, v in row.items() if k not in _MEDIA}
    fields["video_ext"] = vext or "mp4"
    if row.get("audio_source") == "file":
        audio, aext = _media_bytes(row.get("audio"))
        if audio is None:
            raise ValueError(f"record {row.get('clip_id')!r}: its separate audio file is not readable "
                             f"({(row.get('audio') or {}).get('path')})")  # fmt: skip
        aext = aext if aext and aext not in members else "audio"
        members[aext] = audio
        fields["audio_ext"] = aext
    return members, fields


@dataclass(frozen=True)
class Shard:
    """One file an export writer wrote, with the clip ids it holds (what the ledger records)."""

    path: Path
    ids: tuple[str, ...]


def progress_bar(total: int, fmt: str, split: str, progress: bool) -> Any:
    """The one progress bar every export writer shows (clips written of the split)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"{fmt} {split}", unit="clip", disable=not progress)


def write_webdataset_shards(ds: Any, out_dir: str | Path, split: str, num_shards: int,
                            progress: bool = True) -> list[Shard]:  # fmt: skip
    """Write `ds` (a `datasets.Dataset` with decode=False media) as `num_shards` tar shards
    `<split>-0000i-of-0000n.tar` in `out_dir`: per clip its video, its separate audio file, and json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{split}-*.tar"):  # an earlier export's shards of this split
        old.unlink()
    n = max(1, min(num_shards, len(ds)))
    taken: set[str] = set()
    shards = []
    with progress_bar(len(ds), "webdataset", split, progress) as bar:
        for i in range(n):
            part = ds.shard(num_shards=n, index=i, contiguous=True)
            path = out_dir / f"{split}-{i:05d}-of-{n:05d}.tar"
            tmp = path.with_suffix(".tar.tmp")
            ids = []
            with tarfile.open(tmp, "w") as tar:
                for row in part:
                    members, fields = sample_of(row)
                    key = sample_key(str(row.get("clip_id")), taken)
                    payloads = {**members, "json": json.dumps(fields, ensure_ascii=False, default=str).encode()}
                    for ext, data in payloads.items():
                        info = tarfile.TarInfo(f"{key}.{ext}")
                        info.size, info.mtime, info.mode = len(data), 0, 0o644
                        tar.addfile(info, io.BytesIO(data))
                    ids.append(str(row.get("clip_id")))
                    bar.update(1)
            tmp.replace(path)
            shards.append(Shard(path, tuple(ids)))
    return shards


def write_litdata(ds: Any, out_dir: str | Path, split: str, num_shards: int, progress: bool = True) -> list[Shard]:
    """Write `ds` as `num_shards` LitData chunks in `out_dir/split` (readable by `litdata.StreamingDataset`):
    items {key, video, audio (b"" when the audio is in the video), json}."""
    from litdata.streaming.writer import BinaryWriter

    folder = Path(out_dir) / split
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("chunk-*.bin"), folder / "index.json"]:
        old.unlink(missing_ok=True)
    n = max(1, min(num_shards, len(ds)))
    writer = BinaryWriter(str(folder), chunk_size=math.ceil(len(ds) / n))
    ids = []
    with progress_bar(len(ds), "litdata", split, progress) as bar:
        for i, row in enumerate(ds):
            members, fields = sample_of(row)
            audio_ext = fields.get("audio_ext")
            writer[i] = {
                "key": str(row.get("clip_id")),
                "video": members[fields["video_ext"]],
                "audio": members[audio_ext] if audio_ext else b"",
                "json": json.dumps(fields, ensure_ascii=False, default=str),
            }
            ids.append(str(row.get("clip_id")))
            bar.update(1)
    writer.done()
    writer.merge()
    shards, start = [], 0
    for c in json.loads((folder / "index.json").read_text())["chunks"]:
        size = int(c["chunk_size"])
        shards.append(Shard(folder / c["filename"], tuple(ids[start : start + size])))
        start += size
    return shards


def record_of(sample: Mapping[str, Any]) -> dict[str, Any]:
    """A streamed WebDataset or LitData sample back as a record (video and audio as {"bytes", "path"})."""
    raw = sample.get("json")
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode()
    fields = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    key = str(sample.get("__key__") or sample.get("key") or fields.get("clip_id"))
    vext, aext = fields.pop("video_ext", "mp4"), fields.pop("audio_ext", None)
    video = sample.get("video", sample.get(vext))
    audio = sample.get("audio") if "audio" in sample and aext else sample.get(aext) if aext else None
    rec = dict(fields)
    rec["video"] = _cell(video, f"{key}.{vext}")
    rec["audio"] = _cell(audio, f"{key}.{aext}") if audio else None
    return rec


def _cell(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):  # a datasets Video/Audio cell read with decode=False
        return {"bytes": value.get("bytes"), "path": value.get("path") or name}
    return {"bytes": bytes(value), "path": name}


def stream_records(path: str | Path, fmt: str, split: str = "train") -> Any:
    """A `datasets.IterableDataset` of records from a WebDataset or LitData export, one shard per tar / chunk."""
    import datasets

    path = Path(path)
    if fmt == "webdataset":
        files = sorted(str(p) for p in path.rglob(f"{split}-*.tar"))
        if not files:
            raise FileNotFoundError(f"no {split}-*.tar shards under {path}")
        return datasets.IterableDataset.from_generator(_webdataset_records, gen_kwargs={"shards": files})
    if fmt == "litdata":
        folder = path / split if (path / split / "index.json").is_file() else path
        index = folder / "index.json"
        if not index.is_file():
            raise FileNotFoundError(f"no LitData index.json in {folder}")
        chunks = json.loads(index.read_text())["chunks"]
        ranges, start = [], 0
        for c in chunks:
            ranges.append((str(folder), start, start + int(c["chunk_size"])))
            start += int(c["chunk_size"])
        return datasets.IterableDataset.from_generator(_litdata_records, gen_kwargs={"ranges": ranges})
    raise ValueError(f"format {fmt!r}: streaming reads 'webdataset' or 'litdata' (Parquet: datasets.load_dataset)")


def _webdataset_records(shards: list[str]) -> Iterator[dict[str, Any]]:
    for shard in shards:
        with tarfile.open(shard) as tar:
            sample: dict[str, Any] = {}
            for member in tar:
                if not member.isfile():
                    continue
                key, _, ext = member.name.partition(".")
                if sample and sample["__key__"] != key:
                    yield record_of(sample)
                    sample = {}
                sample["__key__"] = key
                data = tar.extractfile(member)
                sample[ext] = data.read() if data is not None else b""
            if sample:
                yield record_of(sample)


def _litdata_records(ranges: list[tuple[str, int, int]]) -> Iterator[dict[str, Any]]:
    import litdata

    for folder, start, stop in ranges:
        ds = litdata.StreamingDataset(folder)
        for i in range(start, min(stop, len(ds))):
            yield record_of(ds[i])

