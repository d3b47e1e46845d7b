"""Compact summary of a gpu_check.sh run:  python summarize.py OUT_DIR

One line per check, PASS / FAIL / WARN / INFO; exit status 1 when any line is FAIL. The targets are the
README's: the GPU path >= 3x the CPU path at 1080p, NVDEC >= 50% busy while the GPU path loads.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dmon import header_names  # noqa: E402

OUT = Path(sys.argv[1])
verdicts: list[tuple[str, str, str]] = []  # (PASS/FAIL/WARN/INFO, what, detail)


def v(flag: str, what: str, detail: str = "") -> None:
    verdicts.append((flag, what, detail))


def load_json(p: Path):
    try:
        return json.loads(p.read_text())
    except Exception:
        return None


def last_json_line(p: Path):
    try:
        lines = [ln for ln in p.read_text().splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except Exception:
        return None


# --- steps (name, start, end, rc) ----------------------------------------------------------------
steps = {}
if (OUT / "steps.tsv").exists():
    for ln in (OUT / "steps.tsv").read_text().splitlines():
        parts = ln.split("\t")
        if len(parts) >= 4:
            steps[parts[0]] = {"start": float(parts[1]), "end": float(parts[2]), "rc": parts[3]}
for name, s in steps.items():
    rc = s["rc"]
    if rc in ("124", "137"):
        v("FAIL", f"step {name}", f"timed out after {s['end'] - s['start']:.0f}s (rc {rc})")
    elif rc == "budget":
        v("WARN", f"step {name}", "skipped: time budget spent")

# --- env -----------------------------------------------------------------------------------------
probe = load_json(OUT / "probe.json") or {}
env = probe.get("env", {})
if env:
    v("INFO", "env", f"{env.get('nvidia_smi')} | torch {env.get('torch')} (CUDA {env.get('torch_cuda')}) | "
      f"torchcodec {env.get('torchcodec')} FFmpeg {env.get('ffmpeg_major')} | nvcuvid {env.get('nvcuvid')}")
    if not env.get("cuda_available"):
        v("FAIL", "torch.cuda.is_available()", "False: gpu tests only skip; nothing below ran on the GPU")
    if not any(str(x) == "ok" for x in (env.get("nvcuvid") or {}).values()):
        v("FAIL", "libnvcuvid", "not loadable: torchcodec silently decodes on CPU (container needs "
          "NVIDIA_DRIVER_CAPABILITIES with 'video')")

# --- pytest -m gpu -------------------------------------------------------------------------------
junit = OUT / "pytest_gpu.xml"
if junit.exists():
    try:
        root = ET.parse(junit).getroot()
        suites = [root] if root.tag == "testsuite" else list(root)
        n = sum(int(s.get("tests", 0)) for s in suites)
        f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        sk = sum(int(s.get("skipped", 0)) for s in suites)
        flag = "PASS" if n and not f and not sk else "FAIL"
        v(flag, "pytest -m gpu", f"{n} selected, {n - f - sk} passed, {f} failed/errors, {sk} skipped"
          + (" (skips count as failure here)" if sk else ""))
        for case in root.iter("testcase"):
            for bad in list(case.findall("failure")) + list(case.findall("error")):
                msg = (bad.get("message") or "").splitlines()[0][:160] if bad.get("message") else ""
                v("FAIL", f"  {case.get('name')}", msg)
    except Exception as e:
        v("FAIL", "pytest -m gpu", f"unreadable junit xml ({e})")
else:
    v("FAIL", "pytest -m gpu", "did not run / no junit xml")

# --- probe ---------------------------------------------------------------------------------------
for key in ("reader_1080p", "reader_1080p_unsorted_repeats", "reader_1080p_exact_seek", "colour_bt709",
            "colour_fullrange"):
    r = probe.get(key)
    if not r:
        continue
    if "error" in r:
        v("FAIL", f"probe {key}", r["error"])
        continue
    ok_layout = r.get("is_cuda") and r.get("dtype") == "torch.uint8" and r.get("nhwc_backed") \
        and r.get("pts_device") == "cpu"
    ok_pix = r.get("mean_abs_diff", 99) < 3.0 and r.get("pts_equal_cpu")
    flag = "PASS" if (ok_layout and ok_pix and not r.get("fell_back")) else ("WARN" if ok_layout and ok_pix else "FAIL")
    v(flag, f"probe {key}", f"fallback={r.get('fell_back')} cuda={r.get('is_cuda')} {r.get('dtype')} "
      f"{r.get('shape')} nhwc_view={r.get('nhwc_backed')} pts==cpu {r.get('pts_equal_cpu')} "
      f"|diff| mean {r.get('mean_abs_diff')} max {r.get('max_abs_diff')} rgb {r.get('signed_rgb_diff')} "
      f"open {r.get('open_s')}s decode {r.get('decode_s')}s")
fb = probe.get("fallback_demo")
if fb and "error" not in fb:
    told = all(fb.get("batch_flag") or [False]) and fb.get("warned") and fb.get("refused_with_raise")
    flag = ("PASS" if told else "FAIL") if fb.get("fell_back") else "INFO"
    v(flag, "probe fallback_demo (H.264 4:4:4)", f"fell_back={fb.get('fell_back')} warned={fb.get('warned')} "
      f"batch_flag={fb.get('batch_flag')} refused={fb.get('refused_with_raise')}: {fb.get('cpu_fallback')}")
cs = probe.get("collator_streams")
if cs and "error" not in cs:
    v("PASS" if cs.get("all_on_side") and cs.get("decodes") else "FAIL", "probe collator_streams",
      f"{cs.get('decodes')} decodes in {cs.get('threads')}, all on the caller's side stream: {cs.get('all_on_side')}")
dw = probe.get("default_stream_wait")
if dw and "error" not in dw:
    v("FAIL" if dw.get("decode_waits_for_default_stream") else "PASS", "probe default_stream_wait",
      f"sessions=7 {dw.get('sessions7')} | sessions=1 {dw.get('sessions1')}")
ap = probe.get("audio_paths")
if ap and "error" not in ap:
    same = ap.get("audio_equal") and ap.get("windows_equal") and ap.get("masks_equal")
    v("PASS" if same else "FAIL", "probe audio_paths (VFR, split CUDA path vs CPU path)",
      f"audio equal {ap.get('audio_equal')}, windows {ap.get('windows_equal')}, masks {ap.get('masks_equal')}, "
      f"video |diff| {ap.get('video_mean_abs_diff')}")
rc = probe.get("race_check")
if rc and "error" not in rc:
    v("FAIL" if rc.get("mismatched_batches") else "PASS", "probe race_check",
      f"{len(rc.get('mismatched_batches', []))}/{rc.get('batches')} batches differ from the serial reference "
      f"(max |diff| {rc.get('max_abs_diff')}), {rc.get('seconds')}s")
for key in ("collator_streams", "default_stream_wait", "race_check", "fallback_demo", "audio_paths", "env"):
    if key in probe and "error" in probe[key]:
        v("FAIL", f"probe {key}", probe[key]["error"])
if "fatal" in probe:
    v("FAIL", "probe", probe["fatal"].get("reason", ""))

# --- benchmark -----------------------------------------------------------------------------------
bench = {m: last_json_line(OUT / f"bench_{m}.out") for m in ("loader_on", "loader_gpu", "loader_gpu_1s")}
for m, r in bench.items():
    if r:
        nv = f", NVDEC mean {r['nvdec_mean_pct']:.0f}% max {r['nvdec_max_pct']:.0f}% ({r['nvdec_samples']} samples)" \
            if "nvdec_mean_pct" in r else ""
        if "startup_s" in r:
            nv += f", start-up {r['startup_s']:.2f}s (CUDA context + first NVDEC decoder, untimed)"
        v("INFO", f"bench {m} 1080p", f"{r['clips']} clips in {r['seconds']:.1f}s = {r['clips_per_s']:.2f} clips/s, "
          f"{r['cpu_ms_per_clip']:.0f} CPU ms/clip, peak RSS {r['peak_rss_mb']:.0f} MB{nv}")
    else:
        v("FAIL", f"bench {m} 1080p", f"no result (see bench_{m}.err)")
if bench["loader_on"] and bench["loader_gpu"]:
    ratio = bench["loader_gpu"]["clips_per_s"] / bench["loader_on"]["clips_per_s"]
    v("PASS" if ratio >= 3 else "WARN", "GPU path / CPU path (loader_gpu / loader_on, 1080p)",
      f"{ratio:.2f}x (README target >= 3x; start-up outside the timed window, reported above)")
    nv = bench["loader_gpu"].get("nvdec_mean_pct")
    if nv is not None:
        v("PASS" if nv == nv and nv >= 50 else "WARN", "NVDEC utilisation during loader_gpu (bench sampler)",
          f"mean {nv:.0f}% (README target >= 50%)")
if bench["loader_gpu"] and bench["loader_gpu_1s"]:
    gain = bench["loader_gpu"]["clips_per_s"] / bench["loader_gpu_1s"]["clips_per_s"]
    v("INFO", "7 sessions / 1 session", f"{gain:.2f}x")

# --- our own nvidia-smi dmon capture, per step -----------------------------------------------------
dmon = OUT / "dmon.log"
if dmon.exists():
    cols, rows = None, []
    for ln in dmon.read_text().splitlines():
        names = header_names(ln)  # columns by name: the header's spacing and columns vary by driver
        if names is not None:
            cols = names
            continue
        if ln.startswith("#"):
            continue
        parts = ln.split()
        if cols and len(parts) == len(cols):
            try:
                ts = datetime.strptime(parts[0] + " " + parts[1], "%Y%m%d %H:%M:%S").timestamp()
                rows.append((ts, {c: p for c, p in zip(cols, parts, strict=True)}))
            except ValueError:
                continue
    if rows:
        for name, s in steps.items():
            sel = [r for t, r in rows if s["start"] <= t <= s["end"]]
            vals = {k: [float(r[k]) for r in sel if r.get(k, "-").replace(".", "").isdigit()] for k in ("sm", "dec")}
            if vals["dec"]:
                v("INFO", f"dmon during {name}", f"dec mean {sum(vals['dec']) / len(vals['dec']):.0f}% max "
                  f"{max(vals['dec']):.0f}%, sm mean {sum(vals['sm']) / max(1, len(vals['sm'])):.0f}% "
                  f"({len(sel)} samples)")
    else:
        v("WARN", "nvidia-smi dmon", "no samples parsed (see dmon.log)")

# --- print -----------------------------------------------------------------------------------------
print("=" * 100)
print(f"gpu_check summary ({OUT})")
print("=" * 100)
for flag, what, detail in verdicts:
    print(f"{flag:4s}  {what}: " + " | ".join(str(detail).splitlines()))
fails = sum(1 for f, _, _ in verdicts if f == "FAIL")
warns = sum(1 for f, _, _ in verdicts if f == "WARN")
print("-" * 100)
print(f"{fails} FAIL, {warns} WARN; logs: {OUT}")
sys.exit(1 if fails else 0)
