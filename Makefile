# The quick start is `make demo` and `make test`; both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-precision clean

install: $(STAMP)

# Quiet, so that the demo is the first screen a new user reads. setuptools reminds every
# editable install of a flat layout that a folder named like the package may shadow it;
# that is the point of an editable install here, so the reminder is filtered out.
$(STAMP): pyproject.toml
	@echo "make install: creating $(VENV) with review-bot and its dev tools (about a minute)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e '.[dev]'
	@test -x $(BIN)/review-bot && test -x $(BIN)/ast-grep
	@touch $(STAMP)

demo: install
	$(BIN)/review-bot check --root examples --diff examples/nova-regression.diff --fail-on off

test: install
	$(BIN)/ast-grep test
	$(BIN)/review-bot rules test
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

bench: install bench-precision
	$(BIN)/python bench/hunk_vs_cli.py
	$(BIN)/python bench/new_file_vs_cli.py
	$(BIN)/python bench/many_files_vs_cli.py
	$(BIN)/python bench/baseline_vs_cli.py
	$(BIN)/python bench/webhook_load.py
	$(BIN)/python bench/replicas_load.py
	$(BIN)/python bench/github_review.py
	$(BIN)/python bench/github_parity.py
	$(BIN)/python bench/gerrit_parity.py

# bench/github_parity.py and bench/gerrit_parity.py need NOVA_GIT (a git directory of
# openstack/nova), else they skip.
# The cross-project half needs NEUTRON_GIT, KEYSTONE_GIT, CELERY_GIT and CERTBOT_GIT (git
# directories of those projects); a project whose variable is unset is reported as skipped.
bench-precision: install
	$(BIN)/python bench/precision/run.py
	$(BIN)/python bench/precision/cross_project.py

clean:
	rm -rf $(VENV) build *.egg-info
