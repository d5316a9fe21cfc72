# The one test command: `make test` runs every check CI runs.
# .ci/run installs what a fresh machine lacks, then calls `make test`.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# An execution count, not a duration: with a duration, Go 1.26's fuzz coordinator can report
# a spurious "context deadline exceeded" when the time runs out (golang/go#75804).
FUZZTIME    ?= 50000x
# Targets whose every input runs a whole scenario (about 13 inputs/s): a smaller count.
FUZZ_SLOW      = FuzzListCache|FuzzList
FUZZTIME_SLOW ?= 600x
WEB         := web/react-hook
NOTES_WEB   := examples/notes/web
E2E         := e2e
# The benchmarks against other servers: a module of its own, so that the root module does
# not depend on them.
PEERS       := bench/peers

.PHONY: test go-checks go-test go-min go-min-check fuzz web-test types types-check example-check example-build e2e screenshot bench bench-peers soak

test: go-checks go-min-check go-test fuzz web-test types-check example-check e2e
	@echo "make test: all checks passed"

# Formatting, module tidiness, vet and staticcheck.
go-checks:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) mod tidy
	git diff --exit-code -- go.mod go.sum
	$(GO) vet ./...
	$(STATICCHECK) ./...
	cd $(PEERS) && $(GO) mod tidy && git diff --exit-code -- go.mod go.sum && $(GO) vet ./... && $(STATICCHECK) ./...

# WSSYNC_REQUIRE_REDIS=1: without redis-server the Redis tests fail here instead of skipping.
go-test:
	WSSYNC_REQUIRE_REDIS=1 $(GO) test -race -count=1 ./...

# The oldest Go the module supports: go.mod's go directive (1.26.0, which the dependencies
# require: validator, go-redis, x/crypto, client_golang; the code itself needs 1.25 for
# sync.WaitGroup.Go). GOTOOLCHAIN downloads that toolchain from the module proxy once.
# go-min-check, part of `make test`: vet with it (which compiles every package and test
# file), run the examples of the root package and wsclient (real sockets, the main API) and
# the internal packages' tests with it, vet the bench/peers module with it, and check that
# no nested module (web/go.mod, bench/peers/go.mod) asks for a newer Go than the root.
# go-min runs the whole suite with it (minutes; not in CI).
GO_MIN ?= $(shell sed -n 's/^go //p' go.mod)
GO_MIN_TESTS := -run '^Example' . ./wsclient
go-min-check:
	GOTOOLCHAIN=go$(GO_MIN) $(GO) version
	@set -e; for m in $$(git ls-files '*go.mod' | grep -v '^go.mod$$'); do v=$$(sed -n 's/^go //p' $$m); \
	  if [ "$$(printf '%s\n%s\n' "$$v" "$(GO_MIN)" | sort -V | tail -n1)" != "$(GO_MIN)" ]; then \
	    echo "$$m: go $$v is newer than go.mod's go $(GO_MIN)"; exit 1; fi; done
	GOTOOLCHAIN=go$(GO_MIN) $(GO) vet ./...
	GOTOOLCHAIN=go$(GO_MIN) $(GO) test -count=1 $(GO_MIN_TESTS)
	GOTOOLCHAIN=go$(GO_MIN) $(GO) test -count=1 ./internal/patch ./internal/jsontree ./internal/proto
	cd $(PEERS) && GOTOOLCHAIN=go$(GO_MIN) $(GO) vet ./...

go-min:
	GOTOOLCHAIN=go$(GO_MIN) $(GO) version
	GOTOOLCHAIN=go$(GO_MIN) $(GO) vet ./...
	WSSYNC_REQUIRE_REDIS=1 GOTOOLCHAIN=go$(GO_MIN) $(GO) test -count=1 ./...

# A short run of every fuzz target (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for t in $$($(GO) test -list '^Fuzz' . | grep '^Fuzz'); do \
	  n=$(FUZZTIME); case $$t in $(FUZZ_SLOW)) n=$(FUZZTIME_SLOW);; esac; \
	  echo "fuzz $$t ($$n)"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $$n . ; done
	@set -e; for p in ./internal/patch ./wsauth ./wspresence ./wsclient; do for t in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
	  echo "fuzz $$t ($(FUZZTIME))"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p ; done; done

web-test:
	cd $(WEB) && { [ -d node_modules ] || npm ci; } && npm run lint && npm test && npm run typecheck && npm run build

# The notes example's TypeScript types, generated from the Go server's schema
# (`-print-schema`, a dry run of its session factory) by cmd/wssync-gen. `make types`
# regenerates them; types-check fails when the committed file is stale.
NOTES_TYPES := $(NOTES_WEB)/src/wssync.gen.ts
types:
	$(GO) run ./examples/notes -print-schema | $(GO) run ./cmd/wssync-gen -out $(NOTES_TYPES)

types-check: types
	git ls-files --error-unmatch $(NOTES_TYPES) >/dev/null
	git diff --exit-code -- $(NOTES_TYPES)

# The notes example's UI: typecheck, then rebuild it into a temporary directory and fail if
# the committed examples/notes/web/dist (what `go run ./examples/notes` embeds) differs.
# A change to web/react-hook/src changes the UI too: run `make example-build` and commit dist/.
example-check:
	cd $(NOTES_WEB) && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run check

example-build:
	cd $(NOTES_WEB) && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build

# The notes example end to end: a real browser (Debian's Chromium; CHROMIUM_PATH to use
# another) and a plain ws-sync-react-style client against the server built from source.
e2e:
	cd $(E2E) && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test

# Retakes docs/notes.png, the picture of the example.
screenshot:
	cd $(E2E) && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run screenshot

# Benchmarks whose medians are recorded in docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 . ./internal/patch

# Fan-out of wssync, a raw gorilla hub and centrifuge in the same run (docs/benchmarks.md).
# Not part of `make test`: it holds 30,000 loopback connections for minutes.
PEERS_COUNT ?= 3
bench-peers:
	cd $(PEERS) && $(GO) test -run '^$$' -bench Fanout -benchtime 20x -count $(PEERS_COUNT) .

# The fault suite (a real redis-server frozen, killed, restarted with and without its
# data, while clients append) many times in a row; `make test` runs it once.
SOAK_ROUNDS ?= 20
soak:
	WSSYNC_REQUIRE_REDIS=1 WSSYNC_FAULT_ROUNDS=$(SOAK_ROUNDS) $(GO) test -race -count=1 -timeout 30m -run 'TestFaults' -v ./wsredis
