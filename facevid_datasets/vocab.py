"""Label vocabularies (DH-FaceVid-1K Table 5) and the mapping of other datasets' labels onto them.

The canonical spellings are the paper's. `map_label(kind, value)` returns the canonical label
when one exists and otherwise the label itself, stripped: an unmappable label is kept, never
dropped. `is_canonical` tells the two apart, e.g. for statistics or a strict training filter.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

ETHNICITY = (
    "Asian", "White", "Indian", "European", "African", "Arab", "Latino", "Chinese", "Japanese",
    "Korean", "Latina", "Jewish", "Mexican",
)  # fmt: skip

APPEARANCE = (
    "No beard", "Male", "Female", "Straight hair", "Black hair", "Anchored eyebrow", "Short hair",
    "Eyeglasses", "Brown hair", "Rosy cheeks", "Long hair", "Bush eyebrow", "Chubby", "Heavy makeup",
    "Oval face", "Lipsticks", "Big nose", "Wavy hair", "Bangs", "Double chin", "Side burn", "Earrings",
    "Goatee", "White hair", "Blonde hair", "Bald", "Old", "Narrow eyes", "Big lips", "Pale skin",
    "Wearing shirt", "Wearing jacket", "Wearing suit", "Wearing tie", "Wearing coat", "Wearing blazer",
    "Wearing hoodie", "Redhead", "Wearing cloak", "Wearing bonnet", "Blemish", "Pompadour", "Mustache",
    "Wearing necklace", "Wearing sweater", "Wearing blouse", "Wearing cap", "Wearing scarf",
    "Wearing hat", "Wearing dress", "Wearing headband", "Mole", "Wearing vest", "Tattoos",
    "Wearing sunglasses", "Piercings", "Wearing beanie", "Wearing hijab", "Ponytail", "Scars",
    "Wearing robe", "Tan", "Wearing ring", "Wrinkles", "Wearing hood", "Wearing backpack",
    "Wearing bandana", "Braids", "Wearing turban", "Pigtails", "Dreadlocks", "With purse",
)  # fmt: skip

LIGHT = ("Dark", "Outdoor", "Bright", "Natural", "Artificial", "Dim", "Daylight", "Normal")

ACTION = (
    "Talk", "Smile", "Wag Head", "Frown", "Gaze", "Nod", "Shake Head", "Sing", "Glare", "Close Eyes",
    "Laugh", "Whisper", "Wink", "Shout", "Sigh", "Listen To Music", "Yawn", "Cough", "Sneeze", "Study",
    "Speak", "Sleep", "Kiss", "Pile", "Stand", "Think", "Eat", "Drink", "Read", "Touch", "Roll", "Rest",
    "Work", "Wash", "Ride", "Drive", "Play", "Hold", "Throw", "Run", "Clutch", "Tilt", "Hug", "Walk",
)  # fmt: skip

EMOTION = ("Neutral", "Happy", "Sad", "Angry", "Fear", "Surprise", "Contempt", "Disgust")

AGE_GROUP = ("minor", "adult", "middle-aged", "elderly")

GENDER = ("male", "female")

HEAD_POSE = ("frontal", "profile_right", "profile_left", "profile_up", "profile_down", "extreme")

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "ethnicity": ETHNICITY,
    "appearance": APPEARANCE,
    "light": LIGHT,
    "action": ACTION,
    "emotion": EMOTION,
    "age_group": AGE_GROUP,
    "gender": GENDER,
    "head_pose": HEAD_POSE,
}

#: Official CelebV-HQ vocabularies, in the order of `meta_info` in celebvhq_info.json.
CELEBV_HQ_APPEARANCE = (
    "blurry", "male", "young", "chubby", "pale_skin", "rosy_cheeks", "oval_face", "receding_hairline",
    "bald", "bangs", "black_hair", "blonde_hair", "gray_hair", "brown_hair", "straight_hair",
    "wavy_hair", "long_hair", "arched_eyebrows", "bushy_eyebrows", "bags_under_eyes", "eyeglasses",
    "sunglasses", "narrow_eyes", "big_nose", "pointy_nose", "high_cheekbones", "big_lips",
    "double_chin", "no_beard", "5_o_clock_shadow", "goatee", "mustache", "sideburns", "heavy_makeup",
    "wearing_earrings", "wearing_hat", "wearing_lipstick", "wearing_necklace", "wearing_necktie",
    "wearing_mask",
)  # fmt: skip
CELEBV_HQ_ACTION = (
    "blow", "chew", "close_eyes", "cough", "cry", "drink", "eat", "frown", "gaze", "glare",
    "head_wagging", "kiss", "laugh", "listen_to_music", "look_around", "make_a_face", "nod",
    "play_instrument", "read", "shake_head", "shout", "sigh", "sing", "sleep", "smile", "smoke",
    "sneer", "sneeze", "sniff", "talk", "turn", "weep", "whisper", "wink", "yawn",
)  # fmt: skip
CELEBV_HQ_EMOTION = ("neutral", "anger", "contempt", "disgust", "happy", "fear", "sadness", "surprise")

# Labels of other datasets (and common spellings) whose meaning matches a canonical label.
# Keys are normalised with `_norm`. Labels absent here and from the vocabulary are kept as they are.
_SYNONYMS: dict[str, dict[str, str]] = {
    "appearance": {
        "male": "Male", "female": "Female", "pale skin": "Pale skin", "rosy cheeks": "Rosy cheeks",
        "oval face": "Oval face", "arched eyebrows": "Anchored eyebrow", "bushy eyebrows": "Bush eyebrow",
        "gray hair": "White hair", "grey hair": "White hair", "sunglasses": "Wearing sunglasses",
        "sideburns": "Side burn", "wearing earrings": "Earrings", "wearing lipstick": "Lipsticks",
        "wearing necktie": "Wearing tie", "bushy eyebrow": "Bush eyebrow", "chubby": "Chubby",
        "bald": "Bald", "bangs": "Bangs", "mustache": "Mustache", "moustache": "Mustache",
        "goatee": "Goatee", "no beard": "No beard", "eyeglasses": "Eyeglasses", "big nose": "Big nose",
        "big lips": "Big lips", "narrow eyes": "Narrow eyes", "double chin": "Double chin",
        "heavy makeup": "Heavy makeup", "wearing hat": "Wearing hat", "wearing necklace": "Wearing necklace",
    },  # fmt: skip
    "action": {
        "talk": "Talk", "talking": "Talk", "speak": "Speak", "speaking": "Speak", "smile": "Smile",
        "smiling": "Smile", "head wagging": "Wag Head", "head movement": "Wag Head", "nod": "Nod",
        "shake head": "Shake Head", "sing": "Sing", "singing": "Sing", "close eyes": "Close Eyes",
        "listen to music": "Listen To Music", "play instrument": "Play", "laugh": "Laugh",
    },  # fmt: skip
    "emotion": {
        "anger": "Angry", "angry": "Angry", "sadness": "Sad", "sad": "Sad", "happiness": "Happy",
        "happy": "Happy", "fear": "Fear", "fearful": "Fear", "surprise": "Surprise",
        "surprised": "Surprise", "contempt": "Contempt", "disgust": "Disgust", "disgusted": "Disgust",
        "neutral": "Neutral", "calm": "Neutral",
    },  # fmt: skip
    "ethnicity": {
        "caucasian": "White", "white": "White", "black": "African", "african american": "African",
        "hispanic": "Latino", "east asian": "Asian", "south asian": "Indian", "middle eastern": "Arab",
    },  # fmt: skip
    "gender": {"man": "male", "m": "male", "woman": "female", "f": "female", "men": "male", "women": "female"},
    "age_group": {
        "child": "minor", "teen": "minor", "teenager": "minor", "kid": "minor", "young": "adult",
        "middle aged": "middle-aged", "middle age": "middle-aged", "old": "elderly", "senior": "elderly",
    },  # fmt: skip
    "head_pose": {
        "profile right": "profile_right", "profile left": "profile_left", "profile up": "profile_up",
        "profile down": "profile_down", "front": "frontal",
    },  # fmt: skip
    "light": {},
}


def _norm(label: str) -> str:
    return re.sub(r"[\s_\-]+", " ", label.strip().lower())


_CANONICAL: dict[str, dict[str, str]] = {
    kind: {_norm(v): v for v in values} for kind, values in VOCABULARIES.items()
}


def map_label(kind: str, value: str | None) -> str | None:
    """Canonical label for `value` of vocabulary `kind`; unknown labels come back unchanged (stripped)."""
    if kind not in VOCABULARIES:
        raise KeyError(f"unknown vocabulary {kind!r}; known: {sorted(VOCABULARIES)}")
    if value is None:
        return None
    key = _norm(str(value))
    if not key:
        return None
    return _CANONICAL[kind].get(key) or _SYNONYMS[kind].get(key) or str(value).strip()


def map_labels(kind: str, values: Iterable[str] | None) -> list[str] | None:
    """`map_label` over a list, keeping order and dropping duplicates (never unknown labels)."""
    if values is None:
        return None
    out: list[str] = []
    for v in values:
        m = map_label(kind, v)
        if m is not None and m not in out:
            out.append(m)
    return out


def is_canonical(kind: str, value: str | None) -> bool:
    """True when `value` is spelled exactly as in the vocabulary of `kind`."""
    return value in VOCABULARIES[kind]


def decode_multi_hot(bits: Iterable[int], names: Iterable[str]) -> list[str]:
    """Names whose bit is set, e.g. a CelebV-HQ appearance vector with `meta_info`'s mapping."""
    names = list(names)
    bits = list(bits)
    if len(bits) != len(names):
        raise ValueError(f"multi-hot vector has {len(bits)} entries but the mapping has {len(names)} names")
    return [n for b, n in zip(bits, names, strict=True) if int(b)]


#: Head-pose classes of DH-FaceVid-1K, in the order used to break ties.
HEAD_POSE_CLASSES = ("frontal", "profile_left", "profile_right", "profile_up", "profile_down", "extreme")
#: Frames sampled (uniformly over the clip) to label its head pose.
HEAD_POSE_SAMPLES = 5


def head_pose_class(
    yaw: float, pitch: float, frontal_yaw: float = 25.0, frontal_pitch: float = 20.0, extreme: float = 60.0
) -> str:
    """One of HEAD_POSE_CLASSES: frontal inside the frontal box, extreme when either angle passes
    `extreme`, otherwise the profile class of the angle that is larger relative to its box."""
    if abs(yaw) > extreme or abs(pitch) > extreme:
        return "extreme"
    if abs(yaw) <= frontal_yaw and abs(pitch) <= frontal_pitch:
        return "frontal"
    if abs(yaw) / frontal_yaw >= abs(pitch) / frontal_pitch:
        return "profile_right" if yaw > 0 else "profile_left"
    return "profile_up" if pitch > 0 else "profile_down"


def dominant_class(labels: Sequence[str]) -> str | None:
    """Most frequent label; ties go to the class listed first in HEAD_POSE_CLASSES."""
    if not labels:
        return None
    counts = Counter(labels)
    order = {c: i for i, c in enumerate(HEAD_POSE_CLASSES)}
    return min(counts, key=lambda c: (-counts[c], order.get(c, len(order))))


def head_pose_label(yaw: Sequence[float], pitch: Sequence[float]) -> str | None:
    """A clip's head-pose label from its per-frame angles (degrees): the dominant class of
    HEAD_POSE_SAMPLES uniformly sampled frames, as DH-FaceVid-1K labels its clips; None without frames."""
    n = min(len(yaw), len(pitch))
    if n == 0:
        return None
    picks = [round(i * (n - 1) / (HEAD_POSE_SAMPLES - 1)) for i in range(HEAD_POSE_SAMPLES)]
    return dominant_class([head_pose_class(float(yaw[i]), float(pitch[i])) for i in picks])
