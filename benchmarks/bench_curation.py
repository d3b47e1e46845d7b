"""Curation on real footage: clean clips kept (by duration) and real defects dropped, per stage
and per defect kind, plus time per stage.

    .venv/bin/python benchmarks/bench_curation.py [--real ../shared/real/dhfv-calibration]
        [--per-defect 3] [--clips 0] [--workers 1] [--work /tmp/facevid-bench-curation]

The clean set is the official DH-FaceVid-1K sample clips (256 px, already cleaned by the authors):
every row of them dropped is a false drop. Defects are made from them with FFmpeg
(`facevid_datasets.curation.defects`), each expected at its own stage. Thresholds are the 512 px
defaults scaled to 256 px (`Thresholds.for_resolution(256)`). Measurements are cached in
`--work`, so a re-run with other thresholds decodes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench_sync import Pairing, fit_sync

from facevid_datasets.curation import STAGES, Thresholds, curate, decide, read_decisions, sync_status
from facevid_datasets.curation.defects import EXPECTED_STAGE, make_defect_set
from facevid_datasets.media.probe import probe

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "dhfv-calibration"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REAL, help="folder of clean real clips")
    ap.add_argument("--per-defect", type=int, default=3, help="clips per defect kind")
    ap.add_argument("--clips", type=int, default=0, help="only the first N clean clips (0: all)")
    ap.add_argument("--workers", type=int, default=1, help="local worker processes")
    ap.add_argument("--work", type=Path, default=Path("/tmp/facevid-bench-curation"), help="cache folder")
    ap.add_argument("--threshold", action="append", default=[], help="name=value override (repeat)")
    ap.add_argument("--speed-clips", type=int, default=4, help="clean clips for the model speed comparison (0: skip)")
    args = ap.parse_args()

    clean = sorted(args.real.glob("*.mp4"))[: args.clips or None]
    if not clean:
        raise SystemExit(f"{args.real}: no clips")
    thresholds = Thresholds.from_strings(args.threshold, base=Thresholds.for_resolution(256))
    shortest = sorted(clean, key=lambda p: probe(p).duration)  # defects from the shorter clips: less CPU
    t = time.perf_counter()
    visual = tuple(d for d in EXPECTED_STAGE if d != "wrong_audio")
    defects = make_defect_set(shortest[: max(2, len(shortest) * 2 // 3)], args.work / "defects", args.per_defect,
                              visual)  # fmt: skip
    # lip sync is decided from `sync_min_seconds` on (shorter: unknown, kept), so another speaker's
    # audio goes on clips that long; benchmarks/bench_sync.py measures every length
    long = [p for p in shortest if probe(p).duration >= thresholds.sync_min_seconds] or shortest[-2:]
    defects += make_defect_set(long, args.work / "defects", args.per_defect, ("wrong_audio",))
    print(f"{len(clean)} clean clips, {len(defects)} defect clips ({time.perf_counter() - t:.0f} s to make)")
    t = time.perf_counter()
    result = curate([*clean, *[d.path for d in defects]], args.work / "curated", thresholds=thresholds,
                    workers=args.workers, progress=False)  # fmt: skip
    wall = time.perf_counter() - t
    rows = read_decisions(result.out)
    by_id: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_id[r["parent_id"] or r["clip_id"]].append(r)

    print(f"\nthresholds (256 px): {json.dumps({k: v for k, v in vars(thresholds).items()})}")
    print(f"measured {result.measured}, reused {result.reused}; {wall:.1f} s wall with {args.workers} worker(s)")
    inputs = [*clean, *[d.path for d in defects]]
    frames = sum(probe(p).num_frames for p in inputs)
    print(f"  {len(inputs)} clips, {frames} frames: {len(inputs) / wall:.2f} clips/s, {frames / wall:.0f} frames/s "
          "wall (start-up and output writing included)")  # fmt: skip

    # clean clips and defects, with the default thresholds (in-sample: they were chosen on these
    # clips) and with thresholds fitted by the calibration rule without the clips judged
    splits = [p.stem for p in clean if any(r["decision"] == "split" for r in by_id[p.stem])]
    print(f"clean clips split by a detected scene cut: {len(splits)} {splits}")
    fits: dict[frozenset[str], Thresholds] = {}

    def held_out(sources: frozenset[str]) -> Thresholds:
        if sources not in fits:
            fits[sources] = fit_curation(by_id, clean, defects, sources, thresholds)
        return fits[sources]

    for label, pick in (("in-sample (defaults)", lambda _: thresholds), ("leave-clips-out", held_out)):
        print(f"\n### {label}")
        tally(clean, defects, by_id, pick)
    fitted = fit_curation(by_id, clean, defects, frozenset(), thresholds)
    folds = [held_out(frozenset([p.stem])) for p in clean]
    print("\nthresholds: default / fitted on all clips / leave-one-clip-out folds")
    for name in FITTED:
        vals = [getattr(f, name) for f in folds]
        print(f"  {name}: {getattr(thresholds, name)} / {getattr(fitted, name)} / {min(vals)}-{max(vals)}")

    secs = result.stage_seconds
    tot = secs.get("total") or 1.0
    n = len(clean) + len(defects)
    if result.measured:
        per_frame = f", {frames / tot:.0f} frames/s" if result.measured == len(inputs) else ""
        print(f"\ntime per stage (measured clips, in-worker): {result.measured / tot:.2f} clips/s{per_frame} "
              "per worker")  # fmt: skip
        for stage, s in sorted(secs.items(), key=lambda kv: -kv[1]):
            if stage != "total":
                print(f"  {stage:12s} {s:7.2f} s  {100 * s / tot:5.1f}%")
    if args.speed_clips:
        compare_speed(sorted(clean, key=lambda p: probe(p).duration)[: args.speed_clips])
    print(f"\n{n} clips; cache and outputs in {args.work} (remove it to measure again); cores: {os.cpu_count()}")


#: Thresholds the calibration rule fits from clean clips and their defects (the others come from the
#: papers or are pixel sizes); the sync ones by `bench_sync.fit_sync` from the clean clips alone.
FITTED = ("min_detail", "min_face_fraction", "max_brisque", "sync_wrong_below", "sync_min_confidence")
#: (threshold, measured column, defect it separates from clean footage, clean lies above it)
SEPARATES = (("min_detail", "detail", "upscaled", True), ("min_face_fraction", "face_fraction", "tiny_face", True),
             ("max_brisque", "brisque", "blur_noise", False))  # fmt: skip


def _leaves(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["decision"] != "split"]


def fit_curation(by_id: dict[str, list[dict]], clean: list[Path], defects: list, held: frozenset[str],
                 base: Thresholds) -> Thresholds:  # fmt: skip
    """The calibration rule, fitted on the clean clips not in `held` and the defects made from none of
    them: each threshold of `SEPARATES` halfway between the worst clean value and the least defective
    defect value (at the clean side's edge when they overlap), the sync thresholds by `fit_sync`."""
    train_clean = [r for p in clean if p.stem not in held for r in _leaves(by_id[p.stem])]
    changes = {}
    for name, column, kind, clean_above in SEPARATES:
        ok = [r[column] for r in train_clean if r.get(column) is not None]
        bad = [r[column] for d in defects if d.defect == kind and not held & set(d.sources)
               for r in _leaves(by_id[d.clip_id]) if r.get(column) is not None]  # fmt: skip
        if not ok or not bad:
            continue
        edge, other = (min(ok), max(bad)) if clean_above else (max(ok), min(bad))
        between = (edge - other) * (1 if clean_above else -1) > 0
        changes[name] = round((edge + other) / 2 if between else edge, 3)
    own = [Pairing(r["clip_id"], r["clip_id"], "own", 0, r) for r in train_clean if r.get("has_audio")]
    return fit_sync(own, base.replace(**changes))


def tally(clean: list[Path], defects: list, by_id: dict[str, list[dict]], pick) -> None:
    """Clean footage kept (by duration) and each defect kind caught, every leaf row decided again with
    `pick(sources)`: the thresholds to judge a row made from the clips `sources`."""
    total = kept = 0.0
    false_drops: Counter[str] = Counter()
    lines = []
    for p in clean:
        t = pick(frozenset([p.stem]))
        for r in _leaves(by_id[p.stem]):
            decision, stage, reason = decide(r, t)
            total += r["duration"]
            if decision == "keep":
                kept += r["duration"]
            else:
                false_drops[stage] += 1
                lines.append(f"    {r['clip_id']}: {stage}: {reason}")
    print(f"clean clips kept: {kept / total:.1%} of {total:.0f} s")
    per_stage = ", ".join(f"{s} {false_drops[s]}" for s in STAGES if false_drops[s])
    print("  false drops per stage: " + (per_stage or "none"))
    if lines:
        print("\n".join(lines))
    print("\n| defect | clips | caught at its stage | dropped elsewhere | missed |")
    print("| --- | --- | --- | --- | --- |")
    for kind in EXPECTED_STAGE:
        mine = [d for d in defects if d.defect == kind]
        caught = other = 0
        notes = []
        for d in mine:
            t = pick(frozenset(d.sources))
            rs = by_id[d.clip_id]
            top = rs[0]
            decision, stage, reason = ("split", top["stage"], top["reason"]) if top["decision"] == "split" else \
                decide(top, t)  # fmt: skip
            if kind == "scene_cut":
                cuts = [r["start_frame"] for r in rs if r["kind"] == "segment"]
                ok = decision == "split" and any(abs(c - d.cut_frame) <= 1 for c in cuts)
                caught += ok
                if not ok:
                    notes.append(f"{d.clip_id}: {decision} {reason}")
            elif kind == "no_audio":
                ok = decision == "keep" and sync_status(top, t) == "no_audio"
                caught += ok
                if not ok:
                    notes.append(f"{d.clip_id}: {decision} {stage} {reason}")
            elif decision == "drop" and stage == EXPECTED_STAGE[kind]:
                caught += 1
            elif decision != "keep":
                other += 1
                notes.append(f"{d.clip_id}: {stage}: {reason}")
            else:
                notes.append(f"{d.clip_id}: kept ({_values(top, kind)})")
        expect = "kept, sync no_audio" if kind == "no_audio" else ("split" if kind == "scene_cut" else "")
        print(f"| {kind}{' (' + expect + ')' if expect else ''} | {len(mine)} | {caught}/{len(mine)} | {other} | "
              f"{len(mine) - caught - other} |")  # fmt: skip
        for n in notes:
            print(f"    {n}")


def compare_speed(clips: list[Path]) -> None:
    """Measure the same clips with the previous default models (dlib HOG + dlib-68) and the current
    ones (BlazeFace + face mesh) in this process, one thread each, models loaded beforehand, and
    print the ratio."""
    import cv2
    import torch

    from facevid_datasets.curation import MeasureConfig
    from facevid_datasets.curation.measure import ClipInput, measure_clip
    from facevid_datasets.curation.measurements import decode_payload

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    frames = sum(probe(p).num_frames for p in clips)
    configs = {
        "dlib-hog + dlib-68 (before)": MeasureConfig(models={"face_detector": "dlib-hog", "landmarks": "dlib-68",
                                                            "keypoints": "dlib-68"}),
        "mediapipe + mediapipe-mesh (now)": MeasureConfig(),
    }  # fmt: skip
    rates = {}
    print(f"\nspeed, {len(clips)} clean clips ({frames} frames), 1 process, 1 thread:")
    for name, config in configs.items():
        measure_clip(ClipInput(clips[0].stem, str(clips[0])), config)  # load the models once, untimed
        stages: dict[str, float] = defaultdict(float)
        t = time.perf_counter()
        for p in clips:
            meta, _ = decode_payload(measure_clip(ClipInput(p.stem, str(p)), config))
            for k, v in meta["timings"].items():
                stages[k] += v
        wall = time.perf_counter() - t
        rates[name] = frames / wall
        top = ", ".join(
            f"{k} {100 * v / stages['total']:.0f}%"
            for k, v in sorted(stages.items(), key=lambda kv: -kv[1])
            if k != "total" and v > 0.05 * stages["total"]
        )
        print(f"  {name:34s} {frames / wall:6.1f} frames/s  {len(clips) / wall:.2f} clips/s  ({top})")  # fmt: skip
    a, b = rates.values()
    print(f"  ratio now / before: {b / a:.2f}x")


def _values(row: dict, kind: str) -> str:
    keys = {"subtitles": "subtitle_chars", "black_bars": "border_px", "two_faces": "face_count",
            "blur_noise": "brisque", "wrong_audio": "sync_confidence", "tiny_face": "face_size",
            "upscaled": "detail"}  # fmt: skip
    k = keys.get(kind)
    extra = f", peak {row.get('sync_peak')}, offset {row.get('sync_offset')}" if kind == "wrong_audio" else ""
    return f"{k}={row.get(k)}{extra}" if k else ""


if __name__ == "__main__":
    main()
