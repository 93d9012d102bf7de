# ekvm: an enterprise build of KVM, kept as a patch series over Linux LTS.
#
#   make              install build dependencies, import the base, apply the series, build the
#                     KVM modules for the base's Debian kernel (build/modules/<kver>/) and the
#                     ekvm tool (build/userspace/ekvm)
#   make check        everything that proves it (the command CI runs)
#   make bench        benchmarks; figures are recorded in docs/bench.md
#
# Versions live here and only here.

# The ekvm release counter on a base: the modules report <base>.<release>, e.g. 6.1.192.1.
EKVM_RELEASE := 1

# A base: the Linux point release the series is written on, the Debian linux-source package
# version it is imported from, and the Debian kernel a default build targets.
BASE ?= 6.1
BASE_VERSION_6.1 := 6.1.192
BASE_DEBVER_6.1 := 6.1.192-2
BASE_KVER_6.1 := 6.1.0-56-amd64

VERSION := $(BASE_VERSION_$(BASE))
KVER ?= $(BASE_KVER_$(BASE))
# Where the base comes from: --deb <version> (default), --tarball <file> or --tree <dir>.
SOURCE ?= --deb $(BASE_DEBVER_$(BASE))

ifeq ($(VERSION),)
$(error ekvm: unknown BASE $(BASE): known bases are 6.1)
endif

B := build
SRC := $(B)/src/linux-$(VERSION)
TREE := $(B)/kvm/$(KVER)
MODULES := $(B)/modules/$(KVER)
export EKVM_RELEASE

all: modules userspace

deps:
	@scripts/install-deps.sh $(KVER)

import: deps
	@scripts/import-base.sh $(VERSION) $(SOURCE)

# The prepared tree is laid out again whenever the series or the build glue changes.
$(TREE)/.prepared: $(wildcard patches/$(BASE)/*) $(wildcard kernel/*) \
		kernel/manifests/$(VERSION).sha256 Makefile | import
	@scripts/prepare-tree.sh $(VERSION) $(TREE)
	@touch $@

modules: import $(TREE)/.prepared
	$(MAKE) -C $(TREE) KVER=$(KVER) -j$(shell nproc)
	@mkdir -p $(MODULES)
	@cp $(TREE)/arch/x86/kvm/*.ko $(MODULES)/
	@echo "ekvm: modules for $(KVER) in $(MODULES)"

userspace:
	$(MAKE) -C userspace EKVM_VERSION=$(VERSION).$(EKVM_RELEASE)

check-patches: import
	@scripts/check-patches.sh $(VERSION) $(KVER)

test: modules userspace
	@tests/run.sh

check: check-patches test

bench: import userspace
	@scripts/bench-build.sh $(VERSION) $(KVER)
	$(MAKE) -s -C userspace bench EKVM_VERSION=$(VERSION).$(EKVM_RELEASE)

clean:
	rm -rf $(B)/kvm $(B)/modules $(B)/check $(B)/kabi $(B)/tests

distclean:
	rm -rf $(B)

.PHONY: all deps import modules userspace check-patches test check bench clean distclean
