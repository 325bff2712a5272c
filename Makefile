# smarthost - outbound SMTP smarthost relay.
#
#   make            build build/smarthost (optimised; B=DIR picks another build folder)
#   make run        run it on config/smarthost.cfg (generates a local STARTTLS certificate)
#   make test       unit tests (under ASan + UBSan)
#   make check      everything CI runs: unit + integration tests, sanitised
#   make layers     checks that no folder includes one above it (README.md, Layout)
#   make bench      benchmark against Postfix
#   make fuzz       libFuzzer targets, FUZZ_SECONDS (60) each
#   make image      appliance disk image; make image-test boots it under qemu
#   make install    PREFIX=/usr/local DESTDIR= (binary, man pages, systemd unit, sample config)

B ?= build
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=
CXX ?= g++
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS := wolfssl libevent_core libevent_extra libconfig++ lmdb libunbound libidn2 zlib libcrypt
DEPS_OK := $(shell ./deps.sh build >&2 && echo ok)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lpthread

WARN := -Wall -Wextra -Wswitch -Wshadow=local -Wno-unused-parameter
BASE_CXXFLAGS := -std=c++17 -DCPPUTEST_MEM_LEAK_DETECTION_DISABLED $(WARN) -I. $(PKG_CFLAGS) -DSMARTHOST_VERSION='"$(VERSION)"' -MMD -MP
REL_FLAGS := -O2 -g
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Every .cc below the four source folders but main.cc (folders: README.md, "Layout").
LIB_SRC := $(filter-out relay/main.cc,$(shell find config certs router relay -name '*.cc' | sort))
UNIT_SRC := $(wildcard tests/unit/*.cc)

REL_OBJ := $(LIB_SRC:%.cc=$(B)/rel/%.o)
SAN_OBJ := $(LIB_SRC:%.cc=$(B)/san/%.o)
UNIT_OBJ := $(UNIT_SRC:%.cc=$(B)/san/%.o)

.PHONY: all run test check bench image image-test install clean fuzz layers
all: $(B)/smarthost

$(B)/rel/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(BASE_CXXFLAGS) $(REL_FLAGS) -c $< -o $@

$(B)/san/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(BASE_CXXFLAGS) $(SAN_FLAGS) -c $< -o $@

$(B)/smarthost: $(REL_OBJ) $(B)/rel/relay/main.o
	$(CXX) $(REL_FLAGS) $^ $(PKG_LIBS) -o $@

$(B)/san/smarthost: $(SAN_OBJ) $(B)/san/relay/main.o
	$(CXX) $(SAN_FLAGS) $^ $(PKG_LIBS) -o $@

$(B)/san/unit_tests: $(SAN_OBJ) $(UNIT_OBJ)
	$(CXX) $(SAN_FLAGS) $^ $(PKG_LIBS) $(shell pkg-config --libs cpputest) -o $@

# The same two steps as tests/integration/test_make_run.py (SIGHUP must work as `user`).
# CONSOLE=1 also turns the admin console on (127.0.0.1:8443; its password is printed).
run: $(B)/smarthost
	./config/make-run-cert.sh var/tls config/smarthost.cfg
	if [ -n "$(CONSOLE)" ]; then \
	  ./config/make-run-console.sh $(B)/smarthost config/smarthost.cfg var/smarthost-console.cfg && \
	  exec ./$(B)/smarthost run -c var/smarthost-console.cfg; \
	else exec ./$(B)/smarthost run -c config/smarthost.cfg; fi

test: $(B)/san/unit_tests
	./tests/run-unit.sh $(B)/san/unit_tests

# The dependency rule between folders (README.md, "Layout"); make check runs it too.
layers:
	python3 tests/layers/check_layers.py

# deps.sh installs what the tests use (image: test_image builds and boots the
# appliance); check-tools.sh then names anything still missing, and its
# package, before a test runs.
check: $(B)/san/smarthost $(B)/san/unit_tests $(B)/smarthost
	./deps.sh test fuzz image
	./tests/check-tools.sh
	./tests/run-all.sh

bench: $(B)/smarthost
	./deps.sh test
	./tests/bench/run.sh

image: $(B)/smarthost
	./deps.sh image
	./image/build.sh $(B)/smarthost

image-test: image
	./image/test.sh

# What a normal host needs (install/install.sh says what goes where; README.md, "Installing").
install: $(B)/smarthost
	./install/install.sh $(B)/smarthost "$(DESTDIR)" $(PREFIX) $(SYSCONFDIR) $(SYSTEMDUNITDIR)

# ---- fuzzing (issue 9) ------------------------------------------------------
# libFuzzer targets tests/fuzz/fuzz_*.cc, built with clang into $(B)/fuzz/ against
# an archive of the parsers they exercise. `make fuzz` runs each for FUZZ_SECONDS
# on its committed seed corpus (new inputs go to $(B)/fuzz/corpus/, crashes to
# $(B)/fuzz/artifacts/); `make check` runs each for a few seconds.
FUZZ_CXX ?= clang++
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CXXFLAGS := $(filter-out -Wshadow=local,$(BASE_CXXFLAGS)) $(FUZZ_FLAGS)
FUZZ_LIB_SRC := relay/smtpd/smtp_command.cc router/address_match.cc router/base/utf8_text.cc relay/queue/envelope_params.cc relay/smtpd/data_reader.cc relay/delivery/smtp_reply.cc $(wildcard config/*.cc) \
  $(wildcard certs/*.cc) router/dns/dns_resolver.cc router/mta_sts/mta_sts_policy.cc \
  relay/message/dkim_canon.cc relay/message/dkim_verifier.cc relay/message/base64.cc relay/message/message_header.cc
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.cc=$(B)/fuzz/obj/%.o)
FUZZ_BINS := $(patsubst tests/fuzz/%.cc,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.cc))

$(B)/fuzz/.deps-ok:
	./deps.sh fuzz
	@mkdir -p $(dir $@) && touch $@

$(B)/fuzz/obj/%.o: %.cc | $(B)/fuzz/.deps-ok
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/libfuzzed.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/fuzz/fuzz_%: $(B)/fuzz/obj/tests/fuzz/fuzz_%.o $(B)/fuzz/libfuzzed.a
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ $(PKG_LIBS) -o $@

fuzz: $(FUZZ_BINS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_KEEP=$(B)/fuzz ./tests/fuzz/run-brief.sh $(B)/fuzz

check: $(FUZZ_BINS)
.SECONDARY: $(FUZZ_BINS:$(B)/fuzz/%=$(B)/fuzz/obj/tests/fuzz/%.o)

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BINS:$(B)/fuzz/%=$(B)/fuzz/obj/tests/fuzz/%.d)
# ---- end of fuzzing ----------------------------------------------------------

clean:
	rm -rf $(B)

-include $(REL_OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(B)/rel/relay/main.d $(B)/san/relay/main.d
