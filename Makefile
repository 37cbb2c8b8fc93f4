# Rapport: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The PostgreSQL server the tests create their databases on.
RAPPORT_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export RAPPORT_TEST_POSTGRES_URL
# Pinned: later releases need Node.js 22.
REDOCLY := npx --yes @redocly/cli@2.77.0

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: run
run: ## Start the server on SQLite (./data), creating and migrating it
	cargo run -p rapport-server -- serve

# cargo-nextest runs every test in a process of its own, in parallel, and is what CI uses.
# Without it, `make test` runs the same tests with plain `cargo test` and says so.
HAVE_NEXTEST := $(shell cargo nextest --version >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_NEXTEST),yes)
TEST_ALL := cargo nextest run --workspace && cargo test --doc --workspace
TEST_SQLITE := cargo nextest run --workspace -E 'not test(/postgres/)' && cargo test --doc --workspace
else
TEST_ALL := cargo test --workspace
TEST_SQLITE := cargo test --workspace -- --skip postgres
endif

.PHONY: test
test: ## Run every test: unit, store and API, on SQLite and PostgreSQL
	@if [ "$(HAVE_NEXTEST)" != yes ]; then \
		echo "cargo-nextest is not installed: running the tests with cargo test instead (slower)."; \
		echo "Install it for faster runs: cargo install cargo-nextest --locked"; \
	fi
	@if scripts/postgres-reachable "$(RAPPORT_TEST_POSTGRES_URL)"; then \
		$(TEST_ALL); \
	elif [ -n "$$RAPPORT_REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL is not reachable at $(RAPPORT_TEST_POSTGRES_URL), and RAPPORT_REQUIRE_POSTGRES is set." >&2; exit 1; \
	else \
		echo ""; \
		echo "################################################################################"; \
		echo "##  WARNING: PostgreSQL is NOT reachable at $(RAPPORT_TEST_POSTGRES_URL)"; \
		echo "##  Running the SQLite tests ONLY. Set RAPPORT_TEST_POSTGRES_URL to test both."; \
		echo "################################################################################"; \
		echo ""; \
		$(TEST_SQLITE); \
	fi

# What `make bench` passes to rapport-bench (`make bench BENCH_ARGS="--customers 50000"`).
BENCH_ARGS ?= --customers 1000000

.PHONY: bench
bench: ## Seed 1M customers; time the store, then load the release server over HTTP with wrk
	cargo build --release -p rapport-server -p rapport-bench
	@if scripts/postgres-reachable "$(RAPPORT_TEST_POSTGRES_URL)"; then \
		target/release/rapport-bench $(BENCH_ARGS); \
	elif [ -n "$$RAPPORT_REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL is not reachable at $(RAPPORT_TEST_POSTGRES_URL), and RAPPORT_REQUIRE_POSTGRES is set." >&2; exit 1; \
	else \
		echo ""; \
		echo "################################################################################"; \
		echo "##  WARNING: PostgreSQL is NOT reachable at $(RAPPORT_TEST_POSTGRES_URL)"; \
		echo "##  Benchmarking SQLite ONLY. Set RAPPORT_TEST_POSTGRES_URL to measure both."; \
		echo "################################################################################"; \
		echo ""; \
		target/release/rapport-bench $(BENCH_ARGS) --backend sqlite; \
	fi

# What `make soak` passes to rapport-soak (`make soak SOAK_ARGS="--duration 1800"`).
SOAK_ARGS ?= --duration 300

.PHONY: soak
soak: ## Soak the release server with a mixed load on SQLite, then PostgreSQL; fail on 5xx, p99 > 100 ms or RSS growth > 20%
	cargo build --release -p rapport-server -p rapport-bench
	@if scripts/postgres-reachable "$(RAPPORT_TEST_POSTGRES_URL)"; then \
		backends="sqlite postgres"; \
	elif [ -n "$$RAPPORT_REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL is not reachable at $(RAPPORT_TEST_POSTGRES_URL), and RAPPORT_REQUIRE_POSTGRES is set." >&2; exit 1; \
	else \
		echo ""; \
		echo "################################################################################"; \
		echo "##  WARNING: PostgreSQL is NOT reachable at $(RAPPORT_TEST_POSTGRES_URL)"; \
		echo "##  Soaking SQLite ONLY. Set RAPPORT_TEST_POSTGRES_URL to soak both."; \
		echo "################################################################################"; \
		echo ""; \
		backends=sqlite; \
	fi; \
	status=0; \
	for backend in $$backends; do \
		target/release/rapport-soak --backend $$backend $(SOAK_ARGS) || status=1; \
	done; \
	exit $$status

.PHONY: openapi
openapi: ## Rewrite openapi/openapi.json from the code
	cargo run -q -p rapport-server -- openapi > openapi/openapi.json

.PHONY: openapi-check
openapi-check: ## Fail when openapi/openapi.json differs from what the code generates
	@cargo run -q -p rapport-server -- openapi | diff -u openapi/openapi.json - \
		|| { echo "openapi/openapi.json is stale: run 'make openapi' and commit it." >&2; exit 1; }

.PHONY: clients
clients: ## Generate the Python client and TypeScript types, and run the quick start with them
	scripts/generated-clients

.PHONY: schemathesis
schemathesis: ## Property-based tests of every operation with schemathesis (each main role on SQLite, the admin on both)
	scripts/schemathesis

.PHONY: openapi-lint
openapi-lint: ## Lint the OpenAPI document with Redocly's recommended rules
	$(REDOCLY) lint openapi/openapi.json

.PHONY: purity
purity: ## Check that the domain crate depends on no web or database crate
	@if cargo tree -p rapport-domain -e normal --prefix none | grep -Ei '^(actix|sea-orm|sea-query|sqlx|utoipa|tokio)'; then \
		echo "rapport-domain must not depend on the crates above." >&2; exit 1; \
	else echo "rapport-domain is pure."; fi

.PHONY: fmt
fmt: ## Format the code
	cargo fmt --all

.PHONY: lint
lint: ## rustfmt check and clippy, as CI runs them
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: ci
ci: ## Everything CI runs
	.ci/run
