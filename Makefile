# The two commands: `make run` (the service on this machine) and `make test`.
GO ?= go
BIN := bin/provisioner
DATA ?= .data
ADDR ?= 127.0.0.1:8080

.PHONY: all build run test bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/provisioner

# The embedded service with the example static identity: no GitHub needed.
run: build
	$(BIN) serve --addr $(ADDR) --data $(DATA) --identity static:examples/identity.json \
		--cluster-command "python3 $(CURDIR)/examples/node.py"

test:
	./scripts/test.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Short fuzz runs of every fuzz target; new corpus entries land in testdata/fuzz.
fuzz:
	./scripts/fuzz.sh

clean:
	rm -rf bin .cache
