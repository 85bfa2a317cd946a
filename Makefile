# Two commands do everything on a fresh machine:
#   make demo   - install what is missing, build AV-digits, run the demo
#   make test   - install what is missing, run the test suite (CPU)
# The environment is built once per set of pins (tools/install_env.sh) and
# `.venv` links to it.
SHELL := /bin/bash
PY := .venv/bin/python
# this clone's package first, whichever clone the shared venv was last
# pointed at (several clones may share one cached environment)
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
PYTEST_ARGS ?=
AVDIGITS := data/avdigits

.PHONY: all venv data demo test help table bench
all: help

help:
	@echo "make demo  - install (once), build AV-digits, train teacher, FDKD student and baseline, print the table"
	@echo "make test  - install (once), run the test suite on CPU"
	@echo "make data [PRESET=strong_teacher] - build the AV-digits data set only (the preset: data/avdigits_strong_teacher)"
	@echo "make table DATASET=avdigits SEEDS=\"0 1 2\" [PRESET=strong_teacher] [OUT=docs/results.md] [JOBS=2] - train teachers and every method both ways (resumable), print Table 1"
	@echo "make bench [DEVICE=cuda] [BENCH_DIR=work_dirs/benchmarks] [SCALES="1 4 16"] - every speed benchmark, one table file each (run it on a quiet machine)"

venv:
	@bash tools/install_env.sh

# the generator resumes: on a complete data set it only checks (~2 s), and
# it refuses a data set made with other settings or an older format
# PRESET=strong_teacher: the regime with a teacher far stronger than the
# student, in data/avdigits_strong_teacher
PRESET ?=
DATA_DIR := $(if $(PRESET),$(AVDIGITS)_$(PRESET),$(AVDIGITS))
data: venv
	$(PY) tools/dataset_converters/make_avdigits.py $(if $(PRESET),--preset $(PRESET)) --out $(DATA_DIR)

demo: data
	$(PY) tools/run_demo.py --data-root $(DATA_DIR) $(if $(PRESET),--work-dir work_dirs/demo_$(PRESET))

test: venv
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Table 1 for one data set: teachers + every method with configs, both
# directions, per seed (tools/run_table.py; resumable, ~3 min a run on CPU)
DATASET ?= avdigits
SEEDS ?= 0 1 2
table: $(if $(filter avdigits,$(DATASET)),data,venv)
	$(PY) tools/run_table.py --dataset $(DATASET) --seeds $(SEEDS) $(if $(PRESET),--data-root $(DATA_DIR) --work-dir $(or $(WORK_DIR),work_dirs/table_avdigits_$(PRESET)),$(if $(WORK_DIR),--work-dir $(WORK_DIR))) $(if $(OUT),--out $(OUT)) $(if $(JOBS),--jobs $(JOBS))

# the speed benchmarks of docs/benchmarks.md, one after the other, each
# table also written to $(BENCH_DIR)/<name>.md (about 5 min on 2 CPU cores)
DEVICE ?= cpu
BENCH_DIR ?= work_dirs/benchmarks
# the data-set sizes of the scaling benchmark, in multiples of AV-digits
SCALES ?= 1 4 16
bench: data
	@mkdir -p $(BENCH_DIR)
	set -o pipefail; $(PY) benchmarks/train_step.py --device $(DEVICE) | tee $(BENCH_DIR)/train_step.md
	set -o pipefail; $(PY) benchmarks/audio_frontend.py --device $(DEVICE) --reps 7 | tee $(BENCH_DIR)/audio_frontend.md
	set -o pipefail; $(PY) benchmarks/teacher_cache.py --epochs 4 --repeats 2 | tee $(BENCH_DIR)/teacher_cache.md
	set -o pipefail; $(PY) benchmarks/scaling.py --scales $(SCALES) | tee $(BENCH_DIR)/scaling.md
