"""Lip sync on real footage: each clip's own audio against every other clip's, side by side for the
offline sync models, with the decisions the default thresholds make, in-sample and leave-clips-out.

    .venv/bin/python benchmarks/bench_sync.py [--real ../shared/real/dhfv-calibration]
        [--work /tmp/facevid-bench-sync] [--models av-regression,av-envelope] [--others 0] [--boot 2000] [--sweep]

Every clean clip (official DH-FaceVid-1K samples: in sync, cleaned by their authors) is paired with
its own audio, with every other clip's audio (another speaker: must be dropped), and with its own
audio 8 frames early and late. The picture is measured once per clip the way curation does
(BlazeFace every 5th frame, the face mesh and each model's per-frame feature on every frame) and
cached in `--work`, as is every pairing's result, so a re-run with other thresholds costs nothing.

Fidelity is reported two ways:
- in-sample: the default `Thresholds`, which were chosen on these same clips;
- leave-clips-out: `fit_sync` (the calibration rule the defaults come from, written down) is fitted
  again without the clip judged (for another speaker's pair, without both clips of the pair) and
  applied to it; and, harsher, fitted on a random half of the clips and applied to the pairings
  within the other half (2-fold, `--halves` times). Those are the figures to expect on footage the
  thresholds were not tuned on.
The AUC (own vs other audio, of the near-zero score `sync_wrong_below` reads) uses no threshold and
the per-clip test fits nothing across clips, so it is the same both ways; its 95% interval comes
from resampling clips (`--boot` times), which is how much it can move on another set of clips.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from facevid_datasets.curation import MeasureConfig, Thresholds, load_model, sync_status
from facevid_datasets.curation.decisions import sync_near_score
from facevid_datasets.curation.measure import FrameMeasures, stack_frames
from facevid_datasets.media.decode import AUDIO_SAMPLE_RATE, TorchcodecReader, decode_audio

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "dhfv-calibration"
MODELS = ("av-regression", "av-envelope")
SHIFT = 8  # frames
ROWS_VERSION = 1  # bump when `measure` changes what a pairing's row holds

#: The calibration rule's constants (`fit_sync`).
CONFIDENCE_FLOOR = 3.0  # sync_min_confidence never below this (standard deviations over shifted audio)
CONFIDENCE_MARGIN = 1.25  # and above every clean clip whose best offset is wrong, by this factor
WRONG_MARGIN = 0.7  # sync_wrong_below: this share of the lowest own-audio score of the clean clips


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


@dataclass(frozen=True)
class Pairing:
    """One sync test: the picture of `clip` with the audio of `audio` (`kind`: own, other, early, late;
    `truth` the offset its audio really has, None for another speaker)."""

    clip: str
    audio: str
    kind: str
    truth: int | None
    row: dict


def pairings(name: str, clips: dict[str, dict], work: Path, others: int = 0) -> tuple[list[Pairing], float]:
    """The pairings of model `name`'s test (own, every other clip's audio or `others` of them drawn
    per clip, own shifted 8 frames either way), read from `work` when measured before; and ms per
    test measured now (nan if none)."""
    cache = work / f"rows-{name}-v{ROWS_VERSION}.json"
    rows: dict[str, dict] = json.loads(cache.read_text()) if cache.is_file() else {}
    model = load_model("sync", name)
    todo = 0
    t0 = time.perf_counter()
    out = []
    rng = np.random.default_rng(0)  # the same pairs for every model
    for cid, clip in clips.items():
        audio = clip["audio"]
        step = int(round(SHIFT / float(clip["fps"]) * AUDIO_SAMPLE_RATE))
        shifted = {"early": audio[step:], "late": np.concatenate([np.zeros(step, audio.dtype), audio])}
        rest = [x for x in clips if x != cid]
        if 0 < others < len(rest):
            rest = list(rng.choice(rest, others, replace=False))
        for aid in [cid, *rest, "early", "late"]:
            key = f"{cid}|{aid}"
            if key not in rows:
                sound = shifted[aid] if aid in shifted else clips[aid]["audio"]
                with threadpool_limits(1):  # as in curation's workers: small solves, one BLAS thread
                    rows[key] = measure(model, clip, sound)
                todo += 1
            kind = aid if aid in shifted else ("own" if aid == cid else "other")
            truth = {"own": 0, "early": SHIFT, "late": -SHIFT}.get(kind)
            out.append(Pairing(cid, cid if aid in shifted else aid, kind, truth, rows[key]))
    ms = 1000 * (time.perf_counter() - t0) / todo if todo else float("nan")
    if todo:
        work.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(rows))
    return out, ms


# -- the calibration rule, and how well it holds on clips it did not see ---------------------------------


def fit_sync(train: Iterable[Pairing], base: Thresholds, share: float = WRONG_MARGIN) -> Thresholds:
    """The sync thresholds the clean clips of `train` give (their own audio only: no other speaker's
    audio is needed, so the rule can run wherever clean footage is), the rule the defaults come from:

    - `sync_min_confidence`: `CONFIDENCE_FLOOR`, raised to `CONFIDENCE_MARGIN` times the confidence of
      any clean clip (`sync_min_seconds` or longer) confidently put more than `sync_max_offset` frames
      out (none of the calibration clips is), so clean footage is never called out of sync;
    - `sync_wrong_below`: `share` (`WRONG_MARGIN`) times the lowest near-zero score of a clip's own audio
      (`sync_min_seconds` or longer): the lowest clean clip seen is not the lowest there is (with 21
      clips, a new one falls under the lowest about once in 22).
    """
    own = [p.row for p in train if p.kind == "own" and p.row["duration"] >= base.sync_min_seconds
           and p.row["sync_confidence"] is not None]  # fmt: skip
    edge = [r for r in own if len(r["sync_curve"]) > 2 and abs(r["sync_offset"]) >= (len(r["sync_curve"]) - 1) // 2]
    out = [r["sync_confidence"] for r in own if abs(r["sync_offset"]) > base.sync_max_offset and r not in edge]
    conf = max([CONFIDENCE_FLOOR, *(CONFIDENCE_MARGIN * c for c in out)])
    scores = [sync_near_score(r, base) for r in own]
    wrong_below = share * min(scores) if scores else base.sync_wrong_below
    return base.replace(sync_min_confidence=round(conf, 2), sync_wrong_below=round(wrong_below, 2))


class LeaveOut:
    """`fit_sync` fitted without the clips a pairing involves (memoised per set of left-out clips)."""

    def __init__(self, pairs: list[Pairing], base: Thresholds, share: float = WRONG_MARGIN):
        self.pairs, self.base, self.share = pairs, base, share
        self._fits: dict[frozenset[str], Thresholds] = {}

    def thresholds(self, p: Pairing) -> Thresholds:
        held = frozenset((p.clip, p.audio))
        if held not in self._fits:
            train = [q for q in self.pairs if not held & {q.clip, q.audio}]
            self._fits[held] = fit_sync(train, self.base, self.share)
        return self._fits[held]


def held_out_folds(pairs: list[Pairing], t: Thresholds, floor: float, k: int, repeats: int,
                   share: float = WRONG_MARGIN) -> tuple[float, float]:  # fmt: skip
    """Clean kept (by duration) and other speakers dropped when `fit_sync` sees the clips of k-1 of k
    random folds and judges the pairings within the fold left out (k-fold over clips, `repeats`
    times). With k = 2 a rule fitted on ten clips meets ten new ones: closer to new footage than
    leaving one clip out."""
    ids = sorted({p.clip for p in pairs})
    rng = np.random.default_rng(0)
    kept = total = 0.0
    drops: list[bool] = []
    for _ in range(repeats):
        for fold in np.array_split(rng.permutation(ids), k):
            held = set(fold)
            fit = fit_sync([p for p in pairs if p.clip not in held and p.audio not in held], t, share)
            for p in pairs:
                if p.clip in held and p.audio in held and p.row["duration"] >= floor:
                    if p.kind == "own":
                        total += p.row["duration"]
                        kept += 0.0 if dropped(p.row, fit) else p.row["duration"]
                    elif p.kind == "other":
                        drops.append(dropped(p.row, fit))
    return kept / total if total else float("nan"), float(np.mean(drops)) if drops else float("nan")


def sweep(pairs: list[Pairing], t: Thresholds, repeats: int) -> None:
    """What other shares of the lowest own score would give (clips of `sync_min_seconds` or more)."""
    floor = t.sync_min_seconds
    own = [p for p in pairs if p.kind == "own" and p.row["duration"] >= floor]
    other = [p for p in pairs if p.kind == "other" and p.row["duration"] >= floor]
    dur = np.array([p.row["duration"] for p in own])
    print("| share of the lowest own score | fitted on all | leave-one-out | half held out (2-fold) | "
          "thirds held out (3-fold) |")  # fmt: skip
    print("| --- | ---: | --- | --- | --- |")
    for share in (1.0, 0.9, 0.8, 0.7, 0.6):
        loo = LeaveOut(pairs, t, share)
        kept = dur[[not dropped(p.row, loo.thresholds(p)) for p in own]].sum() / dur.sum()
        drop = np.mean([dropped(p.row, loo.thresholds(p)) for p in other])
        cells = [f"{a:.1%} / {b:.1%}" for a, b in (held_out_folds(pairs, t, floor, k, repeats, share) for k in (2, 3))]
        print(f"| {share:g} | {fit_sync(pairs, t, share).sync_wrong_below} | {kept:.1%} / {drop:.1%} | "
              f"{' | '.join(cells)} |")  # fmt: skip


def dropped(row: dict, t: Thresholds) -> bool:
    return sync_status(row, t) in ("wrong_audio", "out_of_sync")


def auc_with_interval(pairs: list[Pairing], t: Thresholds, floor: float, boot: int) -> tuple[float, float, float]:
    """AUC of own vs other audio (near-zero score, pairings `floor` s or longer), and its 95% interval
    from resampling clips with replacement (a pair counts when both its clips are drawn)."""
    ids = sorted({p.clip for p in pairs})
    ix = {c: i for i, c in enumerate(ids)}
    own = np.full(len(ids), np.nan)
    other = np.full((len(ids), len(ids)), np.nan)
    for p in pairs:
        s = sync_near_score(p.row, t)
        if p.row["duration"] < floor or not np.isfinite(s):
            continue
        if p.kind == "own":
            own[ix[p.clip]] = s
        elif p.kind == "other":
            other[ix[p.clip], ix[p.audio]] = s
    has_own, has_other = np.isfinite(own), np.isfinite(other)
    beats = (own[:, None, None] > other[None]) & has_own[:, None, None] & has_other[None]

    def auc(w: np.ndarray) -> float:
        wo = w * has_own
        wp = np.outer(w, w) * has_other
        den = wo.sum() * wp.sum()
        return float(np.einsum("i,ijk,jk->", wo, beats, wp) / den) if den else float("nan")

    rng = np.random.default_rng(0)
    draws = [auc(np.bincount(rng.integers(0, len(ids), len(ids)), minlength=len(ids)).astype(float))
             for _ in range(boot)]  # fmt: skip
    lo, hi = np.nanpercentile(draws, [2.5, 97.5]) if boot else (float("nan"), float("nan"))
    return auc(np.ones(len(ids))), float(lo), float(hi)


def report(name: str, pairs: list[Pairing], t: Thresholds, boot: int, repeats: int) -> None:
    """The model's table: per length group, AUC with its interval, clean kept and other speakers
    dropped with the defaults (in-sample), with thresholds fitted without the clip(s) judged
    (leave-one-out) and fitted on half the clips for the other half (`held_out_folds`)."""
    loo = LeaveOut(pairs, t)
    print("| clips (own / other pairs) | AUC own vs other [95% over clips] | clean kept: in-sample / leave-one-out "
          "/ half held out (by duration) | other speaker dropped: in-sample / leave-one-out / half held out | "
          "clean out of sync |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for label, floor in (("all", 0.0), (f">= {t.sync_min_seconds:g} s", t.sync_min_seconds)):
        own = [p for p in pairs if p.kind == "own" and p.row["duration"] >= floor]
        other = [p for p in pairs if p.kind == "other" and p.row["duration"] >= floor]
        auc, lo, hi = auc_with_interval(pairs, t, floor, boot)
        dur = np.array([p.row["duration"] for p in own])
        kept_in = dur[[not dropped(p.row, t) for p in own]].sum() / dur.sum()
        kept_out = dur[[not dropped(p.row, loo.thresholds(p)) for p in own]].sum() / dur.sum()
        drop_in = np.mean([dropped(p.row, t) for p in other])
        drop_out = np.mean([dropped(p.row, loo.thresholds(p)) for p in other])
        kept_half, drop_half = held_out_folds(pairs, t, floor, 2, repeats)
        oos = sum(sync_status(p.row, t) == "out_of_sync" for p in own)
        print(f"| {label} ({len(own)} / {len(other)}) | {auc:.3f} [{lo:.3f}, {hi:.3f}] | {kept_in:.1%} / "
              f"{kept_out:.1%} / {kept_half:.1%} | {drop_in:.1%} / {drop_out:.1%} / {drop_half:.1%} | "
              f"{oos} |")  # fmt: skip
    for kind, sign in (("early", 1), ("late", -1)):
        sure = [p.row for p in pairs if p.kind == kind and p.row["duration"] >= t.sync_min_seconds
                and (p.row["sync_confidence"] or -1.0) >= t.sync_min_confidence]  # fmt: skip
        offs = [r["sync_offset"] for r in sure]
        within = sum(abs(o - sign * SHIFT) <= 3 for o in offs)
        print(f"  audio {SHIFT} frames {kind} (>= {t.sync_min_seconds:g} s, confident {len(sure)}): offsets "
              f"median {np.median(offs) if offs else float('nan'):+.0f}, {within}/{len(offs)} within 3 frames of "
              f"{sign * SHIFT:+d}")  # fmt: skip
    fitted = fit_sync(pairs, t)
    folds = [loo.thresholds(p) for p in pairs if p.kind == "own" and p.row["duration"] >= t.sync_min_seconds]
    for field in ("sync_wrong_below", "sync_min_confidence"):
        vals = [getattr(f, field) for f in folds]
        print(f"  {field}: default {getattr(t, field)}, fitted on all clips {getattr(fitted, field)}, "
              f"leave-one-clip-out folds {min(vals)}-{max(vals)}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--work", type=Path, default=Path("/tmp/facevid-bench-sync"))
    ap.add_argument("--models", default=",".join(MODELS), help="sync models, comma-separated")
    ap.add_argument("--others", type=int, default=0, help="other clips' audio per clip (0: every other clip)")
    ap.add_argument("--boot", type=int, default=2000, help="resamples of clips for the AUC's interval")
    ap.add_argument("--halves", type=int, default=100, help="random 2-fold (and 3-fold) splits of the clips")
    ap.add_argument("--sweep", action="store_true", help="also other shares of the lowest own score")
    args = ap.parse_args()
    paths = sorted(args.real.glob("*.mp4"))
    if len(paths) < 3:
        raise SystemExit(f"{args.real}: need at least three clips")
    t0 = time.perf_counter()
    clips = {p.stem: picture(p, args.work) for p in paths}
    print(f"{len(clips)} clips, {sum(len(c['landmarks']) / c['fps'] for c in clips.values()):.0f} s; pictures "
          f"measured or loaded in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    t = Thresholds.for_resolution(256)
    for name in args.models.split(","):
        pairs, ms = pairings(name, clips, args.work, args.others)
        cost = f"{ms:.0f} ms per test measured now" if np.isfinite(ms) else "every pairing read from the cache"
        print(f"\n## {name} ({cost}; pairings cached in {args.work})")
        report(name, pairs, t, args.boot, args.halves)
        if args.sweep:
            sweep(pairs, t, args.halves)


if __name__ == "__main__":
    main()
