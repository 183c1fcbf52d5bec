# One entry point: make deps, make run, make test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
SERVICES := scripts/services.sh

help:
	@echo "make deps       install system packages and Python test tools (idempotent)"
	@echo "make run        start local Postgres and Redis (unless DATABASE_URL/REDIS_URL are set), migrate, seed, run the server"
	@echo "make test       start local services, build once, run every test"
	@echo "make build      debug build;  make release: release build of plugin-server"
	@echo "make services   start local Postgres and Redis;  make services-stop: stop them"
	@echo "make dist       release archive dist/plugin-server-<version>-linux-<arch>.tar.gz;  make dist-check: check it in a clean folder"
	@echo "make benchmark  release build of plugin-benchmark, run it, write .build/benchmark.jsonl (BENCH_QUICK=1: 1,000 events per cell)"
	@echo "make lint / make format"

deps:
	@scripts/install-deps.sh

build:
	swift build

release:
	swift build -c release --product plugin-server

dist:
	@scripts/dist.sh

dist-check:
	@set -e; services_env="$$($(SERVICES) start)"; eval "$$services_env"; scripts/check-dist.sh

# The plugin-execution and memory cells run before the services start, as the anchor's run-all.sh
# runs its VM cells before starting its Postgres and Redis: services starting up share the cores.
benchmark:
	swift build -c release --product plugin-benchmark
	swift build -c release --product plugin-server
	.build/release/plugin-benchmark --no-e2e --out .build/benchmark.jsonl
	@set -e; services_env="$$($(SERVICES) start)"; eval "$$services_env"; \
	.build/release/plugin-benchmark --variants '' --mem-counts '' --append --out .build/benchmark.jsonl

services:
	@$(SERVICES) start

services-stop:
	@$(SERVICES) stop

run: release
	@set -e; \
	if [ -z "$$DATABASE_URL" ] || [ -z "$$REDIS_URL" ]; then \
	  services_env="$$($(SERVICES) start)"; eval "$$services_env"; \
	fi; \
	bin=.build/release/plugin-server; \
	$$bin migrate --seed; \
	echo ""; \
	echo "Send an event (PostHog's own Celery client):"; \
	echo "  REDIS_URL=$$REDIS_URL scripts/send_event.py --event '\$$pageview' --distinct-id me"; \
	echo "Then: psql $$DATABASE_URL -c 'SELECT id, event, distinct_id, timestamp FROM posthog_event'"; \
	echo ""; \
	exec $$bin

test:
	@set -e; services_env="$$($(SERVICES) start)"; eval "$$services_env"; \
	swift build --build-tests; \
	swift test --skip-build --no-parallel

lint:
	swift format lint --strict -r Sources Tests

format:
	swift format -i -r Sources Tests

.PHONY: help deps build release dist dist-check benchmark services services-stop run test lint format
