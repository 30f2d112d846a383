# hidupsd: build, test, lint and install. `make test` is what CI runs.

SHELL   := /bin/bash
.SHELLFLAGS := -o pipefail -c
CARGO   ?= cargo
# `make install` remembers the directories it was given here, so that a
# later install-systemd, install-upsc or uninstall without them points at
# the same binary (command-line values still win).
INSTALL_MEMO ?= target/install.mk
-include $(INSTALL_MEMO)
PREFIX  ?= /usr/local
DESTDIR ?=
BIN      = target/release/hidupsd
# Installation directories. udev and systemd read their own directories
# whatever PREFIX is, so those do not follow it.
SBINDIR ?= $(PREFIX)/sbin
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
UDEVDIR ?= /usr/lib/udev
SYSTEMDUNITDIR ?= /usr/lib/systemd/system
SYSTEMDSHUTDOWNDIR ?= /usr/lib/systemd/system-shutdown
# Shell scripts of the service files, for shellcheck (all POSIX sh:
# OpenRC's openrc-run and OpenWrt's rc.common scripts are sh too).
SHELL_SCRIPTS = contrib/systemd/hidupsd-killpower \
	contrib/alpine/hidupsd.initd contrib/alpine/hidupsd-killpower.initd \
	contrib/alpine/hidupsd.confd contrib/alpine/hidupsd.pre-install \
	contrib/alpine/hidupsd.post-install \
	contrib/openwrt/files/hidupsd.init contrib/openwrt/files/usbhid-ups \
	contrib/openwrt/files/hidupsd.hotplug tests/openwrt/uci.sh
FUZZ_SECONDS ?= 60

.PHONY: all test lint size cross cross-ci bench fuzz install install-systemd install-upsc uninstall generate clean dist \
	tables tables-check

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# make dist: the release tarball and an OpenWrt package naming it.
DISTDIR ?= target/dist
# Where the tarball will be downloaded from; by default the directory it
# is written to, which OpenWrt's download script reads as a local mirror.
RELEASE_URL ?= file://$(abspath $(DISTDIR))

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

# End-to-end tests against a real kernel's HID stack: a Debian kernel
# under QEMU, UPSes simulated through uhid (tests/vm/README.md). Root is
# not needed; apt-get download, qemu-system-x86 and busybox-static are.
vm-test:
	tests/vm/run.sh

# The pure core (docs/design/architecture.md): these modules' non-test
# code names no shell module. Everything before a file's first
# #[cfg(test)] is checked; comments are skipped.
PURE_SRC = src/hid src/ups src/qx src/store.rs src/text.rs src/sort.rs src/proto \
	src/config src/monitor \
	$(wildcard src/device/usb.rs src/device/matcher.rs src/device/naming.rs \
		src/device/assign.rs src/device/sched.rs src/device/grant.rs)

lint: tables-check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check
	@echo "pure modules: no crate::sys, crate::daemon or crate::cli"
	@bad=$$(find $(PURE_SRC) -name '*.rs' | sort | while read -r f; do \
		awk -v f="$$f" '/^#\[cfg\(test\)\]/ { exit } \
			/crate::(sys|daemon|cli)([^A-Za-z0-9_]|$$)/ && !/^[[:space:]]*\/\// { print f ":" FNR ": " $$0 }' "$$f"; \
	done); if [ -n "$$bad" ]; then echo "$$bad"; exit 1; fi
	python3 tools/modcycles.py
	python3 tools/layout.py --check
	@# ups/ is left out: its table types read the generated tables' string
	@# pools (ups::table <-> ups::tables), which the generator owns.
	python3 tools/modcycles.py --within hid --within proto --within config --within qx \
		--within monitor --within device --within sys --within daemon --within cli
	@# NUT's own pages (Xr upsc 8, ...) need not be installed here, nor
	@# indexed when they are (nut-client installs them after mandoc).
	@if command -v mandoc >/dev/null 2>&1; then \
		echo "mandoc -Tlint man/*.5 man/*.7 man/*.8"; \
		out=$$(mandoc -Tlint man/*.5 man/*.7 man/*.8 2>&1 | grep -v -e 'referenced manual not found' -e 'outdated mandoc.db'); \
		if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; \
	elif [ "$$CI" = true ]; then echo "mandoc not installed (CI=true: a failure)" >&2; exit 1; \
	else echo "mandoc not installed: man page lint skipped"; fi
	@# APKBUILD: its variables are read by abuild (SC2034), and abuild
	@# sets srcdir, pkgdir and the rest (SC2154).
	@if command -v shellcheck >/dev/null 2>&1; then \
		echo "shellcheck -s sh $(SHELL_SCRIPTS) contrib/alpine/APKBUILD; shellcheck tools/cross.sh .ci/run"; \
		shellcheck -s sh $(SHELL_SCRIPTS) && \
		shellcheck -s sh -e SC2034,SC2154 contrib/alpine/APKBUILD && \
		shellcheck tools/cross.sh .ci/run; \
	elif [ "$$CI" = true ]; then echo "shellcheck not installed (CI=true: a failure)" >&2; exit 1; \
	else echo "shellcheck not installed: shell script lint skipped"; fi

# The release profile strips the binary already. Fails above the budget
# kept in size-budget (bytes; raise it on purpose, in its own commit).
# Then the table of every built target (make cross, make cross-ci) beside
# NUT's binaries for the same CPU, with the router builds' budgets
# (tools/size-budgets, xz bytes). A benchmark: figures printed, budgets
# checked.
size: all
	@n=$$(stat -c %s $(BIN)); budget=$$(cat size-budget); \
	echo "$(BIN): $$n bytes ($$(awk "BEGIN { printf \"%.1f\", $$n / 1024 }") KiB), budget $$budget"; \
	if [ "$$n" -gt "$$budget" ]; then echo "over the size budget by $$((n - budget)) bytes" >&2; exit 1; fi
	tools/cross.sh size

# The router build for one CPU (README, "Building for a router"):
# target/$(TARGET)/release/hidupsd, with Debian's Rust and -Z build-std.
cross:
	@test -n "$(TARGET)" || { echo "usage: make cross TARGET=<triple>; triples: $$(sed -n 's/^TARGETS="\(.*\)"/\1/p' tools/cross.sh)" >&2; exit 1; }
	tools/cross.sh build $(TARGET)

# Every router CPU: router and default builds, tests under qemu-user,
# decoding compared with x86_64 for every fixture, and the mips build
# serving upsc (what CI runs; tools/cross.sh).
cross-ci:
	tools/cross.sh ci

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

# Robustness and footprint checks against the release daemon (loopback,
# bounded in time; figures are printed, not judged).
.PHONY: hostile soak footprint notify-latency flood bench-callgrind
hostile: all
	$(CARGO) run --release --example hostile

soak: all
	$(CARGO) run --release --example soak

footprint: all
	$(CARGO) run --release --example footprint

# From a status change to NOTIFYCMD, built-in monitor and stock upsmon
# (ten seconds; figures printed, every notice checked).
notify-latency: all
	$(CARGO) run --release --example notify_latency

# A stock upsmon secondary logs in during a 1,100-connection flood, sees
# the power cut and FSD, and shuts down before the primary (about 30 s,
# loopback only; the timeline is printed). CI runs it.
flood:
	$(CARGO) build --bin hidupsd --example flood
	timeout 180 target/debug/examples/flood

# Instructions per GET VAR and LIST VAR under valgrind's callgrind, and
# memory per idle client, hidupsd beside Debian's upsd + dummy-ups.
bench-callgrind: all
	$(CARGO) run --release --example callgrind

# The udev rules and the device page come from the device table.
generate:
	$(CARGO) run --quiet --example gen

# src/ups/tables/ from NUT's tables in tools/data/ (python3 and rustfmt);
# tables-check fails when the committed files differ from what it makes.
tables:
	python3 tools/import-nut-tables.py

tables-check:
	python3 tools/import-nut-tables.py --check
	@tmp=$$(mktemp) && python3 tools/import-qx-tables.py --out "$$tmp" && \
		{ cmp "$$tmp" src/qx/tables.rs && echo "src/qx/tables.rs as generated"; r=$$?; rm -f "$$tmp"; exit $$r; }

# Binary, manual pages and udev rules (every system); install-systemd adds
# the unit and the shutdown hook, install-upsc the upsc link (not by
# default: NUT's own upsc would clash). Nothing is built here, so that
# `sudo make install` does not build as root.
# The memo: PREFIX always, the other directories when given.
remember = $(if $(filter command line environment,$(origin $(1))),echo '$(1) ?= $($(1))';)
# install-systemd and install-upsc name the installed binary: refuse to
# point at one that is not there.
need_installed = @test -x $(DESTDIR)$(SBINDIR)/hidupsd || { \
	echo "$(DESTDIR)$(SBINDIR)/hidupsd is not installed: run 'make install' first, with the same PREFIX (or SBINDIR)" >&2; \
	exit 1; }

install:
	@test -x $(BIN) || { echo "$(BIN) missing: run make first" >&2; exit 1; }
	@mkdir -p $(dir $(INSTALL_MEMO))
	@{ echo '# Written by make install: the directories it installed to.'; \
	echo 'PREFIX ?= $(PREFIX)'; $(foreach v,SBINDIR BINDIR MANDIR UDEVDIR,$(call remember,$(v))) } \
		> $(INSTALL_MEMO)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UDEVDIR)/rules.d
	install -m 755 $(BIN) $(DESTDIR)$(SBINDIR)/hidupsd
	install -m 644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 rules/70-hidupsd.rules $(DESTDIR)$(UDEVDIR)/rules.d/

# The files name the binary /usr/sbin/hidupsd: follow SBINDIR.
install-systemd:
	$(need_installed)
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSTEMDSHUTDOWNDIR)
	sed 's|/usr/sbin/hidupsd|$(SBINDIR)/hidupsd|g' contrib/systemd/hidupsd.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/hidupsd.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/hidupsd.service
	sed 's|/usr/sbin/hidupsd|$(SBINDIR)/hidupsd|g' contrib/systemd/hidupsd-killpower \
		> $(DESTDIR)$(SYSTEMDSHUTDOWNDIR)/hidupsd-killpower
	chmod 755 $(DESTDIR)$(SYSTEMDSHUTDOWNDIR)/hidupsd-killpower

# hidupsd run as upsc behaves as upsc.
install-upsc:
	$(need_installed)
	install -d $(DESTDIR)$(BINDIR)
	ln -sf $(SBINDIR)/hidupsd $(DESTDIR)$(BINDIR)/upsc

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/hidupsd \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard man/*.5))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(wildcard man/*.7))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard man/*.8))) \
		$(DESTDIR)$(UDEVDIR)/rules.d/70-hidupsd.rules \
		$(DESTDIR)$(SYSTEMDUNITDIR)/hidupsd.service \
		$(DESTDIR)$(SYSTEMDSHUTDOWNDIR)/hidupsd-killpower
	@# The upsc link only if it is ours.
	@if [ "$$(readlink $(DESTDIR)$(BINDIR)/upsc)" = "$(SBINDIR)/hidupsd" ]; then \
		rm -f $(DESTDIR)$(BINDIR)/upsc; fi

# The release tarball, hidupsd-VERSION.tar.gz (the committed tree at
# HEAD under hidupsd-VERSION/, reproducible: no time stamp in the gzip
# header), its sha256, and $(DISTDIR)/openwrt/hidupsd: contrib/openwrt
# with PKG_SOURCE_URL and PKG_HASH naming that tarball, to copy into a
# buildroot's package/ or a feed. Alpine's APKBUILD takes the same
# tarball.
dist:
	@git diff --quiet HEAD || echo "warning: uncommitted changes are not in the tarball (it is HEAD)" >&2
	@mkdir -p $(DISTDIR)
	git archive --format=tar --prefix=hidupsd-$(VERSION)/ HEAD | gzip -9n > $(DISTDIR)/hidupsd-$(VERSION).tar.gz
	@cd $(DISTDIR) && sha256sum hidupsd-$(VERSION).tar.gz > hidupsd-$(VERSION).tar.gz.sha256
	@rm -rf $(DISTDIR)/openwrt/hidupsd && mkdir -p $(DISTDIR)/openwrt/hidupsd
	@cp -r contrib/openwrt/files $(DISTDIR)/openwrt/hidupsd/
	@hash=$$(cut -d' ' -f1 $(DISTDIR)/hidupsd-$(VERSION).tar.gz.sha256); \
	sed -e 's|^PKG_SOURCE_URL:=.*|PKG_SOURCE_URL:=$(RELEASE_URL)|' \
		-e "s|^PKG_HASH:=.*|PKG_HASH:=$$hash|" \
		-e 's|^PKG_VERSION:=.*|PKG_VERSION:=$(VERSION)|' \
		contrib/openwrt/Makefile > $(DISTDIR)/openwrt/hidupsd/Makefile; \
	echo "$(DISTDIR)/hidupsd-$(VERSION).tar.gz sha256 $$hash"; \
	echo "$(DISTDIR)/openwrt/hidupsd: the OpenWrt package, PKG_SOURCE_URL:=$(RELEASE_URL)"

clean:
	$(CARGO) clean
	rm -rf tests/fuzz/target tests/fuzz/artifacts
