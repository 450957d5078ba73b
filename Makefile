# Image classification, pixels to production: the course's commands.
#   make course   execute every lesson (full mode; COURSE_FAST=1 for a quick run)
#                 and write build/report.md and build/report.html
#   make test     lint, then the whole test suite, offline, in fast mode (what CI runs)
#   make grade DIR=submissions/   grade students' notebooks into build/grades/
#   make doctor   check that this machine is ready for the course
#   make serve    the classifier service on http://127.0.0.1:8000 (gunicorn)
#   make lock     refresh requirements/lock.txt and environment.yml (UPGRADE=1: newest allowed)
# Each target sets itself up first: .venv, the course package at the versions of
# requirements/lock.txt, the Jupyter kernel and, when run as root on Debian/Ubuntu,
# the Fashion-MNIST package.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.course-installed
LOCK   := requirements/lock.txt
# The lock is compiled for Linux x86-64 and Python 3.11; elsewhere pyproject.toml's ranges.
ON_LOCKED_PLATFORM := import platform, sys; sys.exit(not (sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info[:2] == (3, 11)))
KERNEL := image-course

# TensorFlow's C++ start-up messages would otherwise land in every notebook's stderr.
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup data browser course test grade doctor notebooks lab lint lock bench serve clean

help:
	@sed -n '2,11p' Makefile

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if $(PY) -c '$(ON_LOCKED_PLATFORM)'; then \
		echo "Installing the exact versions of $(LOCK)"; \
		{ $(PY) -m pip install --quiet --disable-pip-version-check "$$(grep '^uv==' $(LOCK))" && \
		  $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) \
		    --index-strategy unsafe-best-match $$($(PY) course_lib/tools/pip_indexes.py) -r $(LOCK) || \
		  { echo "note: uv could not install the lock; pip installs it (a few minutes)"; \
		    $(PY) -m pip install --quiet --disable-pip-version-check -r $(LOCK); }; } && \
		$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . ; \
	else \
		echo "note: $(LOCK) is for Linux x86-64 with Python 3.11; installing pyproject.toml's ranges"; \
		$(PY) -m pip install --quiet --disable-pip-version-check -e '.[tf,lab,dev]'; \
	fi
	$(PY) -m course_lib.tools.cli kernel
	@touch $(STAMP)

# Fashion-MNIST from Debian's package: the course then needs no download at all.
data:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian package dataset-fashion-mnist"; \
		(apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null)) || \
		echo "warning: could not install dataset-fashion-mnist; the course will download Fashion-MNIST"; \
	else \
		echo "note: Fashion-MNIST will be downloaded on first use (or: sudo apt-get install dataset-fashion-mnist)"; \
	fi

# Headless Chromium for the browser test of the web page (Debian packages).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian packages chromium chromium-driver"; \
		(apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
		 (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)) || \
		echo "warning: could not install chromium; the browser test will be skipped"; \
	else \
		echo "note: the browser test needs Chromium (sudo apt-get install chromium chromium-driver)"; \
	fi

setup: $(STAMP) data browser

LINTED := course_lib tests bench solutions notebooks

course: setup
	$(PY) -m course_lib.tools.cli run --report build/report.md

# The suite on two pytest-xdist workers, one per core of the reference machine (each runs
# at most one lesson kernel at a time, within its memory budget); tests/conftest.py groups
# what must run in order on one worker and starts the longest work first. TEST_WORKERS=0:
# one process, as before. Each lesson runs twice: its solution once, by the grader
# (tests/test_notebooks.py), its student notebook once, by nbval (notebooks/). The slowest
# tests are listed at the end (bench/results/tests.md says where the time goes).
TEST_WORKERS ?= 2

test: setup
	$(VENV)/bin/ruff check $(LINTED)
	COURSE_FAST=1 $(PY) -m pytest tests notebooks --nbval-lax -p no:cacheprovider -n $(TEST_WORKERS) --durations=25

# Checked before anything is set up, so a missing DIR fails at once.
ifneq ($(filter grade,$(MAKECMDGOALS)),)
ifeq ($(strip $(DIR)),)
$(error usage: make grade DIR=path/to/submissions   (writes build/grades/grades.csv))
endif
endif

grade: setup
	$(PY) -m course_lib.tools.cli grade "$(DIR)"

doctor: $(STAMP)
	$(PY) -m course_lib.tools.cli doctor

# Student notebooks from solutions/, and README's badges from [tool.course] repository.
notebooks: $(STAMP)
	$(PY) -m course_lib.tools.cli notebooks
	$(PY) -m course_lib.tools.cli badges

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(PY) -m course_lib.tools.cli notebooks --check
	$(PY) -m course_lib.tools.cli badges --check

# pip-compile (pip-tools): exact versions for Linux x86-64 and Python 3.11, within
# pyproject.toml's ranges. Existing pins are kept unless UPGRADE=1.
lock: $(STAMP)
	$(PY) -m course_lib.tools.cli lock $(if $(UPGRADE),--upgrade)

# Speed and accuracy figures, measured on this machine: never part of `make test`.
bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# The classifier service under gunicorn; settings are COURSE_SERVE_* variables (README).
serve: $(STAMP)
	$(PY) -m course_lib.serving

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=.

clean:
	rm -rf build
