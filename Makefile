# The one test command: `make test` runs every check CI runs.
# .ci/run installs what a fresh machine lacks, then calls `make test`.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
WEB         := web/react-hook

.PHONY: test go-checks go-test fuzz web-test bench

test: go-checks go-test fuzz web-test
	@echo "make test: all checks passed"

# Formatting, module tidiness, vet and staticcheck.
go-checks:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) mod tidy
	git diff --exit-code -- go.mod go.sum
	$(GO) vet ./...
	$(STATICCHECK) ./...

go-test:
	$(GO) test -race -count=1 ./...

# A short run of every fuzz target (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for t in $$($(GO) test -list '^Fuzz' . | grep '^Fuzz'); do \
	  echo "fuzz $$t ($(FUZZTIME))"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) . ; done
	@set -e; for t in $$($(GO) test -list '^Fuzz' ./internal/patch | grep '^Fuzz'); do \
	  echo "fuzz $$t ($(FUZZTIME))"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./internal/patch ; done

web-test:
	cd $(WEB) && { [ -d node_modules ] || npm ci; } && npm test && npm run typecheck && npm run build

# Benchmarks whose medians are recorded in docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 . ./internal/patch
