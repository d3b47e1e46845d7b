"""Extraction of a release delivered as split `.tar.gz` parts, against `cat parts | tar xz`.

Builds a release of video files (the DH-FaceVid-1K calibration clips under `../shared/real` when
present, copied under distinct names until `--mb` is reached; else random bytes, as incompressible
as video), packs it as `.tar.gz` split into `--parts` parts (`.part.aa`, ...), then, on the same
parts, side by side in one run:

- `cat parts | tar xz -C out` (what users are told to do, minus the joined copy on disk);
- `facevid_datasets.raw.archives.extract_archive` (parts read as one stream, member-by-member
  atomic writes, resumable).

Goal: ours >= 0.9x the throughput of `cat | tar xz`. Each is run `--repeat` times, best kept,
page cache warm for both.

Then the question whether reading clips straight out of an uncompressed `.tar` by member offset
beats extracting it: the one-time cost (index the member offsets vs extract the `.tar`) and the
cost of reading every clip once (open the tar, seek, read vs open the extracted file, read).

    .venv/bin/python benchmarks/bench_extract.py --mb 600 --parts 4
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from facevid_datasets.raw.archives import extract_archive, find_archives

REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "dhfv-calibration"


def make_release(root: Path, mb: int) -> list[Path]:
    videos = root / "release" / "videos"
    videos.mkdir(parents=True)
    sources = sorted(REAL.rglob("*.mp4")) if REAL.is_dir() else []
    rng = random.Random(0)
    out, total, i = [], 0, 0
    while total < mb * 1_000_000:
        dst = videos / f"{i:06d}.mp4"
        if sources:
            shutil.copy(sources[i % len(sources)], dst)
        else:
            dst.write_bytes(rng.randbytes(rng.randint(1_000_000, 6_000_000)))
        total += dst.stat().st_size
        out.append(dst)
        i += 1
    return out


def split(path: Path, folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True)
    size = path.stat().st_size
    step = -(-size // n)
    parts = []
    with path.open("rb") as f:
        for k in range(n):
            p = folder / f"{path.name}.part.a{chr(ord('a') + k)}"
            with p.open("wb") as o:
                o.write(f.read(step))
            parts.append(p)
    return parts


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=600, help="release size in MB")
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fvextract-"))
    clips = make_release(work, args.mb)
    size = sum(p.stat().st_size for p in clips)
    src = "calibration clips" if REAL.is_dir() else "random bytes"
    print(f"release: {len(clips)} files, {size / 1e6:.0f} MB ({src})")
    tgz = work / "high-quality-fast.tar.gz"
    with tarfile.open(tgz, "w:gz", compresslevel=6) as tf:
        tf.add(work / "release", arcname="high-quality-fast")
    parts = split(tgz, work / "delivered", args.parts)
    tgz.unlink()
    packed = sum(p.stat().st_size for p in parts)
    print(f"parts: {len(parts)} x ~{packed / len(parts) / 1e6:.0f} MB ({packed / 1e6:.0f} MB)")

    def cat_tar() -> None:
        out = work / "out_tar"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        cmd = f"cat {' '.join(map(str, parts))} | tar xzf - -C {out}"
        subprocess.run(cmd, shell=True, check=True)

    def ours() -> None:
        out = work / "out_ours"
        shutil.rmtree(out, ignore_errors=True)
        (archive,) = find_archives(work / "delivered")
        extract_archive(archive, out, progress=False)

    t_tar = best(cat_tar, args.repeat)
    t_ours = best(ours, args.repeat)
    print(f"cat parts | tar xz : {t_tar:6.2f} s  {size / 1e6 / t_tar:7.1f} MB/s")
    print(f"extract_archive    : {t_ours:6.2f} s  {size / 1e6 / t_ours:7.1f} MB/s  ({t_tar / t_ours:.2f}x of tar)")
    a = sorted((work / "out_tar").rglob("*.mp4"))
    b = sorted((work / "out_ours").rglob("*.mp4"))
    assert [p.relative_to(work / "out_tar") for p in a] == [p.relative_to(work / "out_ours") for p in b]
    assert all(x.stat().st_size == y.stat().st_size for x, y in zip(a, b, strict=True))

    # offsets in an uncompressed tar vs extracting it
    tar = work / "plain.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(work / "release", arcname="r")

    def index() -> dict[str, tuple[int, int]]:
        with tarfile.open(tar, "r:") as tf:
            return {m.name: (m.offset_data, m.size) for m in tf if m.isreg()}

    def extract_plain() -> None:
        out = work / "out_plain"
        shutil.rmtree(out, ignore_errors=True)
        (archive,) = [a for a in find_archives(work) if a.name == "plain.tar"]
        extract_archive(archive, out, progress=False)

    t_index = best(index, args.repeat)
    t_extract = best(extract_plain, args.repeat)
    offsets = index()
    files = sorted((work / "out_plain").rglob("*.mp4"))
    order = list(range(len(files)))
    random.Random(1).shuffle(order)

    def read_offsets() -> None:
        items = list(offsets.values())
        with tar.open("rb") as f:
            for i in order:
                off, n = items[i]
                f.seek(off)
                f.read(n)

    def read_files() -> None:
        for i in order:
            with files[i].open("rb") as f:
                f.read()

    t_off = best(read_offsets, args.repeat)
    t_files = best(read_files, args.repeat)
    n = len(files)
    print(f"one-time: index tar offsets {t_index:.2f} s vs extract the .tar {t_extract:.2f} s")
    print(f"read every clip once (random order, warm cache): by offset {t_off / n * 1e3:.2f} ms/clip, "
          f"extracted file {t_files / n * 1e3:.2f} ms/clip ({t_files / t_off:.2f}x)")  # fmt: skip
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
