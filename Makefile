# The two commands: `make run` (the service on this machine) and `make test`.
GO ?= go
BIN := bin/provisioner
DATA ?= .data
ADDR ?= 127.0.0.1:8080
# The version the binaries report (provisioner version), stamped by the linker.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
VERSION_FLAG = -X provisioner/buildinfo.version=$(VERSION)

.PHONY: all build run test bench fuzz soak clean package deploy dist

all: build

build:
	$(GO) build -ldflags "$(VERSION_FLAG)" -o $(BIN) ./cmd/provisioner

# Local clusters run on production SlideRule's ILB when its files (ILB_DIR,
# by default the reference copy next to this repository) and HAProxy >= 3.0
# (HAPROXY: the one scripts/haproxy.sh builds, else haproxy on PATH) are at
# hand; otherwise behind our gateway, and serve says how to enable the ILB.
ILB_DIR ?= $(wildcard $(abspath ../shared/sliderule-ref/apps/ilb))
HAPROXY ?= $(firstword $(wildcard $(CURDIR)/.cache/haproxy/haproxy) $(shell command -v haproxy 2>/dev/null))
ILB_FLAGS = $(if $(and $(ILB_DIR),$(HAPROXY)),$(shell "$(HAPROXY)" -v 2>/dev/null | grep -qE '^HA-?Proxy version ([3-9]|[1-9][0-9]+)\.' && echo --ilb-dir "$(ILB_DIR)" --haproxy "$(HAPROXY)"))

# The embedded service with the example static identity: no GitHub needed.
# Each local cluster's nodes are the stand-in `provisioner node`.
run: build
	@$(if $(ILB_FLAGS),echo "local clusters: production's ILB from $(ILB_DIR) under $(HAPROXY)",echo "local clusters: gateway fallback (for production's ILB: scripts/haproxy.sh, then make run [ILB_DIR=.../apps/ilb])")
	$(BIN) serve --addr $(ADDR) --data $(DATA) --identity static:examples/identity.json \
		--cluster-command "exec $(CURDIR)/$(BIN) node" $(ILB_FLAGS)

test:
	./scripts/test.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Ten minutes of mixed traffic at a fresh `serve`: RSS and open file
# descriptors sampled, bounded or exit 1 (figures in RELIABILITY.md). Not
# part of `make test`. SOAK=2m for a shorter run.
SOAK ?= 10m
soak: build
	$(GO) run ./scripts/soak -bin $(BIN) -d $(SOAK)

# Short fuzz runs of every fuzz target; new corpus entries land in testdata/fuzz.
fuzz:
	./scripts/fuzz.sh

# ---- AWS: the Lambda package and the provisioner stack (deploy/README.md)
AWS_REGION ?= us-west-2
PREFIX ?= sliderule
STACK ?= $(PREFIX)-provisioner
CODE_BUCKET ?=
DEPLOY_PARAMS ?=
LAMBDA_ZIP := dist/provisioner-lambda-arm64.zip

# The Lambda's bootstrap alone in a zip, built as make dist builds it.
package:
	GO=$(GO) VERSION=$(VERSION) ./scripts/dist.sh lambda $(LAMBDA_ZIP)

deploy: package
	@test -n "$(CODE_BUCKET)" || { echo "set CODE_BUCKET to an S3 bucket in $(AWS_REGION) (see deploy/README.md)" >&2; exit 2; }
	set -e; \
	code_key=provisioner/lambda-$$(sha256sum $(LAMBDA_ZIP) | cut -c1-16).zip; \
	tpl_key=provisioner/cluster-$$(sha256sum deploy/cluster.yaml | cut -c1-16).yaml; \
	grp_key=provisioner/userasg-$$(sha256sum deploy/userasg.yaml | cut -c1-16).yaml; \
	run_key=provisioner/runner-$$(sha256sum deploy/runner.yaml | cut -c1-16).yaml; \
	aws s3 cp --region $(AWS_REGION) $(LAMBDA_ZIP) s3://$(CODE_BUCKET)/$$code_key; \
	aws s3 cp --region $(AWS_REGION) deploy/cluster.yaml s3://$(CODE_BUCKET)/$$tpl_key; \
	aws s3 cp --region $(AWS_REGION) deploy/userasg.yaml s3://$(CODE_BUCKET)/$$grp_key; \
	aws s3 cp --region $(AWS_REGION) deploy/runner.yaml s3://$(CODE_BUCKET)/$$run_key; \
	aws cloudformation deploy --region $(AWS_REGION) --stack-name $(STACK) \
		--template-file deploy/provisioner.yaml \
		--capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset \
		--parameter-overrides Prefix=$(PREFIX) CodeBucket=$(CODE_BUCKET) \
			CodeKey=$$code_key ClusterTemplateKey=$$tpl_key GroupTemplateKey=$$grp_key RunnerTemplateKey=$$run_key $(DEPLOY_PARAMS)

# ---- Releases (README "Releases"): the CLI for linux and darwin, amd64 and
# arm64, the Lambda zip and checksums.txt in dist/, reproducibly; what
# .goreleaser.yaml publishes. make dist VERSION=v1.2.3
dist:
	GO=$(GO) VERSION=$(VERSION) ./scripts/dist.sh

clean:
	rm -rf bin .cache dist
