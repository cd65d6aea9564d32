# relayq -- a sendmail-compatible relay client with a durable queue.
# Plain GNU make; libraries come from pkg-config.
#
# Knobs:  make WERROR=1            warnings are errors (CI)
#         make SANITIZE=address,undefined
#         make PREFIX=/usr DESTDIR=/tmp/stage install

VERSION   ?= 0.1.0
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/relayq
SYSCONFDIR ?= /etc
SPOOLDIR  ?= /var/spool/relayq
DESTDIR   ?=

CC        ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS    ?= -O2 -g
WERROR    ?=
SANITIZE  ?=

# Each library and the Debian package that provides its pkg-config file.
PKGS      = gnutls libgsasl libidn2 popt
DEB_gnutls   = libgnutls28-dev
DEB_libgsasl = libgsasl-dev
DEB_libidn2  = libidn2-dev
DEB_popt     = libpopt-dev

# The targets that install what is missing (deps and those that start with
# it) must not need the libraries yet: they build in a sub-make, after
# scripts/deps, and the check runs there.  Any other goal checks now, so a
# plain `make` on a machine without the libraries says which packages to get.
SETUP_GOALS = clean distclean deps check demo bench fuzz
ifeq ($(MAKECMDGOALS),)
NEED_LIBS = y
else
NEED_LIBS = $(filter-out $(SETUP_GOALS),$(MAKECMDGOALS))
endif
ifneq ($(NEED_LIBS),)
MISSING := $(strip $(foreach p,$(PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) && echo y),,$(p))))
ifneq ($(MISSING),)
$(error missing libraries: $(MISSING); install the Debian packages $(foreach p,$(MISSING),$(DEB_$(p))) (or run scripts/deps))
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))
# relayq, the submission, loads GnuTLS only when an account signs (gtls.h).
SUBMIT_LIBS := $(shell $(PKG_CONFIG) --libs $(filter-out gnutls,$(PKGS)))
endif

WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wvla -Wwrite-strings \
       -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
       -Wcast-qual -Wundef -Wno-unused-parameter
ifneq ($(WERROR),)
WARN += -Werror
endif
ifneq ($(SANITIZE),)
SAN = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
endif

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DRELAYQ_VERSION='"$(VERSION)"' \
	-DSYSCONFDIR='"$(SYSCONFDIR)"' -DSPOOLDIR='"$(SPOOLDIR)"' \
	-DSBINDIR='"$(SBINDIR)"' -DDOCDIR='"$(DOCDIR)"' \
	$(WARN) $(SAN) $(CFLAGS) $(PKG_CFLAGS) -Isrc
ALL_LDFLAGS = $(SAN) $(LDFLAGS)
LIBS = $(PKG_LIBS)

MAINS     = src/relayq.c src/relayq-flush.c
# relayq's own way to GnuTLS, linked before the library (gtls.h).
LAZY_SRC  = src/gtls_lazy.c
LIB_SRC   = $(filter-out $(MAINS) $(LAZY_SRC),$(wildcard src/*.c))
LIB_OBJ   = $(LIB_SRC:.c=.o)
HEADERS   = $(wildcard src/*.h)

UNIT_SRC  = $(wildcard tests/unit/t_*.c)
UNIT_BIN  = $(UNIT_SRC:.c=)
TSRV_SRC  = $(wildcard tests/smtpd/*.c)
TSRV_HDR  = $(wildcard tests/smtpd/*.h)
FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)

PROGS = src/relayq src/relayq-flush

all: $(PROGS)

src/%.o: src/%.c $(HEADERS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

src/librelayq.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

src/relayq: src/relayq.o src/gtls_lazy.o src/librelayq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< src/gtls_lazy.o src/librelayq.a $(SUBMIT_LIBS)

src/relayq-flush: src/relayq-flush.o src/librelayq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< src/librelayq.a $(LIBS)

# ---- tests ---------------------------------------------------------------

tests/unit/tap.o: tests/unit/tap.c tests/unit/tap.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

tests/unit/t_%: tests/unit/t_%.c tests/unit/tap.o src/librelayq.a $(HEADERS)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< tests/unit/tap.o src/librelayq.a $(LIBS)

tests/smtpd/rq-testsmtpd: $(TSRV_SRC) $(TSRV_HDR)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(TSRV_SRC) $(LIBS)

# LD_PRELOAD shims: faults and kills (faultshim), the order of fsyncs and
# ends of data (ordershim).
tests/%shim.so: tests/%shim.c
	$(CC) $(filter-out -Wmissing-prototypes,$(ALL_CFLAGS)) -fPIC -shared -o $@ $< -ldl

TEST_BINS = $(UNIT_BIN) tests/faultshim.so tests/ordershim.so $(if $(TSRV_SRC),tests/smtpd/rq-testsmtpd)

tests: $(PROGS) $(TEST_BINS)

# make check: install what is missing, build, run every test with one prove.
check: deps
	$(MAKE) tests
	scripts/run-tests

# Runs the tests without touching packages (for a machine already set up).
test: tests
	scripts/run-tests

deps:
	scripts/deps

demo: deps
	$(MAKE) all tests/smtpd/rq-testsmtpd
	scripts/demo

# libFuzzer harnesses (clang); FUZZ_TIME seconds each.
FUZZ_TIME ?= 10
fuzz: deps
	scripts/fuzz $(FUZZ_TIME)

bench: deps
	$(MAKE) all
	scripts/bench

lint-man:
	mandoc -Tlint -W warning doc/*.[58]

# ---- install ---------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 src/relayq $(DESTDIR)$(SBINDIR)/relayq
	install -m 0755 src/relayq-flush $(DESTDIR)$(SBINDIR)/relayq-flush
	install -m 0644 doc/relayq.8 doc/relayq-flush.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 doc/relayq.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(DOCDIR)
	install -m 0644 doc/relayq.conf.example $(DESTDIR)$(DOCDIR)/relayq.conf.example
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0644 completions/relayq.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/relayq
	install -m 0644 completions/relayq-flush.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/relayq-flush
	install -m 0644 completions/_relayq $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_relayq
	install -m 0644 completions/relayq.fish completions/relayq-flush.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/

# /usr/lib/sendmail too: mdadm and other old programs run that path, and
# every MTA package provides it.
install-sendmail: install
	install -d $(DESTDIR)/usr/sbin $(DESTDIR)/usr/bin $(DESTDIR)/usr/lib
	ln -sf $(SBINDIR)/relayq $(DESTDIR)/usr/sbin/sendmail
	ln -sf $(SBINDIR)/relayq $(DESTDIR)/usr/lib/sendmail
	ln -sf $(SBINDIR)/relayq $(DESTDIR)/usr/bin/mailq
	ln -sf $(SBINDIR)/relayq $(DESTDIR)/usr/bin/newaliases

clean:
	rm -f src/*.o src/librelayq.a $(PROGS) $(UNIT_BIN) tests/unit/*.o \
		tests/smtpd/rq-testsmtpd tests/faultshim.so tests/ordershim.so
	rm -rf tests/fuzz/bin

.PHONY: all check test tests deps demo fuzz bench lint-man install install-sendmail clean
