# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2

.PHONY: run dev test lint install clean bench soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) bootstrap --url http://$(HOST):$(PORT)
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers $(WORKERS) --access-logfile - \
		--access-logformat '%(t)s %(h)s "%(r)s" %(s)s %(b)sB %(M)sms id=%({x-request-id}o)s' app:app

dev: $(STAMP)
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) bootstrap --url http://$(HOST):$(PORT)
	BLOG_CONFIG=development $(FLASK) run --debug --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmarks: the blog's rates against a reference measured in the same run (README).
# wrk, the load generator, comes from Debian's packages. BENCH_ARGS="--comments 0" skips
# the million-comment runs; --database postgresql+psycopg://... runs on PostgreSQL.
bench: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The soak: SOAK_ARGS="--minutes 30 --database postgresql+psycopg://..." (README).
soak: $(STAMP)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
