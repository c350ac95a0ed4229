# What people type. The build itself is Meson + Ninja.
#
#   make          build ./build/correio
#   make run      install deps, build, create ./run/ (once) and serve it
#   make test     install deps, build with ASan+UBSan and -Werror, run every test
#   make bench    install deps (with peer servers), build optimized, benchmark
#                 (bench-smtp, bench-imap, bench-pop3, bench-relay, bench-spam: one)
#   make install  install the binary, and the sendmail name for it

PYTHON := /usr/bin/python3
BUILD := build
TESTBUILD := build-asan
BENCHBUILD := build-release

.PHONY: all run test bench bench-build bench-smtp bench-imap bench-pop3 bench-relay bench-spam fuzz install clean deps

all:
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) >/dev/null
	ninja -C $(BUILD)

deps:
	scripts/install-deps

run: deps all
	scripts/dev-instance $(BUILD)/correio run

test: deps
	@[ -f $(TESTBUILD)/build.ninja ] || meson setup $(TESTBUILD) \
	    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	ninja -C $(TESTBUILD)
	$(PYTHON) scripts/run-tests $(TESTBUILD)

bench: bench-build
	bench/smtp-inbound $(BENCHBUILD)/correio
	bench/imap $(BENCHBUILD)/correio
	bench/pop3 $(BENCHBUILD)/correio
	bench/relay $(BENCHBUILD)/correio
	bench/spam $(BENCHBUILD)/correio

# One benchmark on its own.
bench-smtp: bench-build
	bench/smtp-inbound $(BENCHBUILD)/correio

bench-imap: bench-build
	bench/imap $(BENCHBUILD)/correio

bench-pop3: bench-build
	bench/pop3 $(BENCHBUILD)/correio

bench-relay: bench-build
	bench/relay $(BENCHBUILD)/correio

bench-spam: bench-build
	bench/spam $(BENCHBUILD)/correio

bench-build:
	scripts/install-deps bench
	@[ -f $(BENCHBUILD)/build.ninja ] || meson setup $(BENCHBUILD) \
	    --buildtype=release -Db_ndebug=false >/dev/null
	ninja -C $(BENCHBUILD)

# Coverage-guided fuzzing with clang's libFuzzer, FUZZ_SECONDS per target;
# new inputs land in tests/fuzz/corpus/ (commit the interesting ones).
FUZZ_SECONDS := 60
fuzz:
	scripts/install-deps fuzz
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz \
	    -Dlibfuzzer=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	ninja -C build-fuzz
	for t in tests/fuzz/corpus/*; do \
	    n=$$(basename $$t); \
	    build-fuzz/tests/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=1024 $$t || exit 1; \
	done

install: all
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(BENCHBUILD) build-fuzz
