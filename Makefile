# samepage: build, test, install.  `make`, `make check`, `make install PREFIX=/usr DESTDIR=...`.
# SANITIZE=1 builds everything with ASan and UBSan.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib/samepage
MANDIR ?= $(PREFIX)/share/man
HOOKSDIR ?= $(PREFIX)/share/containers/oci/hooks.d
VERSION := 0.1.0
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

CC ?= cc
PKGS := libseccomp libcap libarchive fuse3 yajl libcrypto libsystemd liburing
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -MMD -MP -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 \
          -fno-strict-aliasing -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
          -DSAMEPAGE_VERSION='"$(VERSION)"' -DSAMEPAGE_COMMIT='"$(COMMIT)"' \
          -DSAMEPAGE_LIBDIR='"$(LIBDIR)"' -Iinclude $(PKG_CFLAGS)
LDFLAGS += -Wl,--as-needed -Wl,-O1
LDLIBS += $(PKG_LIBS) -lpthread
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -O1
LDFLAGS += -fsanitize=address,undefined
BUILD := build-san
else
BUILD := build
endif

# Every .c under these directories is part of the one internal library.
LIB_SRC := $(wildcard lib/*.c oci/*.c shim/*.c casfs/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBA := $(BUILD)/libsamepage.a

SAMEPAGE_SRC := $(wildcard cmd/samepage/*.c)
CASFS_SRC := $(wildcard cmd/casfs/*.c)
HOOK_SRC := $(wildcard cmd/samepage-hook/*.c)
PRELOAD_SRC := $(wildcard hooks/*.c)

BINS := $(if $(SAMEPAGE_SRC),$(BUILD)/samepage) $(if $(CASFS_SRC),$(BUILD)/casfs) \
        $(if $(HOOK_SRC),$(BUILD)/samepage-hook)
PRELOAD := $(if $(PRELOAD_SRC),$(BUILD)/libsamepage-ksm.so)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BINS) $(PRELOAD) $(UNIT_BINS)

$(BUILD)/obj/%.o: %.c $(wildcard include/samepage/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/samepage: $(SAMEPAGE_SRC:%.c=$(BUILD)/obj/%.o) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/casfs: $(CASFS_SRC:%.c=$(BUILD)/obj/%.o) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/samepage-hook: $(HOOK_SRC:%.c=$(BUILD)/obj/%.o) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The preload library depends on glibc only and is never sanitized: it is
# injected into other programs.
$(BUILD)/libsamepage-ksm.so: $(PRELOAD_SRC)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -fPIC -shared \
	  -fvisibility=hidden -o $@ $^ -ldl

$(BUILD)/tests/%: tests/unit/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS) -lcmocka

# The test runner prints TAP per test and ends with "N passed, M failed".
check: all
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run-tests $(TESTS)

check-unit: all
	BUILD=$(BUILD) tests/run-tests unit

demo: all
	BUILD=$(CURDIR)/$(BUILD) bash scripts/demo.sh

bench: all
	BUILD=$(BUILD) bench/run-all

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	$(if $(PRELOAD),install -m 0644 $(PRELOAD) $(DESTDIR)$(LIBDIR)/)
	for m in docs/*.8; do [ -f "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man8/; done; true
	if [ -d hooks/hooks.d ] && ls hooks/hooks.d/*.json >/dev/null 2>&1; then \
	  install -d $(DESTDIR)$(HOOKSDIR); \
	  for j in hooks/hooks.d/*.json; do \
	    sed 's,@BINDIR@,$(BINDIR),g; s,@LIBDIR@,$(LIBDIR),g' "$$j" > $(DESTDIR)$(HOOKSDIR)/$$(basename $$j); done; fi

clean:
	rm -rf build build-san

.PHONY: all check check-unit demo bench install clean

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
