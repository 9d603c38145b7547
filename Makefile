# The workshop's commands. `make help` lists them.
#
# Stage commands take the form `make stageN <action>`, e.g. `make stage1 up`:
# the stage goal runs the action's recipe with STAGE=N, and the action goal on
# its own does nothing.
SHELL := /bin/bash
CARGO ?= cargo
STAGE ?= 6

STAGE_GOALS := stage1 stage2 stage3 stage4 stage5 stage6
STAGE_ACTIONS := up down logs traffic outage
ACTION := $(firstword $(filter $(STAGE_ACTIONS),$(MAKECMDGOALS)))

.PHONY: help test lint build run demo verify $(STAGE_GOALS) $(STAGE_ACTIONS)

help: ## list the commands
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'
	@echo "  make stageN ACTION   ACTION: $(STAGE_ACTIONS)"

build: ## build every service and tool (one debug build serves tests and demo)
	$(CARGO) build --workspace --all-targets

lint: ## formatting and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint build ## everything CI runs: lint, every test (in parallel), doc tests
	$(CARGO) nextest run --workspace --no-fail-fast
	$(CARGO) test --workspace --doc

run: ## stage 1's dice-roller natively on :8100, JSON logs on stdout
	$(CARGO) run -p stage1-dice-roller

# `--stage N` only when STAGE was given (make demo STAGE=2, or a stage
# action's STAGE=N); otherwise the tools default to the newest stage that
# exists, which they compute from their table of stages.
STAGE_ARG = $(if $(filter command line environment,$(origin STAGE)),--stage $(STAGE))

demo: ## no Docker needed: run the newest stage (or STAGE=N) natively, send traffic, print the checked checklist and a trace
	$(CARGO) build --workspace --bins
	$(CARGO) run -q -p demo --bin demo -- $(STAGE_ARG) $(DEMO_ARGS)

verify: ## the stage checklist (STAGE=N) against the Docker stack's Prometheus, Loki and Tempo
	$(CARGO) run -q -p demo --bin verify -- $(STAGE_ARG) $(VERIFY_ARGS)

$(STAGE_GOALS):
	@if [ -z "$(ACTION)" ]; then echo "usage: make $@ <$(STAGE_ACTIONS)>" >&2; exit 2; fi
	@$(MAKE) --no-print-directory stage-$(ACTION) STAGE=$(@:stage%=%)

$(STAGE_ACTIONS):
	@:

# --- stage actions (STAGE=N) -------------------------------------------------

.PHONY: stage-up stage-down stage-logs stage-traffic stage-outage

# Simulated users against the stage's entry service on localhost, bounded
# (TRAFFIC_DURATION=1m or TRAFFIC_REQUESTS=N; 15 s by default). Its spans go
# to the stack's collector, so the service graph gets its first edge.
stage-traffic: ## (make stageN traffic) simulated users against stage N, then a latency summary
	OTEL_EXPORTER_OTLP_ENDPOINT="$${OTEL_EXPORTER_OTLP_ENDPOINT:-http://localhost:4318}" \
		$(CARGO) run -q -p traffic-gen -- --stage $(STAGE) $(TRAFFIC_ARGS)
