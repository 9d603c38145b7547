# The workshop's commands. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help test lint build run

help: ## list the commands
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

build: ## build every service and tool
	$(CARGO) build --workspace --all-targets

lint: ## formatting and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint ## everything CI runs: lint, every test (in parallel), doc tests
	$(CARGO) nextest run --workspace --no-fail-fast
	$(CARGO) test --workspace --doc

run: ## stage 1's dice-roller natively on :8100, JSON logs on stdout
	$(CARGO) run -p stage1-dice-roller
