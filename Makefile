# Two commands matter: `make demo` (the main job) and `make test` (every test).
# Each builds or refreshes .venv/ from requirements.txt first, so a fresh machine
# needs only Python 3.11+ and pip.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Kernels started by nbval and nbgrader import the hidden tests' `autograder` from here.
export PYTHONPATH := $(CURDIR)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv sandbox test test-browser browser postgres demo release figures fixtures answer-key bench clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11, 0) and "this is Python " + sys.version.split()[0])' \
		|| { echo "$(PYTHON) is not Python 3.11.0 or newer, the lowest that works: point PYTHON= at another interpreter, e.g. make demo PYTHON=/usr/bin/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

## release: regenerate release/ (student notebooks) from source/
release: venv
	$(BIN)/python -m autograder release

## figures: redraw images/*.png
figures: venv
	$(BIN)/python images/make_figures.py images

## answer-key: execute each assignment's source notebooks into build/answer_key/<assignment>/
answer-key: venv
	@for folder in source/*/; do name=$$(basename $$folder); mkdir -p build/answer_key/$$name; \
		(cd $$folder && $(CURDIR)/$(BIN)/jupyter nbconvert --to notebook --execute \
			--output-dir $(CURDIR)/build/answer_key/$$name *.ipynb) || exit 1; done

## fixtures: rewrite tests/fixtures/ (each assignment's sample class and the hardening corpus, made from release/)
fixtures: venv
	rm -rf tests/fixtures/class tests/fixtures/class_char_language_model tests/fixtures/hostile tests/fixtures/hostile_char_language_model
	$(BIN)/python -m autograder sample-class tests/fixtures/class --assignment rnn_step_by_step
	$(BIN)/python -m autograder sample-class tests/fixtures/class_char_language_model --assignment char_language_model
	$(BIN)/python -m tests.hostile tests/fixtures/hostile tests/fixtures/hostile_char_language_model

## demo: the main job: build a sample class of every assignment from release/, grade it, print the tables
demo: release sandbox
	rm -rf build/demo
	$(BIN)/python -m autograder sample-class build/demo/submissions
	$(BIN)/python -m autograder grade build/demo/submissions --out build/demo/out --timeout 10
	@echo "Look at build/demo/out/: grades.csv and report.png (the course), and each assignment's <assignment>/:" \
		"grades.csv, results/, feedback/, report.png, course/ (nbgrader's gradebook)"

## bench: time plain nbgrader vs --workers 1 vs --workers N (by hand; prints ratios), then
## (as root: it needs a cgroup) where a notebook's CPU time goes
bench: venv
	$(BIN)/python bench/bench_grading.py
	@if [ "$$(id -u)" = 0 ]; then $(BIN)/python bench/bench_cpu.py --workers 2; \
	else echo "bench/bench_cpu.py skipped: it needs root (a cgroup of its own)"; fi

# $(call apt-install,PACKAGE,CHECK,WITHOUT): when CHECK fails, install Debian's PACKAGE (as root, with
# apt-get); else, or when that fails, say what happens WITHOUT it. Never fails the build.
define apt-install
	@if $(2) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's $(1) for $(3)"; \
		apt-get install -y -q --no-install-recommends $(1) >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(1) >/dev/null; } \
		|| echo "could not install $(1): without it, $(3)"; \
	else echo "no $(1), and not root with apt-get to install it: without it, $(3)"; fi
endef

## sandbox: Debian's bubblewrap, which runs every student kernel (grading refuses to run without it)
sandbox:
	$(call apt-install,bubblewrap,command -v bwrap,grading refuses to run student code)

## browser: Debian's Chromium for the browser tests
browser:
	$(call apt-install,chromium,test -x /usr/bin/chromium,the browser tests are skipped)

## postgres: Debian's PostgreSQL server for the gradebook tests
postgres:
	$(call apt-install,postgresql,ls /usr/lib/postgresql/*/bin/initdb,the PostgreSQL tests are skipped)

## test: every test (unit, release checks, nbval on source/ and notebooks/, the browser tests when
## Chromium is there; -rs prints why a test was skipped)
test: venv sandbox browser postgres
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -rs tests source notebooks \
		--nbval --nbval-current-env --nbval-cell-timeout=300

## test-browser: the release in JupyterLab in headless Chromium, as a student (screenshots in build/browser/)
test-browser: venv browser
	$(BIN)/python -m pytest -v -rs tests/browser

clean:
	rm -rf build
