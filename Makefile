# netnav — quick start: `make run` (set up and plan the bundled example), `make test` (every test),
# `make serve` (the web application on http://127.0.0.1:8000/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_DEPS := $(VENV)/.test-deps
EXAMPLE := examples/EX27-small-intestine-multifocal-g1.json
GUIDE_DIR := out

.PHONY: serve setup test-deps run test lint typecheck check bench bench-cohort vignettes golden clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-deps
	./scripts/install-system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# Byte-compile the package: with PYTHONDONTWRITEBYTECODE set, Python would otherwise
	@# recompile every module of an editable install on each command (slower start-up).
	$(BIN)/python -m compileall -q src >/dev/null
	@touch $(STAMP)

# Test-only system packages (chromium for the browser test, PostgreSQL for the database
# tests); `make run` and `make setup` do not need them.
test-deps: $(TEST_DEPS)

$(TEST_DEPS): scripts/install-test-deps | $(STAMP)
	./scripts/install-test-deps
	@touch $(TEST_DEPS)

run: $(STAMP)
	$(BIN)/netnav recommend $(EXAMPLE)
	$(BIN)/netnav guide $(EXAMPLE) --out $(GUIDE_DIR) --settings examples/settings.toml

# The web application and JSON API on http://127.0.0.1:8000/ (plans saved in
# ~/.local/share/netnav/netnav.db unless NETNAV_DATABASE_URL says otherwise).
serve: $(STAMP)
	$(BIN)/netnav serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) $(TEST_DEPS)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

# Grades the shared vignettes from outside with the shared grader (needs ../shared beside
# the project, as on the developers' machines and CI).
vignettes: $(STAMP)
	@test -f ../shared/tools/grade.py || { echo "make vignettes needs ../shared/tools/grade.py"; exit 2; }
	$(BIN)/python ../shared/tools/grade.py ../shared/vignettes --project . -v

golden: $(STAMP)
	$(BIN)/python -m tests.golden_plans

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=median,mean,min,max,rounds -p no:cacheprovider -o addopts=""

# Cohort scaling: synthetic cohorts of 10k, 100k and 1M cases through `netnav cohort run`
# (cases per second per core, peak memory, ratio to the parse floor). The 1M run takes
# several minutes and ~20 GB of disk while it runs; SIZES="10000 100000" for a quick look.
SIZES ?= 10000 100000 1000000
bench-cohort: $(STAMP)
	$(BIN)/python -m benchmarks.cohort_scaling --sizes $(SIZES)

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .benchmarks
