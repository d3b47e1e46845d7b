"""Lip sync on real footage: each clip's own audio against another clip's, side by side for the
offline sync models, with the decisions the default thresholds make.

    .venv/bin/python benchmarks/bench_sync.py [--real ../shared/real/dhfv-calibration]
        [--others 8] [--work /tmp/facevid-bench-sync]

Every clean clip (official DH-FaceVid-1K samples: in sync, cleaned by their authors) is paired with
its own audio, with `--others` other clips' audio (another speaker: must be dropped), and with its
own audio 8 frames early and late. The picture is measured once per clip the way curation does
(BlazeFace every 5th frame, the face mesh and each model's per-frame feature on every frame) and
cached in `--work`; pairing it with any audio then costs only the sync test. Prints, per model and
for all clips and those of `sync_min_seconds` or more: how well the score separates own from other
audio (AUC), clean clips kept by duration and other speakers dropped at the default thresholds, and
the offsets found for the shifted audio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from facevid_datasets.curation import MeasureConfig, Thresholds, load_model, sync_status
from facevid_datasets.curation.decisions import sync_near_score
from facevid_datasets.curation.measure import FrameMeasures, stack_frames
from facevid_datasets.media.decode import AUDIO_SAMPLE_RATE, TorchcodecReader, decode_audio

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "dhfv-calibration"
MODELS = ("av-regression", "av-envelope")
SHIFT = 8  # frames


def picture(path: Path, work: Path) -> dict[str, np.ndarray | float]:
    """Mesh landmarks and the regression model's per-frame mouth darkness of one clip, measured by
    curation's own per-frame code (`FrameMeasures`, default models, one shot); cached."""
    cache = work / f"{path.stem}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    config = MeasureConfig()
    reader = TorchcodecReader(str(path))
    n, fps = reader.num_frames, reader.fps
    frames_of = FrameMeasures(n, {kind: load_model(kind, spec) for kind, spec in config.models.items()}, config)
    for a in range(0, n, 64):
        batch, _ = reader.get_frames(list(range(a, min(n, a + 64))))
        for i, rgb in enumerate(batch.permute(0, 2, 3, 1).numpy(), start=a):
            frames_of.faces(i, rgb, 0)
    wav = decode_audio(str(path), 0.0, n / fps, AUDIO_SAMPLE_RATE)
    out = {"landmarks": stack_frames(frames_of.lms, n), "dark": stack_frames(frames_of.feats, n)[:, 0],
           "fps": np.float64(fps), "audio": wav.numpy()}  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def measure(model: object, clip: dict, audio: np.ndarray) -> dict:
    """The decision row `sync_status` reads, for this picture with this audio."""
    fps = float(clip["fps"])
    n = min(len(clip["landmarks"]), int(len(audio) / AUDIO_SAMPLE_RATE * fps))
    audio = audio[: int(round(n / fps * AUDIO_SAMPLE_RATE))]
    res = model.measure(clip["landmarks"][:n], audio, AUDIO_SAMPLE_RATE, fps, features=clip["dark"][:n, None])
    row = {"has_audio": True, "duration": n / fps, "sync_confidence": None, "sync_offset": None, "sync_curve": []}
    if res is not None:
        row.update(sync_confidence=res.confidence, sync_offset=res.offset, sync_curve=list(res.curve))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--others", type=int, default=8, help="other clips' audio per clip")
    ap.add_argument("--work", type=Path, default=Path("/tmp/facevid-bench-sync"))
    args = ap.parse_args()
    paths = sorted(args.real.glob("*.mp4"))
    if len(paths) < 2:
        raise SystemExit(f"{args.real}: need at least two clips")
    t0 = time.perf_counter()
    clips = {p.stem: picture(p, args.work) for p in paths}
    print(f"{len(clips)} clips, {sum(len(c['landmarks']) / c['fps'] for c in clips.values()):.0f} s; pictures "
          f"measured or loaded in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    t = Thresholds.for_resolution(256)
    ids = list(clips)
    for name in MODELS:
        model = load_model("sync", name)
        rng = np.random.default_rng(0)  # the same pairs for every model
        rows: dict[str, list[dict]] = {"own": [], "other": [], "early": [], "late": []}
        t0 = time.perf_counter()
        calls = 0
        for cid in ids:
            clip = clips[cid]
            audio = clip["audio"]
            step = int(round(SHIFT / float(clip["fps"]) * AUDIO_SAMPLE_RATE))
            rows["own"].append(measure(model, clip, audio))
            rows["early"].append(measure(model, clip, audio[step:]))  # heard 8 frames early: offset +8
            rows["late"].append(measure(model, clip, np.concatenate([np.zeros(step, audio.dtype), audio])))
            for other in rng.choice([x for x in ids if x != cid], min(args.others, len(ids) - 1), replace=False):
                rows["other"].append(measure(model, clip, clips[other]["audio"]))
            calls += 3 + min(args.others, len(ids) - 1)
        ms = 1000 * (time.perf_counter() - t0) / calls
        print(f"\n## {name} ({ms:.0f} ms per test)")
        print("| clips | AUC own vs other | clean kept (by duration) | other speaker dropped | clean out of sync |")
        print("| --- | --- | --- | --- | --- |")
        for label, floor in (("all", 0.0), (f">= {t.sync_min_seconds:g} s", t.sync_min_seconds)):
            own = [r for r in rows["own"] if r["duration"] >= floor]
            other = [r for r in rows["other"] if r["duration"] >= floor]
            a = np.array([sync_near_score(r, t) for r in own])
            b = np.array([sync_near_score(r, t) for r in other])
            a, b = a[np.isfinite(a)], b[np.isfinite(b)]
            auc = float((a[:, None] > b[None, :]).mean()) if len(a) and len(b) else float("nan")
            status = [sync_status(r, t) for r in own]
            dur = np.array([r["duration"] for r in own])
            kept = dur[[s in ("in_sync", "unknown") for s in status]].sum() / dur.sum()
            dropped = np.mean([sync_status(r, t) in ("wrong_audio", "out_of_sync") for r in other])
            print(f"| {label} ({len(own)} / {len(other)}) | {auc:.3f} | {kept:.1%} | {dropped:.1%} | "
                  f"{status.count('out_of_sync')} |")  # fmt: skip
        for kind, sign in (("early", 1), ("late", -1)):
            sure = [r for r in rows[kind] if r["duration"] >= t.sync_min_seconds and r["sync_confidence"] is not None
                    and r["sync_confidence"] >= t.sync_min_confidence]  # fmt: skip
            offs = [r["sync_offset"] for r in sure]
            within = sum(abs(o - sign * SHIFT) <= 3 for o in offs)
            print(f"  audio {SHIFT} frames {kind} (>= {t.sync_min_seconds:g} s, confident {len(sure)}): offsets "
                  f"median {np.median(offs) if offs else float('nan'):+.0f}, {within}/{len(offs)} within 3 frames of "
                  f"{sign * SHIFT:+d}")  # fmt: skip


if __name__ == "__main__":
    main()
