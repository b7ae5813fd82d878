# xhep — build, test, benchmark and demo. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
CLANG ?= clang-19
export CLANG
BIN := bin
# Tests get a throwaway MariaDB unless XHEP_TEST_DSN is set already.
TEST_TIMEOUT ?= 60m

.PHONY: help deps generate check-generate build test bench bench-quick fuzz lint demo demo-stop db db-stop clean

help: ## show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-16s %s\n",$$1,$$2}'

deps: ## install missing Debian packages (needs root)
	@scripts/deps.sh

generate: deps ## rebuild the BPF objects with bpf2go and the pinned clang
	$(GO) generate ./bpf/...

check-generate: generate ## fail when the committed bpf2go output is stale
	@git diff --exit-code -- bpf/ || { echo "bpf2go output is stale: run make generate and commit" >&2; exit 1; }

build: ## build the three binaries into bin/
	$(GO) build -o $(BIN)/ ./cmd/...

db: deps ## start the throwaway MariaDB (run/mariadb) and print its DSN
	@scripts/mariadb.sh start

db-stop: ## stop the throwaway MariaDB
	@scripts/mariadb.sh stop

test: deps check-generate build ## run every test (root runs the BPF and namespace tests too), then a quick benchmark smoke run
	$(GO) vet ./...
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} \
	  $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} $(BIN)/xhep-bench --quick

bench-quick: deps build ## the whole benchmark suite in about 30 s (smoke run, no thresholds)
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} $(BIN)/xhep-bench --quick

bench: deps build ## run the benchmark suite, print the results table and write it to bench.md
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} $(BIN)/xhep-bench --out bench.md

fuzz: ## run each fuzz test for FUZZTIME (default 20s)
	@for p in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
	    echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} $$p || exit 1; \
	  done; done

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

demo: deps build ## run the whole job end to end (needs root)
	@scripts/demo.sh

demo-stop: ## stop what the demo left running
	@scripts/demo.sh stop

clean: ## remove build output (keeps the database)
	rm -rf $(BIN)
