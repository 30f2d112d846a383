# hidupsd: build, test, lint and install. `make test` is what CI runs.

SHELL   := /bin/bash
.SHELLFLAGS := -o pipefail -c
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
BIN      = target/release/hidupsd
FUZZ_SECONDS ?= 60

.PHONY: all test lint size bench fuzz install clean

all:
	$(CARGO) build --release

# Examples (the benchmark) are built, not run; the closing line sums up
# every test binary's results.
test:
	$(CARGO) build --examples
	@mkdir -p target
	$(CARGO) test --lib --bins --tests 2>&1 | tee target/test.log
	@# Daemon logs on stderr can split a "test result" line: count the pairs.
	@grep -oE '[0-9]+ passed; [0-9]+ failed' target/test.log | \
		awk '{ p += $$1; f += $$3 } END { printf "tests: %d passed, %d failed\n", p, f }'

lint:
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check
	@# NUT's own pages (Xr upsc 8, ...) need not be installed here, nor
	@# indexed when they are (nut-client installs them after mandoc).
	@if command -v mandoc >/dev/null 2>&1; then \
		echo "mandoc -Tlint man/*.8"; \
		out=$$(mandoc -Tlint man/*.8 2>&1 | grep -v -e 'referenced manual not found' -e 'outdated mandoc.db'); \
		if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; \
	else echo "mandoc not installed: man page lint skipped"; fi

# The release profile strips the binary already.
size: all
	@n=$$(stat -c %s $(BIN)); \
	echo "$(BIN): $$n bytes ($$(awk "BEGIN { printf \"%.1f\", $$n / 1024 }") KiB)"

bench:
	$(CARGO) run --release --example bench

# New corpus entries go to a temporary directory; only the seeds in
# tests/fuzz/corpus are kept. Crashes and inputs slower than 10 s (a hang
# otherwise outlives -max_total_time) land in tests/fuzz/artifacts.
fuzz:
	@fail=0; for t in protocol ups_conf upsd_conf upsd_users upsmon_conf descriptor device; do \
		tmp=$$(mktemp -d) || exit 1; \
		$(CARGO) +nightly fuzz run --fuzz-dir tests/fuzz $$t $$tmp tests/fuzz/corpus/$$t \
			-- -max_total_time=$(FUZZ_SECONDS) -timeout=10 || fail=1; \
		rm -rf "$$tmp"; \
	done; exit $$fail

install:
	@test -x $(BIN) || { echo "$(BIN) missing: run make first" >&2; exit 1; }
	install -D -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/hidupsd
	install -D -m 644 man/hidupsd.8 $(DESTDIR)$(PREFIX)/share/man/man8/hidupsd.8

clean:
	$(CARGO) clean
	rm -rf tests/fuzz/target tests/fuzz/artifacts
