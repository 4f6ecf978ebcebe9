# Portcullis: `make run` starts the controller, `make test` runs every test suite.
SWIFT ?= swift
DATA ?= ./data
POLICIES ?= ./policies
LISTEN ?= 127.0.0.1:8080
VENV := .build/check-venv
RELEASE_BINARY ?= .build/release/portcullis

.PHONY: run build test swift-tests policy-checks conformance bench-scim bench-policy bench-revocation bench-audit clean

# As root, Portcullis manages the gateway interface (wg0) and nftables; otherwise it runs with
# --dry-run and writes what it would apply under $(DATA)/dry-run.
run:
	@scripts/system-packages.sh run
	@[ -x $(RELEASE_BINARY) ] || echo "Building Portcullis in release mode; the first build takes several minutes (about 5 on 2 cores), later ones seconds."
	$(SWIFT) build -c release --product portcullis
	@if [ "$$(id -u)" -ne 0 ]; then echo "Not root: running with --dry-run (the gateway configuration goes to $(DATA)/dry-run, the kernel is not changed)."; fi
	$(RELEASE_BINARY) serve --data $(DATA) --policies $(POLICIES) --listen $(LISTEN) $$([ "$$(id -u)" -ne 0 ] && echo --dry-run)

build:
	$(SWIFT) build

# Every suite: Swift (unit, HTTP, end to end; the gateway suite needs root and runs in network
# namespaces it creates), the shipped policies' check and tests, and the third-party conformance run.
# The Swift suites run one at a time: many of them start processes, and Foundation's Process.run
# crashed (SIGSEGV) when called from many threads at once; serial, the whole run takes about a minute.
test:
	@scripts/system-packages.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	$(MAKE) policy-checks conformance

policy-checks: $(VENV)/ok
	.build/debug/portcullis policy check policies
	.build/debug/portcullis policy test policies
	$(VENV)/bin/python Tests/PolicySchema/validate.py docs/policy.schema.json policies

conformance: $(VENV)/ok
	Tests/Conformance/run.sh .build/debug/portcullis $(VENV)

# One virtualenv for the Python checks, pinned, rebuilt when the pins change.
$(VENV)/ok: Tests/Conformance/requirements.txt Tests/PolicySchema/requirements.txt
	rm -rf $(VENV)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r Tests/Conformance/requirements.txt -r Tests/PolicySchema/requirements.txt
	touch $@

# Throughput and latency against the reference server scim2-server, written to docs/benchmarks.md.
bench-scim:
	@scripts/system-packages.sh bench
	$(SWIFT) build -c release --product portcullis
	Benchmarks/scim/run.sh $(BENCH_ARGS)

# Compiling 100k users x 1k groups x 500 rules, and one user's recomputation, against a naive evaluator.
bench-policy:
	$(SWIFT) build -c release --product portcullis-bench
	.build/release/portcullis-bench policy --docs $(BENCH_ARGS)

# Revocation with 10k peers on a wireguard-go interface (root; in a network namespace), against wg syncconf.
bench-revocation:
	@scripts/system-packages.sh bench
	$(SWIFT) build -c release --product portcullis --product portcullis-bench
	.build/release/portcullis-bench revocation --docs --binary .build/release/portcullis $(BENCH_ARGS)

# "Who could reach X at T" at 100k users and 1M access intervals against a full scan, and the audit record's cost per SCIM write.
bench-audit:
	$(SWIFT) build -c release --product portcullis-bench
	.build/release/portcullis-bench audit --docs $(BENCH_ARGS)

clean:
	rm -rf .build
