# Portcullis: `make run` starts the controller, `make test` runs every test suite.
SWIFT ?= swift
DATA ?= ./data
POLICIES ?= ./policies
LISTEN ?= 127.0.0.1:8080

.PHONY: run build test unit-tests conformance bench-scim clean

run:
	@scripts/system-packages.sh run
	$(SWIFT) build -c release --product portcullis
	.build/release/portcullis serve --data $(DATA) --policies $(POLICIES) --listen $(LISTEN)

build:
	$(SWIFT) build

# Unit, HTTP and end-to-end suites (Swift Testing), then the third-party SCIM conformance run.
test:
	@scripts/system-packages.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	Tests/Conformance/run.sh .build/debug/portcullis

unit-tests:
	$(SWIFT) test

conformance:
	$(SWIFT) build --product portcullis
	Tests/Conformance/run.sh .build/debug/portcullis

# Throughput and latency against the reference server scim2-server, written to docs/benchmarks.md.
bench-scim:
	@scripts/system-packages.sh test
	$(SWIFT) build -c release --product portcullis
	Benchmarks/scim/run.sh $(BENCH_ARGS)

clean:
	rm -rf .build
