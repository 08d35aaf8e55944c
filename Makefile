# gatepost's build. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

# Never let the AWS SDK try the EC2 metadata address from a build, a test or
# `make run`: nothing but loopback is ours to talk to.
export AWS_EC2_METADATA_DISABLED := true

BIN := $(CURDIR)/.bin
BENCH_FLAGS ?=
# Built once per machine and kept outside the repository: SeaweedFS takes
# about six minutes to build.
CACHE_DIR ?= $(HOME)/.cache/gatepost
WEED_VERSION := $(shell awk '$$1 == "github.com/seaweedfs/seaweedfs" {print $$2}' tools/seaweedfs/go.mod)
WEED := $(CACHE_DIR)/weed-$(WEED_VERSION)
export GATEPOST_WEED := $(WEED)
# MinIO (AGPL-3.0) is only ever run as a separate process by the tests,
# never imported; built once per machine, like SeaweedFS.
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
MINIO := $(CACHE_DIR)/minio-$(MINIO_VERSION)/minio
export GATEPOST_MINIO := $(MINIO)

PLUGINS := protoc-gen-go protoc-gen-go-grpc protoc-gen-grpc-gateway protoc-gen-openapiv2 grpcurl openapi31

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST) | \
		sed 's|$$(CACHE_DIR)|$(CACHE_DIR)|g'

.PHONY: run
run: build weed $(BIN)/grpcurl ## Run gatepost end to end against a local SeaweedFS (Ctrl-C stops both)
	@go build -o $(BIN)/devstack ./e2e/devstack
	@# exec: Ctrl-C reaches devstack, which stops everything and exits 0
	@# (make, interrupted too, then exits 130).
	@exec $(BIN)/devstack -gatepost $(BIN)/gatepost -weed $(WEED) -grpcurl $(BIN)/grpcurl

.PHONY: test
test: weed minio build tools npm ## Run every test: unit, gateway, integration (SeaweedFS and MinIO, Chromium), make run's smoke test, the npm package, deploy files
	GATEPOST_REQUIRE_S3=1 GATEPOST_BIN=$(BIN)/gatepost GATEPOST_GRPCURL=$(BIN)/grpcurl \
		go test -race -count=1 ./...
	go -C deploy test -count=1 ./...

# The pinned JavaScript tools the tests use (TypeScript for the npm
# package's declarations), from the npm registry with the lockfile. Without
# npm the package test is skipped (CI installs npm and requires it).
.PHONY: npm
npm: ## Install the pinned JavaScript test tools (npm ci in tools/npm, and Uppy 6 in tools/npm/uppy6)
	@if ! command -v npm >/dev/null; then echo "npm not found: the npm package test will be skipped (apt-get install npm)"; \
	else for d in tools/npm tools/npm/uppy6; do \
		if ! sha256sum --status -c $$d/node_modules/.lockfile.sha256 2>/dev/null; then \
			npm ci --prefix $$d --no-audit --no-fund --loglevel=error && \
			sha256sum $$d/package-lock.json > $$d/node_modules/.lockfile.sha256 || exit 1; fi; done; fi

.PHONY: test-short
test-short: ## Run the fast tests only (no SeaweedFS)
	go test -short ./...
	go -C deploy test -short ./...

.PHONY: bench
bench: build $(BIN)/ghz ## Measure throughput and latency (Go benchmarks, wrk, ghz, a 5-minute soak) into BENCHMARKS.md; installs wrk with apt-get if missing
	@command -v wrk >/dev/null || { echo "Installing wrk from Debian"; apt-get update -qq && apt-get install -y -qq wrk; }
	go build -o $(BIN)/baseline ./bench/baseline
	go run ./bench/run -gatepost $(BIN)/gatepost -baseline $(BIN)/baseline -ghz $(BIN)/ghz $(BENCH_FLAGS)

.PHONY: bench-quick
bench-quick: ## Like bench, with short runs and no soak (BENCHMARKS.md is not meant to be committed from this)
	$(MAKE) bench BENCH_FLAGS="-runs 1 -duration 3s -soak 0 -out /tmp/BENCHMARKS.quick.md"

$(BIN)/ghz: tools/ghz/go.mod tools/ghz/go.sum
	GOBIN=$(BIN) go -C tools/ghz install tool
	@touch $@

.PHONY: build
build: ## Build the gatepost binary into .bin/
	go build -buildvcs=auto -o $(BIN)/gatepost .

.PHONY: generate
generate: tools ## Regenerate gen/ from proto/ (and the OpenAPI 3.1 document from the 2.0 one)
	$(BIN)/buf generate
	$(BIN)/openapi31 gen/gatepost/v1/upload.swagger.json gen/gatepost/v1/upload.openapi.json

.PHONY: checkgenerate
checkgenerate: generate ## Fail if gen/ differs from what proto/ generates
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		git status --porcelain -- gen; git diff --stat -- gen; \
		echo "gen/ is out of date: run 'make generate' and commit the result"; exit 1; \
	fi

.PHONY: lint
lint: tools ## Run go vet, gofmt, buf lint and buf format
	go vet ./...
	go -C deploy vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(BIN)/buf lint
	$(BIN)/buf format -d --exit-code

.PHONY: tools
tools: $(BIN)/buf $(addprefix $(BIN)/,$(PLUGINS)) ## Build the pinned code generators into .bin/

$(BIN)/buf: tools/buf/go.mod tools/buf/go.sum
	GOBIN=$(BIN) go -C tools/buf install tool
	@touch $@

$(addprefix $(BIN)/,$(PLUGINS)) &: tools/go.mod tools/go.sum
	@echo "Building grpcurl and the protoc plugins into $(BIN) (a minute or two, once)"
	@GOBIN=$(BIN) tools/with-progress "grpcurl and the protoc plugins" go -C tools install tool
	@touch $(addprefix $(BIN)/,$(PLUGINS))

.PHONY: weed
weed: $(WEED) ## Build SeaweedFS (the S3 server for tests and make run), cached in $(CACHE_DIR)

$(WEED):
	@mkdir -p $(CACHE_DIR)
	@echo "Building SeaweedFS $(WEED_VERSION) into $(CACHE_DIR), once per machine:"
	@echo "  6 to 15 minutes on 2 cores, about 3 GB of Go module and build caches."
	@tools/with-progress SeaweedFS go build -C tools/seaweedfs -o $@.tmp github.com/seaweedfs/seaweedfs/weed
	@mv $@.tmp $@

.PHONY: minio
minio: $(MINIO) ## Build MinIO (the second S3 server the tests run against), cached in $(CACHE_DIR)

$(MINIO):
	@mkdir -p $(dir $@)
	@echo "Building MinIO $(MINIO_VERSION) into $(dir $@), once per machine (for make test):"
	@echo "  5 to 12 minutes on 2 cores, about 2 GB of Go module and build caches."
	@GOBIN=$(dir $@) tools/with-progress MinIO go install github.com/minio/minio@$(MINIO_VERSION)

.PHONY: clean
clean: ## Remove .bin/ (the SeaweedFS and MinIO builds in $(CACHE_DIR) are kept)
	rm -rf $(BIN)
