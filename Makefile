# Every target uses scripts/env.sh, so GOEXPERIMENT is the same everywhere.
SHELL := /bin/bash
ENV := . scripts/env.sh &&

.PHONY: build test quickstart vet
build:
	$(ENV) go build -o bin/masklab ./cmd/masklab
test:
	scripts/test.sh
vet:
	$(ENV) go vet ./...
quickstart:
	scripts/quickstart.sh
