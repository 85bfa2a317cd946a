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

.PHONY: all venv data demo test help
all: help

help:
	@echo "make demo  - install (once), build AV-digits, train teacher, FDKD student and baseline, print the table"
	@echo "make test  - install (once), run the test suite on CPU"
	@echo "make data  - build the AV-digits data set only"

venv:
	@bash tools/install_env.sh

# the generator resumes: on a complete data set it only checks (~2 s), and
# it refuses a data set made with other settings or an older format
data: venv
	$(PY) tools/dataset_converters/make_avdigits.py --out $(AVDIGITS)

demo: data
	$(PY) tools/run_demo.py --data-root $(AVDIGITS)

test: venv
	$(PY) -m pytest tests $(PYTEST_ARGS)
