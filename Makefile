# Two commands do everything (see README.md):
#   make book   - create .venv, install matae_utils with the `book` extra, execute every notebook,
#                 build the HTML book into _build/html (Sphinx warnings are errors)
#   make test   - create .venv, install with the `book` and `dev` extras, run the whole test suite
#
# TORCH_REQUIREMENT is the pip requirement used for PyTorch. Readers keep the default (any recent
# torch). CI machines pin a local CPU wheel (`TORCH_REQUIREMENT=torch==2.13.0`) so that pip does not
# download gigabytes of CUDA packages.

PYTHON ?= python3
VENV ?= .venv
TORCH_REQUIREMENT ?= torch
PIP_FLAGS ?= --quiet --disable-pip-version-check
PYTEST_ARGS ?=
ASSIGNMENTS_OUT ?= _build/assignments

BIN := $(VENV)/bin
STAMP_BOOK := $(VENV)/.matae-book-installed
STAMP_DEV := $(VENV)/.matae-dev-installed

.PHONY: book test test-colab unit lint clean-notebooks runtimes bench clean help colab assignments

help:
	@echo "make book   build the HTML book into _build/html (executes every notebook)"
	@echo "make test   run the whole test suite (unit tests, notebooks, book build)"
	@echo "make test-colab  also run every Colab notebook top to bottom from the installed wheel"
	@echo "make unit   run only the fast unit tests"
	@echo "make lint   ruff over the package, tests and scripts"
	@echo "make clean-notebooks  strip outputs from book/*.ipynb before committing"
	@echo "make bench  headline comparisons, micro-benchmarks and the runtime budget"
	@echo "             -> benchmarks/results.json and results.md (fails if over budget)"
	@echo "make colab  the Colab edition of every chapter and of every assignment's student version"
	@echo "             into _build/colab (builds the book if needed)"
	@echo "make assignments  student, instructor and autograder versions of the course assignments"
	@echo "             (otter-grader) into _build/assignments"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_BOOK): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) "$(TORCH_REQUIREMENT)" -e ".[book]"
	@touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) "$(TORCH_REQUIREMENT)" -e ".[book,dev]"
	@touch $@ $(STAMP_BOOK)

book: $(STAMP_BOOK)
	MATAE_STATIC_WIDGETS=1 MATAE_STRICT_CLAIMS=1 $(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Book built: _build/html/index.html"

test: $(STAMP_DEV)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-colab: $(STAMP_DEV)
	$(BIN)/python -m pytest tests/test_colab.py --run-colab $(PYTEST_ARGS)

unit: $(STAMP_DEV)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check matae_utils tests scripts benchmarks

# the dev extra: the assignments' student versions come from otter-grader (scripts/assignments.py)
colab: $(STAMP_DEV)
	@test -f _build/html/index.html || $(MAKE) book
	$(BIN)/python scripts/colab_edition.py --build _build --out _build/colab
	@echo "Colab edition: _build/colab/book/*.ipynb and _build/colab/assignments/*-student.ipynb"
	@echo "             (CI pushes _build/colab to the colab branch)"

assignments: $(STAMP_DEV)
	$(BIN)/python scripts/assignments.py --out $(ASSIGNMENTS_OUT)
	@echo "Assignments: $(ASSIGNMENTS_OUT)/{student,handout,instructor,grading}"

clean-notebooks: $(STAMP_DEV)
	$(BIN)/python scripts/notebook_tools.py clean book

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/run.py

runtimes: $(STAMP_DEV)
	$(BIN)/python benchmarks/time_notebooks.py

clean:
	rm -rf _build .pytest_cache
