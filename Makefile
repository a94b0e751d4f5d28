# breakglass — see README.md.
GO        ?= go
BIN       := bin/breakglass
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X breakglass/internal/version.Version=$(VERSION) -X breakglass/internal/version.Commit=$(COMMIT)
export CGO_ENABLED ?= 0

.PHONY: all build test bench demo demo-scan fuzz kql-explore soak clean release release-check

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/breakglass

# test: formatting, vet, then the whole suite with the race detector (which
# needs cgo, so it is switched on for this step only).
test:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -timeout 20m ./...
	@# The peak-RSS tests skip under -race (it multiplies memory use): run
	@# them once more without it, so hostile-input memory bounds are checked.
	$(GO) test -count=1 -timeout 10m -run 'Memory' ./internal/logs/ ./internal/scan/ ./internal/source/

# bench: micro-benchmarks, KQL rules against the scan and jq (bench/kqlbench), the audit against collect on a large tenant, whole-program scan throughput (scripts/bench.sh),
# 10,000 single-record HTTP pushes to the daemon (bench/pushbench), Event Hubs through 3 replicas on
# PostgreSQL and 1 on SQLite (bench/replicabench), latency (webhook, and per
# channel type with every channel configured), outbox throughput with a failing channel.
# BEFORE=path/to/breakglass adds rows for another binary to compare with.
PUSHES ?= 10000
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./internal/logs/ ./internal/scan/
	@# KQL rules (filter, summarize-by, join) against the built-in scan and
	@# jq on one generated file of 200,000 mixed records (bench/kqlbench).
	$(GO) test -run '^$$' -bench 'Speed' -benchmem -benchtime 2x -timeout 30m ./bench/kqlbench/
	@# The posture audit of a large tenant (300 CA policies, 500 privileged
	@# users, nesting 10) against collecting the same tenant from loopback.
	$(GO) test -run '^$$' -bench 'Synth' -benchmem -benchtime 5x ./internal/graph/collect/collecttest/ ./internal/posture/livetest/
	BEFORE=$(BEFORE) ./scripts/bench.sh
	$(GO) run ./bench/pushbench -n $(PUSHES) -c 8 --binary $(BIN) $(if $(BEFORE),--binary $(BEFORE))
	BREAKGLASS_BENCH_LATENCY=1 $(GO) test ./cmd/breakglass -run '^(TestLatencyBench|TestNotifyLatencyBench)$$' -count=1 -v | grep -v '^=== RUN' 
	@# Event Hubs (kfake, 6 partitions) -> 3 serve replicas -> PostgreSQL, beside one replica on
	@# SQLite: records/s draining a backlog, and record-to-webhook p50/p99 at 10,000 records/s
	@# (bench/replicabench; the PostgreSQL row is skipped without Debian's PostgreSQL).
	$(GO) run ./bench/replicabench --binary $(BIN)
	@# Outbox drain to a healthy webhook through SQLite, alone and next to a
	@# second healthy, an always-500 and a hanging channel.
	$(GO) test -run '^$$' -bench 'OutboxThroughput' -benchmem ./internal/notify/
	@# Dashboard and API response times (p50, p99) on 100,000 alerts and 1,000 incidents.
	BREAKGLASS_BENCH_DASHBOARD=1 $(GO) test ./internal/web -run '^TestDashboardLoad$$' -count=1 -v -timeout 20m | grep -v '^=== RUN'

# soak: the daemon for SOAK_DURATION (default 1h) at SOAK_RATE records/s
# (default 10,000; half a rotated, followed file, half HTTP batches) with a
# break-glass sign-in every second; RSS, goroutines, open files, outbox depth
# and record-to-webhook latency every minute; fails on growth beyond bounds,
# a lost or duplicated alert (bench/soak). Not part of make test.
SOAK_DURATION ?= 1h
SOAK_RATE     ?= 10000
SOAK_FLAGS    ?=
soak: build
	$(GO) run ./bench/soak --binary $(BIN) --duration $(SOAK_DURATION) --rate $(SOAK_RATE) $(SOAK_FLAGS)

# demo: the posture audit of the bundled example snapshot, then the daemon on
# the bundled example logs, alerting on the console and by mail to a local
# sink, an acknowledge link, the incident, its verified evidence and export
# (scripts/demo.sh; everything under data/; Ctrl-C stops it). DEMO_FAST=1
# stops after the last step. demo-scan: the one-shot scan of the same logs.
demo: build
	$(GO) build -o bin/demo-mailsink ./demo/mailsink
	./scripts/demo.sh

demo-scan: build
	./$(BIN) scan --config examples/breakglass.yaml --no-store examples/logs/

# fuzz: run every fuzz target for FUZZTIME each.
FUZZTIME ?= 60s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; done

# kql-explore: the live KQL oracle tests (Microsoft's parser, from npm; see
# ../shared/tools/kql-oracle) on fresh random seeds instead of the fixed
# ones CI uses. Each disagreement it prints is a parser bug to fix.
KQL_RUNS ?= 20
kql-explore:
	KQL_GEN_SEED=random $(GO) test -timeout 60m ./internal/kql -run 'TestOracleGenerated' -count=$(KQL_RUNS)

# release: every release target (linux/amd64, linux/arm64, darwin/arm64,
# windows/amd64), static (CGO off) and reproducible (-trimpath, no VCS
# stamp, the version and commit above as the only stamps), into dist/ with
# a CycloneDX SBOM per binary (`breakglass sbom`) and SHA256SUMS
# (scripts/release.sh). release-check, run by CI: release, then check the
# artifacts and rebuild one target elsewhere, byte for byte
# (scripts/release-check.sh; REPRO_TARGET=all rebuilds every target).
release:
	VERSION=$(VERSION) COMMIT=$(COMMIT) GO=$(GO) ./scripts/release.sh

release-check:
	VERSION=$(VERSION) COMMIT=$(COMMIT) GO=$(GO) ./scripts/release-check.sh

clean:
	rm -rf bin data dist
