"""Face models side by side on real footage: detection rate, landmark stability, box size, time.

    .venv/bin/python benchmarks/bench_face_models.py [--real ../shared/real/dhfv-calibration] [--frames 60]

Every clip of the calibration set was kept by the DH-FaceVid-1K authors' pipeline, so each frame
holds exactly one clearly visible face: a detector's "one face" rate is its recall, and frames
with two or more faces are false alarms. Landmark jitter is the mean distance of each point from
the average of its neighbours in the previous and next frame, over the face box side (per mille):
smooth head motion cancels out, frame-to-frame noise does not. Box size is each detector's box side
over the side of the 468-point mesh box of the same frame (the mesh spans forehead to chin).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from facevid_datasets.curation.models import load_model
from facevid_datasets.media.decode import TorchcodecReader

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "dhfv-calibration"
DETECTORS = ("mediapipe", "mediapipe-short", "mtcnn", "dlib-hog", "opencv-haar")


def jitter(points: np.ndarray, sides: np.ndarray) -> float:
    """Mean per-mille distance of each point from the midpoint of its previous and next position."""
    mid = (points[:-2] + points[2:]) / 2
    d = np.linalg.norm(points[1:-1, :, :2] - mid[:, :, :2], axis=-1).mean(axis=1)
    return float(np.nanmean(d / sides[1:-1]) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--frames", type=int, default=60, help="consecutive frames per clip, from the middle")
    ap.add_argument("--clips", type=int, default=0, help="only the first N clips (0: all)")
    args = ap.parse_args()
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    paths = sorted(args.real.glob("*.mp4"))[: args.clips or None]
    dets = {n: load_model("face_detector", n) for n in DETECTORS}
    mesh, dlib68 = load_model("landmarks", "mediapipe-mesh"), load_model("landmarks", "dlib-68")
    stats = {n: {"one": 0, "many": 0, "none": 0, "sec": 0.0, "ratio": []} for n in DETECTORS}
    lm_stats = {"mediapipe-mesh": {"sec": 0.0, "jit": []}, "dlib-68": {"sec": 0.0, "jit": []}}
    frames_total = 0
    for path in paths:
        r = TorchcodecReader(str(path))
        a = max(0, r.num_frames // 2 - args.frames // 2)
        idx = list(range(a, min(r.num_frames, a + args.frames)))
        frames = r.get_frames(idx)[0].permute(0, 2, 3, 1).contiguous().numpy()
        frames_total += len(frames)
        ref = dets["mediapipe"]
        tracks = {"mediapipe-mesh": [], "dlib-68": []}
        sides = []
        for rgb in frames:
            found = {}
            for n, d in dets.items():
                t = time.perf_counter()
                faces = d.detect(rgb)
                stats[n]["sec"] += time.perf_counter() - t
                found[n] = faces
                key = "one" if len(faces) == 1 else ("none" if not faces else "many")
                stats[n][key] += 1
            anchor = max(found["mediapipe"] or found["mtcnn"] or [None], key=lambda f: f.area if f else 0)
            if anchor is None:
                for k in tracks:
                    tracks[k].append(np.full((68 if k == "dlib-68" else 468, 3), np.nan))
                sides.append(np.nan)
                continue
            for k, model in (("mediapipe-mesh", mesh), ("dlib-68", dlib68)):
                t = time.perf_counter()
                pts = model.landmarks(rgb, anchor)
                lm_stats[k]["sec"] += time.perf_counter() - t
                tracks[k].append(pts if len(pts) else np.full((468, 3), np.nan))
            m = tracks["mediapipe-mesh"][-1]
            side = float(max(np.ptp(m[:, 0]), np.ptp(m[:, 1]))) if np.isfinite(m[0, 0]) else np.nan
            sides.append(side)
            for n, faces in found.items():
                if len(faces) == 1 and np.isfinite(side):
                    stats[n]["ratio"].append(max(faces[0].w, faces[0].h) / side)
        del ref
        for k in tracks:
            lm_stats[k]["jit"].append(jitter(np.stack(tracks[k]), np.array(sides)))
    print(f"{len(paths)} real clips, {frames_total} frames ({args.frames} consecutive per clip), 1 thread\n")
    print("| detector | one face | none | 2+ faces | box side / mesh box side (median, 5-95%) | ms/frame |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, s in stats.items():
        q = np.percentile(s["ratio"], [5, 50, 95]) if s["ratio"] else [np.nan] * 3
        print(f"| {n} | {s['one'] / frames_total:.1%} | {s['none'] / frames_total:.1%} | "
              f"{s['many'] / frames_total:.1%} | {q[1]:.2f} ({q[0]:.2f}-{q[2]:.2f}) | "
              f"{1000 * s['sec'] / frames_total:.1f} |")  # fmt: skip
    print("\n| landmarks | jitter, per mille of face side (median over clips) | ms/frame |")
    print("| --- | --- | --- |")
    for k, s in lm_stats.items():
        print(f"| {k} | {np.nanmedian(s['jit']):.1f} | {1000 * s['sec'] / frames_total:.1f} |")


if __name__ == "__main__":
    main()
