# xhep — build, test, benchmark and demo. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
CLANG ?= clang-19
export CLANG
BIN := bin
# Tests get a throwaway MariaDB unless XHEP_TEST_DSN is set already.
TEST_TIMEOUT ?= 60m

.PHONY: help deps generate check-generate build test vm-test bench bench-quick fuzz lint demo demo-stop db db-stop clickhouse clickhouse-stop clean package

help: ## show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-16s %s\n",$$1,$$2}'

deps: ## install missing Debian packages (needs root)
	@scripts/deps.sh

generate: deps ## rebuild the BPF objects with bpf2go and the pinned clang
	$(GO) generate ./bpf/...

check-generate: generate ## fail when the committed bpf2go output is stale
	@git diff --exit-code -- bpf/ || { echo "bpf2go output is stale: run make generate and commit" >&2; exit 1; }

# --version: release version, commit and the SHA-256 of the BPF objects the agent embeds.
VERSION ?= 0.1.0
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
BPF_SHA := $(shell cat $$(ls bpf/*.o | sort) | sha256sum | cut -d' ' -f1)
VPKG := github.com/xhep/xhep/cmd/internal/version
LDFLAGS := -X $(VPKG).version=$(VERSION) -X $(VPKG).commit=$(COMMIT) -X $(VPKG).bpfHash=$(BPF_SHA)

build: ## build the three binaries into bin/
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

db: deps ## start the throwaway MariaDB (run/mariadb) and print its DSN
	@scripts/mariadb.sh start

db-stop: ## stop the throwaway MariaDB
	@scripts/mariadb.sh stop

clickhouse: deps ## start the throwaway ClickHouse (run/clickhouse-25900) and print its address
	@scripts/clickhouse.sh start

clickhouse-stop: ## stop the throwaway ClickHouse
	@scripts/clickhouse.sh stop

test: deps check-generate build ## run every test (root runs the BPF and namespace tests too), then a quick benchmark smoke run
	$(GO) vet ./...
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} \
	XHEP_TEST_CLICKHOUSE=$${XHEP_TEST_CLICKHOUSE:-$$(scripts/clickhouse.sh start)} \
	  $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	# The API tests again, on the ClickHouse backend.
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} \
	XHEP_TEST_CLICKHOUSE=$${XHEP_TEST_CLICKHOUSE:-$$(scripts/clickhouse.sh start)} XHEP_TEST_BACKEND=clickhouse \
	  $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./collector/api/
	$(MAKE) --no-print-directory vm-test
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} XHEP_TEST_CLICKHOUSE=$${XHEP_TEST_CLICKHOUSE:-$$(scripts/clickhouse.sh start)} $(BIN)/xhep-bench --quick

vm-test: deps ## the BPF and live-capture tests inside Debian's 5.10 and 6.1 kernels under QEMU (root; XHEP_VM=0 skips)
	GO=$(GO) scripts/vm/test.sh

bench-quick: deps build ## the whole benchmark suite in about 30 s (smoke run, no thresholds)
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} XHEP_TEST_CLICKHOUSE=$${XHEP_TEST_CLICKHOUSE:-$$(scripts/clickhouse.sh start)} $(BIN)/xhep-bench --quick

bench: deps build ## the benchmark suite (live ladder, mixed, replay, ...), table also in bench.md; PEER=heplify=PATH runs it side by side
	XHEP_TEST_DSN=$${XHEP_TEST_DSN:-$$(scripts/mariadb.sh start)} XHEP_TEST_CLICKHOUSE=$${XHEP_TEST_CLICKHOUSE:-$$(scripts/clickhouse.sh start)} $(BIN)/xhep-bench --out bench.md $(if $(PEER),--peer $(PEER))

fuzz: ## run each fuzz test for FUZZTIME (default 20s)
	@for p in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
	    echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} $$p || exit 1; \
	  done; done

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

demo: deps build ## run the whole job end to end (needs root); STORAGE=clickhouse stores in ClickHouse
	@STORAGE=$(STORAGE) scripts/demo.sh

demo-stop: ## stop what the demo left running
	@scripts/demo.sh stop

clean: ## remove build output (keeps the database)
	rm -rf $(BIN) $(DIST)

# Debian packages: xhep-agent, xhep-collector (binary, systemd unit, example
# config, the xhep user; no service started), xhep-bench; built by nfpm (a
# go.mod tool). DEB_VERSION is VERSION plus the commit's date and hash.
DIST ?= dist
DEB_VERSION ?= $(VERSION)+git$(shell git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null).$(shell git rev-parse --short HEAD 2>/dev/null)
package: ## build .deb packages of the agent, collector and bench into dist/ (nfpm)
	rm -rf $(DIST)/bin && mkdir -p $(DIST)/bin
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(DIST)/bin/ ./cmd/...
	for p in agent collector bench; do \
	  sed 's|$${XHEP_BIN}|$(DIST)/bin|g' deploy/nfpm/xhep-$$p.yaml > $(DIST)/xhep-$$p.nfpm.yaml && \
	  XHEP_VERSION='$(DEB_VERSION)' $(GO) tool nfpm package \
	    --config $(DIST)/xhep-$$p.nfpm.yaml --packager deb --target $(DIST)/ || exit 1; \
	done
	@ls -l $(DIST)/*.deb
