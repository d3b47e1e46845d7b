"""Every builder against the shared checks of `BuilderTestCase` (tests/builder_base.py), and the proof
that adding a dataset is one builder module, one card and one test subclass: `MeadStyle`, defined
here with MEAD's naming (`M003_front_angry_level_1_001`, speaker `M003`), which no rule of the
package knew, passes the same checks and has its takedown rule honoured."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from builder_base import BuilderTestCase
from facevid_datasets.builders._layout import LayoutBuilder, LayoutConfig
from facevid_datasets.builders.celebv_hq import CelebVHQ
from facevid_datasets.builders.celebv_text import CelebVText
from facevid_datasets.builders.facevid_1k import SAMPLE_DIR, FaceVid1K
from facevid_datasets.builders.hdtf import HDTF
from facevid_datasets.builders.talkingface_wild import TalkingFaceWild
from facevid_datasets.builders.talkinghead_1kh import TalkingHead1KH
from facevid_datasets.builders.voxceleb2 import VoxCeleb2

import facevid_datasets as fd
from facevid_datasets import builders
from facevid_datasets.description import DatasetDescription
from facevid_datasets.licence.deletions import DeletionList, video_ids_of
from facevid_datasets.testing import make_index_video

pytestmark = pytest.mark.slow
FPS = 10.0
H, W = 120, 160


def _one(root: Path) -> Path:
    """One tiny video beside the release (made once), copied wherever a release needs a file."""
    path = root.parent / "one.mp4"
    if not path.is_file():
        _video(path)
    return path


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)


def _video(path: Path) -> None:
    make_index_video(path, 20, FPS, (H, W), audio=False)


# -- cutting builders ---------------------------------------------------------------------------------


class TestHDTF(BuilderTestCase):
    BUILDER = HDTF
    EXPECTED = {"default": {"Radio1_0", "Radio1_1", "Radio2_0", "Radio4_0"}}
    REPORT = {"Radio3_0": "missing"}
    DELETE_CLIP = "Radio2_0"
    DELETE_VIDEO = ("Radio1", {"Radio1_0", "Radio1_1"})

    def write_release(self, root: Path) -> None:
        meta = root / "HDTF_dataset"
        meta.mkdir()
        names = ("Radio1", "Radio2", "Radio3", "Radio4")
        (meta / "RD_annotion_time.txt").write_text(
            "Radio1.mp4 00:00-00:01 00:01-00:02\n" + "".join(f"{n}.mp4 00:00-00:01\n" for n in names[1:]))
        (meta / "RD_resolution.txt").write_text("".join(f"{n}.mp4 120\n" for n in names))
        (meta / "RD_crop_wh.txt").write_text("Radio1_0.mp4 20 120 0 120\nRadio1_1.mp4 20 120 0 120\n"
                                             + "".join(f"{n}_0.mp4 20 120 0 120\n" for n in names[1:]))
        for n in ("Radio1", "Radio2", "Radio4"):
            _video(root / "videos" / f"{n}.mp4")


def _celebv(ytb: str, start: float, end: float) -> dict:
    return {"ytb_id": ytb, "duration": {"start_sec": start, "end_sec": end},
            "bbox": {"top": 0.1, "bottom": 0.9, "left": 0.2, "right": 0.7}}  # fmt: skip


class TestCelebVHQ(BuilderTestCase):
    BUILDER = CelebVHQ
    EXPECTED = {"default": {"vidAAAAAAAA_0", "vidAAAAAAAA_1", "vidBBBBBBBB_0", "vidDDDDDDDD_0"}}
    REPORT = {"vidCCCCCCCC_0": "missing"}
    DELETE_CLIP = "vidBBBBBBBB_0"
    DELETE_VIDEO = ("vidAAAAAAAA", {"vidAAAAAAAA_0", "vidAAAAAAAA_1"})

    def write_release(self, root: Path) -> None:
        clips = {"vidAAAAAAAA_0": _celebv("vidAAAAAAAA", 0, 1), "vidAAAAAAAA_1": _celebv("vidAAAAAAAA", 1, 2)}
        clips |= {f"vid{c * 8}_0": _celebv(f"vid{c * 8}", 0, 1) for c in "BCD"}
        (root / "celebvhq_info.json").write_text(json.dumps({"meta_info": {}, "clips": clips}))
        for c in "ABD":
            _video(root / "videos" / f"vid{c * 8}.mp4")


class TestCelebVText(BuilderTestCase):
    BUILDER = CelebVText
    EXPECTED = {"default": {"vidAAAAAAAA_0_0", "vidAAAAAAAA_1", "vidBBBBBBBB_0", "vidDDDDDDDD_0"}}
    REPORT = {"vidCCCCCCCC_0": "missing"}
    DELETE_CLIP = "vidBBBBBBBB_0"
    DELETE_VIDEO = ("vidAAAAAAAA", {"vidAAAAAAAA_0_0", "vidAAAAAAAA_1"})

    def write_release(self, root: Path) -> None:
        info = {"vidAAAAAAAA_0_0.mp4": _celebv("vidAAAAAAAA", 0, 1), "vidAAAAAAAA_1": _celebv("vidAAAAAAAA", 1, 2)}
        info |= {f"vid{c * 8}_0": _celebv(f"vid{c * 8}", 0, 1) for c in "BCD"}
        (root / "celebvtext_info.json").write_text(json.dumps(info))
        for c in "ABD":
            _video(root / "videos" / f"vid{c * 8}.mp4")


def _tube(video: str, s: int, e: int) -> str:
    return f"{video}_S{s}_E{e}_L0_T0_R100_B100"


class TestTalkingHead1KH(BuilderTestCase):
    BUILDER = TalkingHead1KH
    EXPECTED = {
        "default": {_tube("vidEEEEEEEE_0000", 0, 4), _tube("vidEEEEEEEE_0000", 5, 9), _tube("vidFFFFFFFF_0000", 0, 4),
                    _tube("vidGGGGGGGG_0000", 0, 4)},
        "small": {_tube("vidEEEEEEEE_0000", 0, 4)},
    }  # fmt: skip
    REPORT = {_tube("vidZZZZZZZZ_0000", 0, 4): "missing"}
    DELETE_CLIP = _tube("vidFFFFFFFF_0000", 0, 4)
    DELETE_VIDEO = ("vidEEEEEEEE", {_tube("vidEEEEEEEE_0000", 0, 4), _tube("vidEEEEEEEE_0000", 5, 9)})

    def write_release(self, root: Path) -> None:
        lists = root / "data_list"
        lists.mkdir()
        line = "{v},120,160,{s},{e},0,0,100,100\n"
        (lists / "train_video_tubes.txt").write_text(
            line.format(v="vidEEEEEEEE_0000", s=0, e=4) + line.format(v="vidEEEEEEEE_0000", s=5, e=9)
            + line.format(v="vidFFFFFFFF_0000", s=0, e=4) + line.format(v="vidZZZZZZZZ_0000", s=0, e=4))
        (lists / "val_video_tubes.txt").write_text(line.format(v="vidGGGGGGGG_0000", s=0, e=4))
        (lists / "small_video_tubes.txt").write_text(line.format(v="vidEEEEEEEE_0000", s=0, e=4))
        for v in ("vidEEEEEEEE", "vidFFFFFFFF", "vidGGGGGGGG"):
            _video(root / "videos" / f"{v}_0000.mp4")


VOX_TXT = ("Identity  : \t{id}\nReference : \t{yt}\nOffset    : \t0\n\n"
           "FRAME \tX \tY \tW \tH \n000001 \t0.1 \t0.2 \t0.5 \t0.6 \n")


class TestVoxCeleb2(BuilderTestCase):
    BUILDER = VoxCeleb2
    EXPECTED = {"default": {"id00017__mjZ87sK6cA_00001", "id00017__mjZ87sK6cA_00002", "id00018_abcdefghijk_00001",
                            "id00020_klmnopqrstu_00001"}}  # fmt: skip
    REPORT = {"id00019_gone0000000_00001": "missing"}
    DELETE_CLIP = "id00018_abcdefghijk_00001"
    DELETE_VIDEO = ("id00017", {"id00017__mjZ87sK6cA_00001", "id00017__mjZ87sK6cA_00002"})  # a speaker's request

    def write_release(self, root: Path) -> None:
        clips = [("dev", "id00017", "_mjZ87sK6cA", "00001"), ("dev", "id00017", "_mjZ87sK6cA", "00002"),
                 ("test", "id00018", "abcdefghijk", "00001"), ("dev", "id00020", "klmnopqrstu", "00001"),
                 ("test", "id00019", "gone0000000", "00001")]  # fmt: skip
        for split, ident, yt, n in clips:
            if yt != "gone0000000":
                _video(root / split / "mp4" / ident / yt / f"{n}.mp4")
            txt = root / split / "txt" / ident / yt / f"{n}.txt"
            txt.parent.mkdir(parents=True, exist_ok=True)
            txt.write_text(VOX_TXT.format(id=ident, yt=yt))


# -- release-layout builders ----------------------------------------------------------------------------

COLLECTED = {"000680", "000681", "RS127258_segment_049_7350_0"}
CELEBV = {"Czb5Ml9VDsI_0"}
TH1KH = {"WA1L8vXkSKQ_0001_S370_E849_L115_T107_R515_B507"}
SAMPLE_IDS = {json.loads(line)["clip_id"] for line in (SAMPLE_DIR / "metadata.jsonl").read_text().splitlines()
              if line.strip()}  # fmt: skip


class TestFaceVid1K(BuilderTestCase):
    BUILDER = FaceVid1K
    EXPECTED = {"all": COLLECTED | CELEBV | TH1KH, "collected": COLLECTED, "public": CELEBV | TH1KH,
                "celebv": CELEBV, "talkinghead-1kh": TH1KH, "sample": SAMPLE_IDS}  # fmt: skip
    REPORT = {"000999": "missing"}
    DELETE_CLIP = "000680"
    DELETE_VIDEO = ("RS127258", {"RS127258_segment_049_7350_0"})

    def write_release(self, root: Path) -> None:
        for cid in COLLECTED | CELEBV | TH1KH:
            _copy(_one(root), root / "videos" / f"{cid}.mp4")
        rows = [{"clip_id": "000680", "identity": "p1"}, {"clip_id": "000999", "identity": "p2"}]
        (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def load_kwargs(self, config: str, root: Path) -> dict:
        return {} if config == "sample" else {"data_dir": str(root)}


class TestTalkingFaceWild(BuilderTestCase):
    BUILDER = TalkingFaceWild
    EXPECTED = {"all": {"ytAAAAAAAAA_0", "ytAAAAAAAAA_1", "ytBBBBBBBBB_0", "ytCCCCCCCCC_0"}}
    REPORT = {"ytZZZZZZZZZ_0": "missing"}
    DELETE_CLIP = "ytBBBBBBBBB_0"
    DELETE_VIDEO = ("ytAAAAAAAAA", {"ytAAAAAAAAA_0", "ytAAAAAAAAA_1"})

    def write_release(self, root: Path) -> None:
        for lang, cid in (("en", "ytAAAAAAAAA_0"), ("en", "ytAAAAAAAAA_1"), ("zh", "ytBBBBBBBBB_0"),
                          ("de", "ytCCCCCCCCC_0")):  # fmt: skip
            _copy(_one(root), root / "videos" / lang / f"{cid}.mp4")
        (root / "metadata.jsonl").write_text(json.dumps({"clip_id": "ytZZZZZZZZZ_0", "language": "fr"}) + "\n")


# -- a dataset added outside the package: one builder module, one card, one test subclass ----------------

_MEAD_ID = re.compile(r"^([MW]\d{3})_[a-z0-9_]+_level_\d+_\d{3}$")


def mead_speaker(clip_id: str) -> str | None:
    """`M003_front_angry_level_1_001` is speaker `M003` (view, emotion, intensity level, take)."""
    m = _MEAD_ID.match(clip_id)
    return m.group(1) if m else None


class MeadStyle(LayoutBuilder):
    """A MEAD-style talking-face set in the release layout: clip ids name speaker, view, emotion, level, take."""

    DESCRIPTION = DatasetDescription(
        name="mead-style",
        title="MEAD-style test set",
        homepage="",
        citation="",
        licence="Test fixture; stands for a gated dataset's licence.",
        access="Written by the test.",
        gated=True,
        size_category="n<1K",
        video_ids=lambda cid: (s,) if (s := mead_speaker(cid)) else (),
        identity=mead_speaker,
        card=Path(__file__).parent / "cards" / "mead-style.md",
    )
    BUILDER_CONFIGS = [LayoutConfig(name="all", description="Every clip.")]
    DEFAULT_CONFIG_NAME = "all"


M003 = {"M003_front_angry_level_1_001", "M003_left_30_happy_level_3_002"}
W009 = {"W009_front_neutral_level_1_001", "W009_front_sad_level_2_004"}


class TestMeadStyle(BuilderTestCase):
    BUILDER = MeadStyle
    EXPECTED = {"all": M003 | W009}
    REPORT = {"W011_front_angry_level_1_001": "missing"}
    DELETE_CLIP = "W009_front_sad_level_2_004"
    DELETE_VIDEO = ("M003", M003)  # a speaker's takedown request: matched only by the builder's own rule

    def write_release(self, root: Path) -> None:
        for cid in M003 | W009:
            _copy(_one(root), root / "videos" / cid.split("_")[0] / f"{cid}.mp4")
        (root / "metadata.jsonl").write_text(json.dumps({"clip_id": "W011_front_angry_level_1_001"}) + "\n")

    def test_only_the_builders_rule_knows_the_speaker(self):
        shipped = [video_ids_of("M003_front_angry_level_1_001", builders.description(n)) for n in builders.BUILDERS]
        assert not any("M003" in ids for ids in shipped)  # no rule of the shipped datasets reduces it to M003
        assert DeletionList.parse("M003\n").bound(MeadStyle.DESCRIPTION).covers("M003_left_30_happy_level_3_002")
        assert not DeletionList.parse("M003\n").bound("hdtf").covers("M003_left_30_happy_level_3_002")

    def test_terms_shown_once_per_folder(self, release, tmp_path, capsys):
        cache = str(tmp_path / "cache")
        fd.load_dataset("mead-style", data_dir=str(release), cache_dir=cache)
        assert "MEAD-style test set licence: test-fixture" in capsys.readouterr().err
        fd.load_dataset("mead-style", data_dir=str(release), cache_dir=cache, download_mode="force_redownload")
        assert "licence" not in capsys.readouterr().err

    def test_forget_uses_the_builders_rule(self, release, tmp_path):
        from facevid_datasets.licence.forget import forget

        cache = tmp_path / "cache"
        fd.load_dataset("mead-style", data_dir=str(release), cache_dir=str(cache))
        res = forget("mead-style", ["M003"], cache_dir=cache, release_root=release)
        assert {c for ids in res.clips().values() for c in ids} == M003
        again = fd.load_dataset("mead-style", data_dir=str(release), cache_dir=str(cache))
        assert {r for s in again.values() for r in s["clip_id"]} == W009


# -- the cache follows the code -------------------------------------------------------------------------


def test_a_changed_crop_recuts_what_changed_and_nothing_else(tmp_path, monkeypatch):
    """CelebV-HQ's box enlargement changed, as a new version of the package would: the next load with the
    same cache gives new clips for the crops that changed, reuses the clip whose crop did not (a
    full-frame box, clamped either way), and an unchanged load cuts nothing; force_redownload re-cuts."""
    import facevid_datasets.builders.celebv_hq as hq

    import facevid_datasets.cutting as cutting

    root = tmp_path / "release"
    clips = {"vidAAAAAAAA_0": _celebv("vidAAAAAAAA", 0, 1), "vidAAAAAAAA_1": _celebv("vidAAAAAAAA", 1, 2),
             "vidBBBBBBBB_0": {**_celebv("vidBBBBBBBB", 0, 1), "bbox": {"top": 0, "bottom": 1, "left": 0, "right": 1}}}
    root.mkdir()
    (root / "celebvhq_info.json").write_text(json.dumps({"meta_info": {}, "clips": clips}))
    for v in ("vidAAAAAAAA", "vidBBBBBBBB"):
        _video(root / "videos" / f"{v}.mp4")
    cuts: list[str] = []
    real = cutting.cut_clip

    def counting_cut(src, dst, **kw):
        cuts.append(Path(dst).name)
        return real(src, dst, **kw)

    monkeypatch.setattr(cutting, "cut_clip", counting_cut)

    def load(**kw) -> dict[str, dict]:
        ds = fd.load_dataset("celebv-hq", data_dir=str(root), cache_dir=str(tmp_path / "cache"), **kw)
        return {r["clip_id"]: r for s in ds.values() for r in s}

    first = load()
    assert len(cuts) == 3
    cuts.clear()
    assert {c: r["video"]["path"] for c, r in load().items()} == {c: r["video"]["path"] for c, r in first.items()}
    assert cuts == []  # unchanged code and files: every clip reused

    monkeypatch.setattr(hq, "ENLARGE", 0.1)
    changed = load()
    assert sorted(c.split("-")[0] for c in cuts) == ["vidAAAAAAAA_0", "vidAAAAAAAA_1"]  # only the crops that changed
    for cid in ("vidAAAAAAAA_0", "vidAAAAAAAA_1"):
        assert changed[cid]["video"]["path"] != first[cid]["video"]["path"]
        assert changed[cid]["width"] > first[cid]["width"]  # the bigger box, not the old crop
    assert changed["vidBBBBBBBB_0"]["video"]["path"] == first["vidBBBBBBBB_0"]["video"]["path"]

    cuts.clear()
    load(download_mode="force_redownload")
    assert len(cuts) == 3  # a forced rebuild cuts every clip again
