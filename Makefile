# credd — build, test, benchmark and demo targets.
# `make demo` shows credd working offline; `make test` runs every test.

GO       ?= go
BIN      ?= bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/credd-dev/credd/version.Version=$(VERSION)
PKGS     := ./...

.PHONY: all build test check cross bench run demo package clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/credd ./cmd/credctl

# The whole suite: static checks, darwin cross-builds, then every test
# (unit, emulator, real keyring, real shells, real processes).
test: check cross
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

cross:
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/credd ./cmd/credctl
	GOOS=darwin GOARCH=amd64 $(GO) build -o /dev/null ./cmd/credd ./cmd/credctl
	GOOS=linux  GOARCH=arm64 $(GO) build -o /dev/null ./cmd/credd ./cmd/credctl

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS)

run: build
	$(BIN)/credd --log-level debug

demo:
	./tests/demo.sh

package:
	./packaging/build.sh

clean:
	rm -rf $(BIN) dist
