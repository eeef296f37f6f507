SHELL := /bin/bash
# Crescent: the README's two commands are `make demo` and `make test`.
# Every target installs the Debian packages it needs first (as root, when missing).

SWIFT ?= swift
APT_PACKAGES := liblua5.4-dev lua5.4 libsqlite3-dev libedit-dev libjemalloc-dev pkg-config zlib1g-dev
# The tests also drive a terminal (tmux, for the REPL) and a browser (headless Chromium, for the dashboard).
TEST_APT_PACKAGES := tmux chromium
BIN := .build/debug/crescent

.PHONY: deps test-deps apt-install build demo test bench release clean sdk-venv serve

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"

apt-install:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

# The main job, on the embedded defaults: replay the example events through the
# shipped rules into a fresh local SQLite file (demo.db), two more weeks of
# virtual time for the journeys in flight, and print the summary and journeys.
demo: build
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN) replay examples/events.ndjson --rules rules --plugins plugins --db demo.db --until +14d
	$(BIN) journeys --db demo.db
	@echo "explain any event: $(BIN) explain <messageId> --db demo.db"

# The Segment and RudderStack Python SDKs (from PyPI) that the server's
# integration tests drive, the OpenAPI validator and schemathesis (which fuzzes
# the server from docs/openapi.yaml), in a virtualenv under .build.
SDK_VENV := .build/sdk-venv
sdk-venv:
	@if ! $(SDK_VENV)/bin/python -c "import segment.analytics, rudderstack.analytics, openapi_spec_validator, schemathesis" 2>/dev/null; then \
	  echo "installing the Segment and RudderStack SDKs into $(SDK_VENV)"; \
	  python3 -m venv $(SDK_VENV) && $(SDK_VENV)/bin/pip install -q segment-analytics-python rudder-sdk-python openapi-spec-validator "schemathesis>=4.3,<5"; \
	fi

# The server on the embedded defaults: shipped rules, crescent.db, port 8080.
# Keys come from CRESCENT_WRITE_KEYS / CRESCENT_BROWSER_WRITE_KEYS / CRESCENT_ADMIN_TOKEN, else these development ones.
serve: build
	CRESCENT_WRITE_KEYS="$${CRESCENT_WRITE_KEYS:-dev-write-key}" CRESCENT_BROWSER_WRITE_KEYS="$${CRESCENT_BROWSER_WRITE_KEYS:-dev-browser-key}" \
	CRESCENT_ADMIN_TOKEN="$${CRESCENT_ADMIN_TOKEN:-dev-admin-token}" \
	  $(BIN) serve --rules rules --plugins plugins --db crescent.db

test: test-deps sdk-venv
	mkdir -p .build && $(SWIFT) test 2>&1 | tee .build/test.log; exit $${PIPESTATUS[0]}

release: deps
	$(SWIFT) build -c release

# Benchmarks: figures go to docs/performance.md.
bench: release
	.build/release/crescent-bench

clean:
	rm -rf .build
