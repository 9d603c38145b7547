# The workshop's commands. `make help` lists them.
#
# Stage commands take the form `make stageN <action>`, e.g. `make stage1 up`:
# the stage goal runs the action's recipe with STAGE=N, and the action goal on
# its own does nothing.
SHELL := /bin/bash
CARGO ?= cargo

STAGE_GOALS := stage1 stage2 stage3 stage4 stage5 stage6
STAGE_ACTIONS := up down logs traffic compare load outage test exercises exercise solution
ACTION := $(firstword $(filter $(STAGE_ACTIONS),$(MAKECMDGOALS)))
# The stage goal on the command line, if any (`make stage3 test`).
STAGE_GOAL := $(firstword $(filter $(STAGE_GOALS),$(MAKECMDGOALS)))
# K in `make stageN exercise K` / `solution K`.
EXERCISE_NUMBERS := 1 2 3 4 5 6 7 8 9
EXERCISE := $(firstword $(filter $(EXERCISE_NUMBERS),$(MAKECMDGOALS)))

.PHONY: help setup deps test test-exercises lint build run demo verify diff bench soak stack-up stack-down stack-logs $(STAGE_GOALS) $(STAGE_ACTIONS)

help: ## list the commands
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'
	@echo "  make stageN ACTION   ACTION: $(STAGE_ACTIONS)"

setup: ## install up front what demo and tests need (postgresql, prometheus, chromium..., cargo-nextest); demo and test also do it first
	@bash .ci/install-deps
	@echo "everything make demo and make test need is installed"

# Run first by demo and test: installs what is missing (apt-get as root or
# with sudo; otherwise it stops with the line to run), silent and quick when
# nothing is.
deps:
	@bash .ci/install-deps

build: ## build every service and tool (one debug build serves tests and demo)
	$(CARGO) build --workspace --all-targets

lint: ## formatting and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# `make stageN test` names the action `test` too; then this goal is only the
# stage goal's argument (see $(STAGE_ACTIONS) below) and runs nothing itself.
ifeq ($(STAGE_GOAL),)
test: deps lint build ## lint, every test (in parallel), doc tests; make stageN test: one stage's
	$(CARGO) nextest run --workspace --no-fail-fast -E 'not binary_id(exercises::caught)'
	$(CARGO) test --workspace --doc
endif

# Minutes of building: each exercise's patch applied to a scratch copy of the
# repository (target/exercises), the touched crate's tests run and required
# to fail, the stage's demo required to name the missing signal. CI runs it
# after make test; EXERCISES_STAGE=N checks one stage's.
test-exercises: deps ## every stage's exercises are caught by its tests and by make demo (CI runs it too)
	$(CARGO) nextest run -p exercises --test caught --no-capture

run: ## stage 1's dice-roller natively on :8100, JSON logs on stdout
	$(CARGO) run -p stage1-dice-roller

# `--stage N` only when STAGE was given (make demo STAGE=2, or a stage
# action's STAGE=N); otherwise the tools default to the newest stage that
# exists, which they compute from their table of stages.
STAGE_ARG = $(if $(filter command line environment,$(origin STAGE)),--stage $(STAGE))

demo: deps ## no Docker needed: run the newest stage (or STAGE=N) natively, send traffic, print the checked checklist and a trace
	$(CARGO) build --workspace --bins
	$(CARGO) run -q -p demo --bin demo -- $(STAGE_ARG) $(DEMO_ARGS)

verify: ## the stage checklist (STAGE=N) against the Docker stack's Prometheus, Loki and Tempo
	$(CARGO) run -q -p demo --bin verify -- $(STAGE_ARG) $(VERIFY_ARGS)

# make diff FROM=2 TO=3 [ONLY=dice-roller]: the unified diff of stage3/ against
# stage2/ without the mechanical renames (package names, crate paths, ports,
# stage numbers), so what remains is the lesson. TO defaults to FROM + 1.
diff: ## what stage TO adds to stage FROM (FROM=1 TO=2, ONLY=dice-roller to narrow it)
	@test -n "$(FROM)" || { echo "usage: make diff FROM=1 TO=2 [ONLY=frontend]" >&2; exit 2; }
	@$(CARGO) run -q -p stage-diff -- --from $(FROM) $(if $(TO),--to $(TO)) $(if $(ONLY),--only $(ONLY))

# --- what telemetry costs (release builds; not part of CI) -------------------

# Bounded: about six minutes with the defaults on two cores. BENCH_SECONDS
# (5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32), BENCH_CALLGRIND_SHORT/LONG
# (500/2500 requests; LONG=0 skips callgrind) and BENCH_MODES change it.
bench: ## stage 1 bare vs full telemetry vs dead/slow collector vs the ready-made crates (wrk, callgrind); rewrites BENCHMARKS.md's table
	$(CARGO) build --release -p bench
	$(CARGO) build --release --manifest-path crates/bench/recipe/Cargo.toml --target-dir target/recipe
	$(CARGO) run --release -q -p bench --bin bench -- --write BENCHMARKS.md

# Ten minutes by default; SOAK_SECONDS shortens it, SOAK_RATE (500 req/s) and
# SOAK_SAMPLE_SECONDS (10) change the load and the sampling; SOAK_KEEP_LOGS=true
# keeps the services' logs (target/soak/, about 70 MB a minute) after a clean run.
soak: ## stage 4's three services at 500 req/s for 10 min, memory sampled; rewrites BENCHMARKS.md's soak table
	$(CARGO) build --release -p bench -p stage4-die-service -p stage4-dice-roller -p stage4-frontend
	$(CARGO) run --release -q -p bench --bin soak -- --write BENCHMARKS.md

# --- the observability stack (needs Docker) -----------------------------------

STACK_COMPOSE := docker compose -f stack/docker-compose.yml

stack-up: ## start Grafana :3000, Prometheus :9090, Loki, Tempo, collector, Alloy
	$(STACK_COMPOSE) up -d
	@echo "Grafana: http://localhost:3000 (dashboards in the Workshop folder)"

# Stages are attached to the stack's network: stopping the stack under them
# would leave compose unable to remove it.
stack-down: ## stop the stack (stop the stages first); its data volumes stay
	@attached=$$(docker ps --filter network=monitoring --filter label=workshop.stage --format '{{.Names}}'); \
	if [ -n "$$attached" ]; then \
	  echo "still running on the monitoring network: $$attached; stop them first (make stageN down)" >&2; \
	  exit 1; \
	fi
	$(STACK_COMPOSE) down

stack-logs: ## follow the stack's own logs (collector, Tempo, Loki, Alloy, ...)
	$(STACK_COMPOSE) logs --follow --tail=100

$(STAGE_GOALS):
	@if [ -z "$(ACTION)" ]; then echo "usage: make $@ <$(STAGE_ACTIONS)>" >&2; exit 2; fi
	@$(MAKE) --no-print-directory stage-$(ACTION) STAGE=$(@:stage%=%) $(if $(EXERCISE),EXERCISE=$(EXERCISE))

# An action is the stage goal's argument; on its own it does nothing (and
# `test` alone is the whole workspace's tests, above).
$(filter-out $(if $(STAGE_GOAL),,test),$(STAGE_ACTIONS)):
	@:

ifneq ($(STAGE_GOAL),)
$(EXERCISE_NUMBERS):
	@:
endif

# --- stage actions (STAGE=N) -------------------------------------------------

.PHONY: stage-up stage-down stage-logs stage-traffic stage-compare stage-load stage-outage stage-test stage-exercises stage-exercise stage-solution

# make stageN test: the tests of stage N's crates only (its dice-roller,
# frontend, die-service, usage-receiver as present), nothing of the other
# stages: `cargo nextest run -p 'stageN-*'`, which plain `cargo test -p
# 'stageN-*'` matches. A stage's crates depend on no other stage's.
stage-test: deps
	$(CARGO) nextest run -p 'stage$(STAGE)-*' --no-fail-fast

# make stageN exercises | exercise K | solution K: a lesson of the stage taken
# out of the working tree for you to put back, its tests as the guide (each
# is a section of stageN/README.md). `exercise` refuses to run over
# uncommitted changes in stageN/; `solution` puts the original back.
EXERCISES = $(CARGO) run -q -p exercises -- --stage $(STAGE)
EXERCISE_USAGE = { echo "usage: make stage$(STAGE) $(@:stage-%=%) K (make stage$(STAGE) exercises lists them)" >&2; exit 2; }

stage-exercises:
	@$(EXERCISES) list

stage-exercise:
	@test -n "$(EXERCISE)" || $(EXERCISE_USAGE)
	@$(EXERCISES) apply $(EXERCISE)

stage-solution:
	@test -n "$(EXERCISE)" || $(EXERCISE_USAGE)
	@$(EXERCISES) solution $(EXERCISE)

# Simulated users against the stage's entry service on localhost, bounded
# (TRAFFIC_DURATION=1m or TRAFFIC_REQUESTS=N; 15 s by default). Its spans go
# to the stack's collector, so the service graph gets its first edge.
stage-traffic: ## (make stageN traffic) simulated users against stage N, then a latency summary
	OTEL_EXPORTER_OTLP_ENDPOINT="$${OTEL_EXPORTER_OTLP_ENDPOINT:-http://localhost:4318}" \
		$(CARGO) run -q -p traffic-gen -- --stage $(STAGE) $(TRAFFIC_ARGS)

# make stage4 compare: N sequential /roll calls against one /roll-async?times=N
# on the stage's dice-roller, for N in 1, 5, 10, 20, and the speed-up table.
# Bounded: COMPARE_REPETITIONS (default 5) runs per size and mode.
stage-compare: ## (make stage4 compare) one die at a time vs all at once, as a table
	OTEL_EXPORTER_OTLP_ENDPOINT="$${OTEL_EXPORTER_OTLP_ENDPOINT:-http://localhost:4318}" \
		$(CARGO) run -q -p traffic-gen -- --stage $(STAGE) --compare $(COMPARE_ARGS)

# make stage5 load: list and get queries to the die-service on a fixed
# schedule (open loop): QUERIES_PER_SECOND (20), DURATION_SECONDS (30),
# LIST_TO_GET_RATIO (0.2, the share of lists); achieved rate, latency from the
# schedule, error rate.
stage-load: ## (make stage5 load) the database load test, open loop
	OTEL_EXPORTER_OTLP_ENDPOINT="$${OTEL_EXPORTER_OTLP_ENDPOINT:-http://localhost:4318}" \
		$(CARGO) run -q -p traffic-gen -- --stage $(STAGE) --db-load $(LOAD_ARGS)

# make stage5 outage: rolls at 10/s while `docker stop postgres-stage5` takes
# the database away for OUTAGE_SECONDS (10), then `docker start`; prints the
# failures seen and the time to recover. Needs `make stage5 up`.
stage-outage: ## (make stage5 outage) stop PostgreSQL under traffic, start it, time the recovery
	OTEL_EXPORTER_OTLP_ENDPOINT="$${OTEL_EXPORTER_OTLP_ENDPOINT:-http://localhost:4318}" \
		$(CARGO) run -q -p traffic-gen -- --stage $(STAGE) --outage $(OUTAGE_ARGS)

STAGE_COMPOSE = docker compose -f stage$(STAGE)/docker-compose.yml

# make stageN up: build the stage's images and start it on the stack's network.
stage-up:
	@test -f stage$(STAGE)/docker-compose.yml || { echo "stage $(STAGE) has no docker-compose.yml yet" >&2; exit 2; }
	@docker network inspect monitoring >/dev/null 2>&1 || { echo "the monitoring network is missing: start the stack first (make stack-up)" >&2; exit 1; }
	$(STAGE_COMPOSE) up -d --build

# make stageN down: stop and remove the stage's containers.
stage-down:
	$(STAGE_COMPOSE) down

# make stageN logs: follow the stage's logs (the raw JSON lines Alloy ships).
stage-logs:
	$(STAGE_COMPOSE) logs --follow --tail=100
