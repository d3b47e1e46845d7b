#!/usr/bin/env bash
# gpu_check.sh: facevid-datasets' CUDA/NVDEC path on a machine with one NVIDIA GPU (written for an H200).
#
#   bash benchmarks/gpu_check/gpu_check.sh [REPO_DIR]
#
# REPO_DIR: the facevid-datasets checkout with its .venv (default: $REPO, else the checkout this script
# lives in). Needs nvidia-smi, ffmpeg and coreutils' timeout.
# Environment knobs: OUT (log folder, default a new temporary folder), BUDGET_S (wall-clock budget,
# default 330 s: every step is cut to what is left, so the whole run ends before 6 minutes),
# WORKERS (DataLoader workers for both benchmark paths, default min(8, nproc)), VISITS (default 32:
# 128 clips per benchmark row), PY (python, default REPO_DIR/.venv/bin/python).
#
# Steps: environment -> nvidia-smi dmon -s u in the background (whole run) -> bench sources generated in
# the background -> gpu_probe.py (direct NVDEC checks the tests do not make) -> pytest -m gpu ->
# bench_loader.py --one {loader_gpu, loader_on, loader_gpu_1s} 1080p -> summary.
# The gpu tests run with FACEVID_REQUIRE_GPU=1 (a missing GPU fails them instead of skipping them), and
# bench_loader's GPU rows stop with one line when there is no GPU, so nothing here passes by not running.
# Exit status: 0 when the summary has no FAIL line.

set -u -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ $# -ge 1 ]]; then
  REPO="$1"
elif [[ -n "${REPO:-}" ]]; then
  :
else
  REPO="$(cd "$HERE/../.." && pwd)"
fi
if [[ ! -d "$REPO/facevid_datasets" ]]; then
  echo "gpu_check: no facevid_datasets/ in $REPO: pass the checkout as REPO_DIR" >&2; exit 2
fi
REPO="$(cd "$REPO" && pwd)" || { echo "gpu_check: no repository at $REPO" >&2; exit 2; }
PY="${PY:-$REPO/.venv/bin/python}"
if [[ ! -x "$PY" ]]; then
  echo "gpu_check: $PY not found, falling back to python3 (results may not use the project's venv)" >&2
  PY=python3
fi
OUT="${OUT:-$(mktemp -d -t gpu_check.XXXXXX)}"
mkdir -p "$OUT"
BUDGET="${BUDGET_S:-330}"
NPROC="$(nproc 2>/dev/null || echo 4)"
WORKERS="${WORKERS:-$(( NPROC < 8 ? NPROC : 8 ))}"
VISITS="${VISITS:-32}"
CACHE="$OUT/bench_cache"
RESERVE=25          # seconds kept back for kill-after grace and the summary
T0=$SECONDS

export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"   # import this checkout, wherever the venv's editable install points
cd "$REPO" || exit 2
: > "$OUT/steps.tsv"

log() { echo "[gpu_check $(( SECONDS - T0 ))s] $*"; }

# run_step NAME CAP_SECONDS CMD...: stdout -> OUT/NAME.out, stderr -> OUT/NAME.err, limited to
# min(CAP, what the budget has left); one line per step in OUT/steps.tsv (name, start, end, rc).
run_step() {
  local name=$1 cap=$2
  shift 2
  local rem=$(( BUDGET - (SECONDS - T0) - RESERVE ))
  local lim=$(( cap < rem ? cap : rem ))
  local now
  now="$(date +%s.%N)"
  if (( lim < 15 )); then
    printf '%s\t%s\t%s\tbudget\n' "$name" "$now" "$now" >> "$OUT/steps.tsv"
    log "skip $name: time budget spent"
    return 0
  fi
  log "$name (limit ${lim}s)"
  timeout --kill-after=10 "$lim" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
  local rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$now" "$(date +%s.%N)" "$rc" >> "$OUT/steps.tsv"
  log "$name rc=$rc"
  return $rc
}

DMON_PID=""
GEN_PID=""
cleanup() {
  [[ -n "$DMON_PID" ]] && kill "$DMON_PID" 2>/dev/null
  [[ -n "$GEN_PID" ]] && kill "$GEN_PID" 2>/dev/null
  return 0
}
trap cleanup EXIT

# --- 1. environment --------------------------------------------------------------------------------
log "repo $REPO, python $PY, out $OUT, budget ${BUDGET}s, workers $WORKERS, visits $VISITS"
run_step env 30 bash -c '
  nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  ffmpeg -hide_banner -version | head -1
  "$0" -c "import torch, torchcodec, torchvision; from torchcodec._core import ops
print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"available\", torch.cuda.is_available())
print(\"torchcodec\", torchcodec.__version__, \"ffmpeg\", ops.ffmpeg_major_version, \"torchvision\", torchvision.__version__)"
' "$PY"
cat "$OUT/env.out"

# --- 2. NVDEC / SM utilisation for the whole run ----------------------------------------------------
if command -v nvidia-smi > /dev/null; then
  nvidia-smi dmon -s u -d 1 -o DT > "$OUT/dmon.log" 2>&1 &
  DMON_PID=$!
  sleep 2
  if ! kill -0 "$DMON_PID" 2>/dev/null; then   # a driver without -o DT: keep the log, lose per-step stats
    nvidia-smi dmon -s u -d 1 > "$OUT/dmon.log" 2>&1 &
    DMON_PID=$!
  fi
else
  log "nvidia-smi not found: no dmon capture"
fi

# --- 3. benchmark sources, generated while the probe and the tests run ------------------------------
mkdir -p "$CACHE"
GEN_CODE='
import sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
import bench_loader as b
b.make_sources(Path(sys.argv[1]), {**b.SOURCES, **b.LENGTHS})
print("sources ready")
'
gen_start="$(date +%s.%N)"
timeout --kill-after=10 150 "$PY" -c "$GEN_CODE" "$CACHE" > "$OUT/bench_sources.out" 2> "$OUT/bench_sources.err" &
GEN_PID=$!

# --- 4. direct NVDEC checks (cpu_fallback, layout, colour, streams, races) ---------------------------
run_step probe 100 "$PY" "$HERE/gpu_probe.py" "$OUT/probe.json"
grep '^\[probe\]' "$OUT/probe.out" | cut -c1-240

# --- 5. the project's GPU tests ---------------------------------------------------------------------
run_step pytest_gpu 150 env FACEVID_REQUIRE_GPU=1 "$PY" -m pytest -m gpu -q -rs -p no:cacheprovider \
  --junitxml="$OUT/pytest_gpu.xml" tests/
tail -n 15 "$OUT/pytest_gpu.out"

# --- 6. benchmark: GPU path against the CPU path at 1080p -------------------------------------------
wait "$GEN_PID"
gen_rc=$?
GEN_PID=""
printf '%s\t%s\t%s\t%s\n' bench_sources "$gen_start" "$(date +%s.%N)" "$gen_rc" >> "$OUT/steps.tsv"
log "bench sources rc=$gen_rc"
BENCH=(benchmarks/bench_loader.py --workers "$WORKERS" --visits "$VISITS" --k 4 --batch 8 --cache "$CACHE")
run_step bench_loader_gpu 80 "$PY" "${BENCH[@]}" --one loader_gpu 1080p
run_step bench_loader_on 80 "$PY" "${BENCH[@]}" --one loader_on 1080p
run_step bench_loader_gpu_1s 60 "$PY" "${BENCH[@]}" --one loader_gpu_1s 1080p

# --- 7. summary -------------------------------------------------------------------------------------
[[ -n "$DMON_PID" ]] && kill "$DMON_PID" 2>/dev/null
DMON_PID=""
sleep 1
log "done"
if "$PY" -c 'import sys' 2>/dev/null; then SUMPY="$PY"; else SUMPY=python3; fi
"$SUMPY" "$HERE/summarize.py" "$OUT"
exit $?
