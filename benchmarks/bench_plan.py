"""Plan a download at release scale: DH-FaceVid-1K's 270,043 clips plus their keypoints.

A simulated repo listing (270,043 videos in `videos/<origin>/`, 270,043 `keypoints/*.npy`,
`metadata.jsonl` with one row per clip and its `source`, README) is planned the way `facevid
download` plans it: files chosen for a config (`hub.select_files`; the list goes to the SDK as a
list of files, per-file downloads, no pattern matching), and the downloaded files verified against
the memo (`hub.verify_files`; `--verify` creates the 540k empty files once under `--work`).
Goal: under 5 s for the whole plan. Times are CPU seconds of this process
(`time.process_time`), so a run on a machine busy with other jobs still reads fairly.

Side by side in the same run, on a smaller listing (`--old-clips`, default 4,000) because they do
not finish at full size: the former selection (a `set(files)` rebuilt for every chosen path) and
the former fetch (`snapshot_download(allow_patterns=<one escaped path per file>)`, whose filter,
`huggingface_hub.utils.filter_repo_objects`, matches every listed file against every pattern).
Their 270k time is extrapolated from two sizes by the measured growth and printed beside ours.

    .venv/bin/python benchmarks/bench_plan.py
    .venv/bin/python benchmarks/bench_plan.py --verify --work /tmp/fvplan
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import tempfile
import time
from pathlib import Path

from huggingface_hub.utils import filter_repo_objects

from facevid_datasets.hub import RemoteFile, select_files, verify_files
from facevid_datasets.hub.verify import MEMO, write_memo

MIX = (("collected", 204_690), ("celebv-hq", 9_841), ("celebv-text", 32_595), ("talkinghead-1kh", 22_917))
FOLDER = {"collected": "collected", "celebv-hq": "celebv", "celebv-text": "celebv", "talkinghead-1kh": "th1kh"}


def make_listing(scale: float, local: Path) -> list[str]:
    """Repo paths of a release `scale` times DH-FaceVid-1K's size; writes its metadata.jsonl into `local`."""
    files = ["README.md", "metadata.jsonl"]
    rows = []
    for origin, n in MIX:
        for i in range(max(1, round(n * scale))):
            cid = f"{origin[:2]}{i:07d}"
            files.append(f"videos/{FOLDER[origin]}/{cid}.mp4")
            files.append(f"keypoints/{cid}.npy")
            rows.append(json.dumps({"clip_id": cid, "source": origin, "identity": f"p{i % 20000}"}))
    local.mkdir(parents=True, exist_ok=True)
    (local / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    return files


def old_select_tail(chosen: list[str], files: list[str]) -> list[str]:
    """The former last line of `select_files`: a set of the whole listing rebuilt per chosen path."""
    return sorted(p for p in chosen if p in set(files))


def timed(fn, *args):
    """(result, CPU seconds): CPU time, not wall time, so a machine shared with other jobs reads fairly."""
    t = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t


def plan(files: list[str], local: Path, config: str) -> tuple[list[str], dict[str, float]]:
    t: dict[str, float] = {}
    wanted, t["select"] = timed(select_files, "facevid-1k", config, files, local)
    return wanted, t


def old_plan_seconds(clips_scale: float, local: Path, config: str) -> float:
    files = make_listing(clips_scale, local)
    wanted = select_files("facevid-1k", config, files, local)
    _, t_sel = timed(old_select_tail, wanted, files)
    exact = [glob.escape(p) for p in wanted]
    _, t_filter = timed(lambda: list(filter_repo_objects(files, allow_patterns=exact)))
    return t_sel + t_filter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-clips", type=int, default=4000, help="listing size for the former plan")
    ap.add_argument("--verify", action="store_true", help="also verify 540k files against the memo")
    ap.add_argument("--work", type=Path, default=None, help="folder for the simulated download")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fvplan-"))
    local = work / "dl"
    total = sum(n for _, n in MIX)
    files, t_list = timed(make_listing, 1.0, local)
    print(f"listing: {len(files):,} files ({total:,} clips + keypoints), made in {t_list:.1f} CPU s")
    for config in ("all", "collected", "celebv"):
        wanted, t = plan(files, local, config)
        print(f"plan {config:10s}: {len(wanted):,} files chosen in {sum(t.values()):.2f} CPU s")
    if args.verify:
        empty = RemoteFile(0, "sha256", hashlib.sha256(b"").hexdigest())
        entries = dict.fromkeys(files, empty)
        for p in files:
            f = local / p
            if p == "metadata.jsonl" or f.exists():
                continue
            f.parent.mkdir(parents=True, exist_ok=True)
            f.touch()
        entries["metadata.jsonl"] = RemoteFile((local / "metadata.jsonl").stat().st_size, "size", "")
        (local / MEMO).unlink(missing_ok=True)
        _, first = timed(verify_files, local, entries, files)
        bad, again = timed(verify_files, local, entries, files)
        assert not bad
        print(f"verify {len(files):,} files: first {first:.2f} s (hashing), again {again:.2f} s (memo)")
        write_memo(local / MEMO, {})
    a, b = args.old_clips, args.old_clips * 2
    sa = old_plan_seconds(a / total, work / "old_a", "collected")
    sb = old_plan_seconds(b / total, work / "old_b", "collected")
    exponent = max(1.0, min(2.0, math.log(sb / sa, 2)))
    projected = sb * (total / b) ** exponent
    ours = sum(plan(files, local, "collected")[1].values())
    print(f"former plan (collected): {a:,} clips {sa:.2f} s, {b:,} clips {sb:.2f} s (growth ~n^{exponent:.2f}); "
          f"projected at {total:,} clips: {projected:,.0f} s vs {ours:.2f} s now "
          f"({projected / ours:,.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
