"""Make the embedded sample release reproducibly from material that works offline.

Faces: two public-domain photographs that ship inside installed wheels (Eileen Collins,
`skimage.data.astronaut()`, NASA; Grace Hopper, matplotlib's `grace_hopper.jpg`, US Navy).
Speech: espeak-ng in five languages. Each clip animates the still: the jaw and lower lip are
warped open in proportion to the speech envelope of that video frame (so the mouth follows
the audio), and the face plane is rotated by a smooth yaw/pitch/roll trajectory whose class is
the clip's head-pose label. The 68 dlib landmarks found on the still are carried through the
same warps, so keypoints and per-frame angles are exact by construction; the per-frame face
boxes are those landmark boxes grown by 25% per side (the size of a face detector's box).

Three `source` groups of very different total duration make balancing meaningful:
collected clips (FaceVid-1K's own, ~5-8 s each), CelebV-HQ-style clips (~2-3 s) and
TalkingHead-1KH-style tubes (~1-1.5 s, no audio stream, as in the real release).

Run `make sample` (or `python -m facevid_datasets.sample.generate --out DIR`) to regenerate.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from ..media.ffmpeg import encode_video
from ..vocab import head_pose_label

SIZE = 256
AUDIO_RATE = 44_100
LANDMARKS = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

IDENTITIES = {
    "eileen-collins": {
        "attributes": {
            "ethnicity": "White", "gender": "female", "age_group": "adult",
            "appearance": ["Female", "Short hair", "Brown hair", "Wearing suit"],
            "emotion": "Happy", "action": ["Talk", "Smile"], "light": ["Bright", "Artificial"],
            "environment": "studio portrait in front of a flag",
        },  # fmt: skip
        "words": "an adult White woman with short brown hair in an orange flight suit",
    },
    "grace-hopper": {
        "attributes": {
            "ethnicity": "White", "gender": "female", "age_group": "elderly",
            "appearance": ["Female", "White hair", "Eyeglasses", "Wearing hat", "Wearing suit", "Wrinkles"],
            "emotion": "Neutral", "action": ["Talk"], "light": ["Bright", "Artificial"],
            "environment": "official portrait in front of a flag",
        },  # fmt: skip
        "words": "an elderly White woman with white hair, glasses and a navy uniform cap",
    },
}

SENTENCES = {
    "en": [
        "Good morning, today we talk about how large video datasets are cleaned.",
        "Every clip is checked for one face, sharp frames and speech that matches the lips.",
        "The weather was calm, so the launch went ahead exactly on schedule.",
        "Please remember to save your work before the session ends.",
    ],
    "fr": ["Bonjour à tous, nous allons parler des données vidéo aujourd'hui."],
    "de": ["Guten Morgen, heute sprechen wir über große Videodatensätze."],
    "es": ["Buenos días, hoy hablamos de cómo se limpian los vídeos."],
    "it": ["Buongiorno a tutti, oggi parliamo di dati video per l'apprendimento."],
}
VOICES = {"en": ["en-us", "en-gb", "en-us+f3"], "fr": ["fr-fr"], "de": ["de"], "es": ["es"], "it": ["it"]}

# Head-pose trajectories (degrees): the centre angles (yaw, pitch, roll) per class, in the convention of
# curation.stages.head_pose_angles: yaw > 0 turns to the image's right, pitch > 0 looks up.
POSE_CENTRES = {
    "frontal": (0.0, 0.0, 0.0),
    "profile_left": (-38.0, 0.0, -3.0),
    "profile_right": (38.0, 0.0, 3.0),
    "profile_up": (0.0, 30.0, 0.0),
    "profile_down": (0.0, -30.0, 0.0),
    "extreme": (68.0, 10.0, 8.0),
}


@dataclass(frozen=True)
class ClipSpec:
    clip_id: str
    source: str
    identity: str
    language: str | None
    sentence: int
    pose: str
    fps: str
    seconds: float | None  # None: the length of the speech
    split: str = "train"


def _portrait(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A SIZE x SIZE portrait crop of a public-domain photo and its 68 landmarks."""
    import dlib

    if name == "eileen-collins":
        from skimage.data import astronaut

        img = astronaut()
    else:
        import matplotlib.cbook as cbook
        import matplotlib.image as mimage

        img = mimage.imread(cbook.get_sample_data("grace_hopper.jpg"))
    img = np.ascontiguousarray(img[..., :3]).astype(np.uint8)
    faces = dlib.get_frontal_face_detector()(img, 1)
    face = max(faces, key=lambda r: r.width())  # the largest detection is the person
    pts = np.array([(p.x, p.y) for p in dlib.shape_predictor(LANDMARKS)(img, face).parts()], dtype=np.float64)
    cx, cy = pts[:, 0].mean(), pts[:, 1].mean() - 0.1 * face.height()
    half = 1.25 * face.width()
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    side = int(min(2 * half, img.shape[1] - x0, img.shape[0] - y0))
    crop = cv2.resize(img[y0 : y0 + side, x0 : x0 + side], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return crop, (pts - [x0, y0]) * (SIZE / side)


def _speech(text: str, voice: str, tmp: Path) -> np.ndarray:
    wav = tmp / "speech.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    audio, rate = sf.read(wav, dtype="float32")
    audio = resample_poly(audio, AUDIO_RATE, rate).astype(np.float32)
    pad = np.zeros(int(0.25 * AUDIO_RATE), dtype=np.float32)
    return np.concatenate([pad, audio, pad])


def mouth_opening(audio: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """Per-frame mouth opening in [0, 1] from the speech envelope (RMS in each frame's window)."""
    spf = AUDIO_RATE / fps
    rms = np.array([np.sqrt(np.mean(audio[int(k * spf) : int((k + 1) * spf)] ** 2) + 1e-12) for k in range(num_frames)])
    ref = np.percentile(rms, 95) + 1e-6
    return np.clip(rms / ref, 0.0, 1.0) ** 0.7


def _open_mouth(img: np.ndarray, pts: np.ndarray, m: float) -> tuple[np.ndarray, np.ndarray]:
    """Warp jaw and lower lip down by m * D and darken the opening; returns image and moved points."""
    mouth = pts[48:68]
    width = mouth[:, 0].max() - mouth[:, 0].min()
    drop = m * 0.33 * width
    cx, cy = mouth[:, 0].mean(), pts[[62, 66], 1].mean()
    chin = pts[8, 1]

    def weight(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        wx = np.exp(-(((x - cx) / (0.9 * width)) ** 2))
        ramp = np.clip((y - cy) / 4.0, 0, 1)
        tail = np.clip(1 - (y - chin) / (0.6 * width), 0, 1)
        return wx * ramp * tail

    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    map_y = ys - drop * weight(xs, ys)
    out = cv2.remap(img, xs, map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved = pts.copy()
    moved[:, 1] += drop * weight(pts[:, 0], pts[:, 1])
    if drop > 0.5:
        poly = np.round(moved[60:68]).astype(np.int32)  # inner lip contour, upper then lower
        cv2.fillPoly(out, [poly], (45, 18, 22), lineType=cv2.LINE_AA)
        teeth = np.round(np.stack([moved[61], moved[63], moved[63] + [0, drop * 0.25], moved[61] + [0, drop * 0.25]]))
        cv2.fillPoly(out, [teeth.astype(np.int32)], (225, 220, 210), lineType=cv2.LINE_AA)
    return out, moved


def _rotation_homography(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Homography of the image plane rotated about its centre, seen by a camera at focal length 2*SIZE."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    rot = rz @ rx @ ry
    f = 2.0 * SIZE
    plane = np.array([[rot[0, 0], rot[0, 1], 0], [rot[1, 0], rot[1, 1], 0], [rot[2, 0] / f, rot[2, 1] / f, 1]])
    c = np.array([[1, 0, SIZE / 2], [0, 1, SIZE / 2], [0, 0, 1]])
    return c @ plane @ np.linalg.inv(c)


def face_boxes(keypoints: np.ndarray) -> np.ndarray:
    """Per-frame face boxes (T, 5) x0, y0, x1, y1, confidence: the exact landmark box grown to a detector's.

    The sample has no detector in the loop: its landmarks are exact, so the box a face detector draws
    (brow-to-chin landmarks plus forehead and cheeks) is the landmark box grown by 25% per side.
    """
    from ..training.conditions import boxes_from_keypoints

    boxes, known = boxes_from_keypoints(keypoints)
    return np.concatenate([boxes, known[:, None].astype(np.float32)], axis=1).astype(np.float32)


def render_clip(
    face: np.ndarray, pts: np.ndarray, opening: np.ndarray, pose: str, seed: int
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Frames, keypoints (T, 68, 3) and angles (T, 3) of one talking clip."""
    rng = np.random.default_rng(seed)
    n = len(opening)
    centre = np.array(POSE_CENTRES[pose])
    t = np.arange(n) / 25.0
    phase = rng.uniform(0, 2 * np.pi, 3)
    amp, freq = np.array([6.0, 4.0, 3.0]), np.array([0.9, 0.7, 0.5])
    wobble = amp * np.sin(freq * t[:, None] + phase)
    ramp = np.clip(t / 0.6, 0, 1)[:, None]  # turn into the pose over the first 0.6 s
    angles = (centre * ramp + wobble).astype(np.float32)
    frames, keypoints = [], []
    for k in range(n):
        img, moved = _open_mouth(face, pts, float(opening[k]))
        h = _rotation_homography(-angles[k, 0], -angles[k, 1], angles[k, 2])  # plane angles: camera-facing signs
        frames.append(cv2.warpPerspective(img, h, (SIZE, SIZE), borderMode=cv2.BORDER_REPLICATE))
        proj = cv2.perspectiveTransform(moved[None].astype(np.float64), h)[0]
        keypoints.append(np.concatenate([proj, np.ones((68, 1))], 1))
    return frames, np.asarray(keypoints, dtype=np.float32), angles


def _brisque(frames: list[np.ndarray]) -> float | None:
    model = Path("/usr/share/opencv4/quality")
    if not (model / "brisque_model_live.yml").exists():
        return None
    scores = [
        cv2.quality.QualityBRISQUE_compute(
            f[..., ::-1].copy(), str(model / "brisque_model_live.yml"), str(model / "brisque_range_live.yml")
        )[0]
        for f in (frames[0], frames[len(frames) // 2], frames[-1])
    ]
    return float(np.mean(scores))


def _ytid(rng: np.random.Generator) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(list(alphabet), 11))


def clip_specs() -> list[ClipSpec]:
    """The sample's clips: 16 collected, 8 CelebV-HQ-style, 6 TalkingHead-1KH-style."""
    rng = np.random.default_rng(1234)
    specs = []
    poses = ["frontal", "frontal", "profile_left", "frontal", "profile_right", "frontal", "profile_up", "profile_down"]
    langs = ["en", "en", "fr", "en", "de", "en", "es", "it"]
    fpss = ["25", "30000/1001", "30", "24000/1001"]
    for i in range(16):
        ident = "eileen-collins" if i % 2 == 0 else "grace-hopper"
        lang = langs[i % len(langs)]
        specs.append(ClipSpec(f"{680 + i * 7:06d}", "facevid-1k", ident, lang, i // 8 % len(SENTENCES[lang]),
                              poses[i % len(poses)], fpss[i % len(fpss)], None,
                              "test" if i in (14, 15) else "train"))  # fmt: skip
    for i in range(8):
        ident = "grace-hopper" if i % 2 == 0 else "eileen-collins"
        pose = ["frontal", "profile_left", "frontal", "extreme"][i % 4]
        seconds = 2.0 + 0.25 * (i % 4)
        specs.append(ClipSpec(f"{_ytid(rng)}_{i % 3}", "celebv-hq", ident, "en", (i + 1) % 4, pose, "25", seconds))
    for i in range(6):
        s = 120 + 40 * i
        e = s + 29 + 3 * i
        box = (115, 107, 515, 507)
        cid = f"{_ytid(rng)}_{i:04d}_S{s}_E{e}_L{box[0]}_T{box[1]}_R{box[2]}_B{box[3]}"
        specs.append(ClipSpec(cid, "talkinghead-1kh", ["eileen-collins", "grace-hopper"][i % 2], None, i % 4,
                              ["frontal", "profile_right", "frontal"][i % 3], "30", (e - s + 1) / 30))  # fmt: skip
    return specs


def caption(spec: ClipSpec, label: str) -> str:
    who = IDENTITIES[spec.identity]["words"]
    pose_words = {"frontal": "facing the camera", "extreme": "with the head turned far away"}.get(
        label, f"with the head turned ({label.replace('_', ' ')})"
    )
    act = "talks" if spec.language else "moves her lips silently"
    return f"A close-up of {who}, who {act} {pose_words}, in a bright studio with a flag behind her."


def generate(out: Path) -> Path:
    """Write the sample release (videos/, keypoints/, head_pose/, face_boxes/, metadata.jsonl) into `out`."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed to regenerate the sample: apt-get install espeak-ng")
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    for d in ("videos/collected", "videos/public", "keypoints", "head_pose", "face_boxes"):
        (out / d).mkdir(parents=True, exist_ok=True)
    portraits = {name: _portrait(name) for name in IDENTITIES}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, spec in enumerate(clip_specs()):
            face, pts = portraits[spec.identity]
            fps = float(Fraction(spec.fps))
            lang = spec.language or "en"
            voices = VOICES[lang]
            speech = _speech(SENTENCES[lang][spec.sentence % len(SENTENCES[lang])], voices[n % len(voices)], Path(tmp))
            if spec.seconds is not None:
                speech = np.resize(speech, int(spec.seconds * AUDIO_RATE))
            num_frames = int(len(speech) / AUDIO_RATE * fps)
            opening = mouth_opening(speech, num_frames, fps)
            frames, kps, angles = render_clip(face, pts, opening, spec.pose, seed=n)
            sub = "collected" if spec.source == "facevid-1k" else "public"
            audio = speech[: int(num_frames / fps * AUDIO_RATE)] if spec.language else None
            encode_video(frames, out / "videos" / sub / f"{spec.clip_id}.mp4", spec.fps, audio=audio,
                         sample_rate=AUDIO_RATE, crf=26, gop=50, preset="medium")  # fmt: skip
            np.save(out / "keypoints" / f"{spec.clip_id}.npy", kps)
            np.save(out / "head_pose" / f"{spec.clip_id}.npy", angles)
            np.save(out / "face_boxes" / f"{spec.clip_id}.npy", face_boxes(kps))
            label = head_pose_label(angles[:, 0], angles[:, 1])
            face_w = float(np.ptp(kps[:, :17, 0], axis=1).mean())
            rows.append({
                "clip_id": spec.clip_id, "source": spec.source, "identity": spec.identity,
                "caption": caption(spec, label), "language": spec.language, "split": spec.split,
                "attributes": IDENTITIES[spec.identity]["attributes"] | (
                    {} if spec.language else {"action": ["Gaze"]}),
                "head_pose": {"label": label}, "keypoints": {"format": "ibug68"},
                "face_boxes": {"detector": "landmarks"},
                "quality": {"brisque": _brisque(frames), "face_size": round(face_w, 1)},
            })  # fmt: skip
    with (out / "metadata.jsonl").open("w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "README.md").write_text((__doc__ or "").strip() + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    out = generate(parser.parse_args().out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {len(clip_specs())} clips, {size / 1e6:.1f} MB, to {out}")


if __name__ == "__main__":
    main()
