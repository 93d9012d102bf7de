# ekvm: an enterprise build of KVM, kept as a patch series over Linux LTS.
#
#   make              install build dependencies, import the base, apply the series, build the
#                     KVM modules for the base's Debian kernel (build/modules/<kver>/) and the
#                     ekvm tool (build/userspace/ekvm)
#   make check        everything that proves it (the command CI runs)
#   make bench        benchmarks; figures are recorded in docs/bench.md
#
# Versions live here and only here.

# The ekvm release counter on a base: the modules report <base>.<release>, e.g. 6.1.192.3.
EKVM_RELEASE := 7

# A base: the Linux point release the series is written on, the Debian linux-source package
# version it is imported from, and the Debian kernel a default build targets.
BASE ?= 6.1
BASE_VERSION_6.1 := 6.1.192
BASE_DEBVER_6.1 := 6.1.192-2
BASE_KVER_6.1 := 6.1.0-56-amd64
# The point releases the DKMS package carries a KVM tree for, <version>:<Debian source version>
# the tree is imported from[,<Debian source version>...]: the tree serves the kernels of exactly
# these Debian versions (the ones after the first hold the same KVM files: check-releases checks
# it, scripts/verify-debian-source.sh), since Debian patches KVM inside a point release too.
# Then the Debian kernel ABIs built from them (6.1.0-55 and -56 are both 6.1.192).
DKMS_RELEASES_6.1 := 6.1.170:6.1.170-3 6.1.176:6.1.176-1 6.1.187:6.1.187-1 6.1.190:6.1.190-1 \
		     6.1.192:6.1.192-2,6.1.192-1,6.1.192-3
DKMS_KVERS_6.1 := 6.1.0-47-amd64 6.1.0-50-amd64 6.1.0-53-amd64 6.1.0-54-amd64 6.1.0-55-amd64 \
		  6.1.0-56-amd64
# The second base, Linux 6.12 (the RHEL 10 and Debian 13 base), from Debian 12's security archive.
BASE_VERSION_6.12 := 6.12.117
BASE_DEBVER_6.12 := 6.12.117-1~deb12u1
BASE_KVER_6.12 := 6.12.117+deb12-amd64
# Every 6.12 point release Debian 13 (trixie, trixie-security) has a kernel ABI of, and so Debian
# 12's backports of them: each tree serves Debian 12's build (~deb12u1) and Debian 13's, which hold
# the same KVM files. 6.12.115-1 (6.12.115+deb13) and -2 (6.12.115+deb13.1) do too; 6.12.116 is
# Debian 13's only.
DKMS_RELEASES_6.12 := 6.12.107:6.12.107-1~deb12u1,6.12.107-1 6.12.111:6.12.111-1~deb12u1,6.12.111-1 \
		      6.12.113:6.12.113-1~deb12u1,6.12.113-1 \
		      6.12.115:6.12.115-2~deb12u1,6.12.115-1,6.12.115-2 6.12.116:6.12.116-1 \
		      6.12.117:6.12.117-1~deb12u1,6.12.117-1 6.12.118:6.12.118-1~deb12u1,6.12.118-1
# Debian 13's kernel of the base (tests/pkg/trixie-lifecycle.sh, in a trixie root), and every
# Debian 13 kernel ABI the trees serve (tests/pkg/trixie-abis.sh builds for each, in a trixie root).
TRIXIE_KVER := 6.12.117+deb13-amd64
TRIXIE_KVERS := 6.12.107+deb13-amd64 6.12.111+deb13-amd64 6.12.113+deb13-amd64 \
		6.12.115+deb13-amd64 6.12.115+deb13.1-amd64 6.12.116+deb13-amd64 \
		6.12.117+deb13-amd64 6.12.118+deb13-amd64
# The Debian 12 kernels of those releases (check-releases builds each tree for its kernel here;
# 6.12.116 has none: tests/pkg/trixie-abis.sh builds it).
TRIXIE_ONLY_RELEASES := 6.12.116
DKMS_KVERS_6.12 := 6.12.107+deb12-amd64 6.12.111+deb12-amd64 6.12.113+deb12-amd64 \
		   6.12.115+deb12-amd64 6.12.117+deb12-amd64 6.12.118+deb12-amd64
# Every base this tree carries (make check covers each of them).
BASES := 6.1 6.12

VERSION := $(BASE_VERSION_$(BASE))
KVER ?= $(BASE_KVER_$(BASE))
# Where the base comes from: --deb <version> (default), --tarball <file> or --tree <dir>.
SOURCE ?= --deb $(BASE_DEBVER_$(BASE))

ifeq ($(VERSION),)
$(error ekvm: unknown BASE $(BASE): known bases are $(BASES))
endif

# The packages and the tool: one version for all bases, the first base's (ekvm-dkms carries every
# base's trees, docs/packages.md); the modules report their own base's (6.12.117.1).
PKG_VERSION := $(BASE_VERSION_$(firstword $(BASES))).$(EKVM_RELEASE)
DKMS_RELEASES := $(DKMS_RELEASES_$(BASE))
# ekvm-dkms carries the trees of every base, whatever BASE is (docs/packages.md), and
# check-releases covers them on their kernels.
DKMS_RELEASES_ALL := $(foreach b,$(BASES),$(DKMS_RELEASES_$(b)))
DKMS_KVERS_ALL := $(foreach b,$(BASES),$(DKMS_KVERS_$(b)))

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

# A KVM instance (docs/multi-kvm.md): one module kvm_ekvm_<version>_<release>.ko of the common
# and the SVM code, exporting nothing, and the base module ekvm_vac.ko that owns /dev/kvm and the
# per-CPU state for instances, built in a tree of their own; into build/instance/KVER. Its twin,
# the same code named kvm_ekvm_<version>_<release>_b, in build/instance/KVER/twin, is for the
# tests of two instances at once (a second tree: each object has the module's name in it).
INSTANCE := kvm_ekvm_$(subst .,_,$(VERSION))_$(EKVM_RELEASE)
INSTANCE_TREE := $(B)/instance-tree/$(KVER)
INSTANCE_DIR := $(B)/instance/$(KVER)
TWIN_TREE := $(B)/instance-tree/$(KVER)-twin
$(INSTANCE_TREE)/.prepared $(TWIN_TREE)/.prepared: $(wildcard patches/$(BASE)/*) $(wildcard kernel/*) \
		kernel/manifests/$(VERSION).sha256 Makefile | import
	@scripts/prepare-tree.sh $(VERSION) $(@D)
	@touch $@

instance: import $(INSTANCE_TREE)/.prepared $(TWIN_TREE)/.prepared
	$(MAKE) -C $(INSTANCE_TREE) KVER=$(KVER) EKVM_INSTANCE=$(INSTANCE) instance -j$(shell nproc)
	$(MAKE) -C $(TWIN_TREE) KVER=$(KVER) EKVM_INSTANCE=$(INSTANCE)_b instance -j$(shell nproc)
	@rm -rf $(INSTANCE_DIR) && mkdir -p $(INSTANCE_DIR)/twin
	@cp $(INSTANCE_TREE)/arch/x86/kvm/$(INSTANCE).ko $(INSTANCE_TREE)/arch/x86/kvm/ekvm_vac.ko \
		$(INSTANCE_DIR)/
	@cp $(TWIN_TREE)/arch/x86/kvm/$(INSTANCE)_b.ko $(INSTANCE_DIR)/twin/
	@echo "ekvm: instance $(INSTANCE) (and its twin) for $(KVER) in $(INSTANCE_DIR)"

userspace:
	$(MAKE) -C userspace EKVM_VERSION=$(PKG_VERSION)

check-patches: import
	@scripts/check-patches.sh $(VERSION) $(KVER)

# The bases' series in step: the same patches, statuses and ekvm ABI (docs/patches.md).
check-sync:
	@$(foreach b,$(BASES),$(MAKE) -s import BASE=$(b) &&) true
	@scripts/check-sync.sh $(BASES)

# The series on every point release the DKMS package carries (their kernels' headers installed).
# make check skips the bases' own releases (CHECK_RELEASES_SKIP): its check-patches built them.
check-releases: deps
	@scripts/install-deps.sh $(DKMS_KVERS_ALL)
	@EKVM_CHECK_RELEASES_SKIP="$(CHECK_RELEASES_SKIP)" EKVM_CHECK_RELEASES_ELSEWHERE="$(TRIXIE_ONLY_RELEASES)" \
		scripts/check-releases.sh "$(DKMS_RELEASES_ALL)" $(DKMS_KVERS_ALL)

test: modules userspace
	@tests/run.sh

# The VM harness (tests/vm, docs/vm-test.md): the base's Debian kernel under QEMU TCG, the same
# tests with its stock KVM modules and with ekvm's, npt=1 and npt=0; ekvm's smoke guest included.
# The tool, its man page, bash and zsh completion: make install [PREFIX=/usr/local] [DESTDIR=]
install: userspace
	$(MAKE) -C userspace install EKVM_VERSION=$(PKG_VERSION) NO_DEPS=1

userspace-static: userspace
	$(MAKE) -s -C userspace static NO_DEPS=1 EKVM_VERSION=$(PKG_VERSION)

# NPTS: the kvm_amd npt settings to run. make check runs every base with npt=1 only to stay well
# within CI's budget (npt=0 adds 3-5 minutes a base; the series does not touch the MMU, and npt=0
# runs the same ekvm tests on shadow paging); make vm-test and make check-full run both.
NPTS ?= 1,0
CHECK_NPTS_6.1 := 1
CHECK_NPTS_6.12 := 1
# INSTANCES_NPTS: the npt settings of the scenario of two instances at once (make
# vm-test-instance; about 1.5 minutes each): both on 6.1 in make check too, as issue 20 asks.
INSTANCES_NPTS ?= $(NPTS)
CHECK_INSTANCES_NPTS_6.1 := 1,0
CHECK_INSTANCES_NPTS_6.12 := 1
# VM_EXCLUDE: a regex of tests to leave out (run.sh -X). make check leaves out the selftests that
# stress KVM's MMU, dirty logging and memslots (about 4 minutes of each 6.1 guest's time, 5 of
# 6.12's; the series does not touch that code): make vm-test and make check-full run them.
VM_EXCLUDE ?=
MMU_STRESS_SELFTESTS := ^selftests/(dirty_log_test|dirty_log_perf_test|demand_paging_test|kvm_page_table_test|max_guest_memory_test|memslot_modification_stress_test|memslot_perf_test|set_memory_region_test)$$
CHECK_VM_EXCLUDE_6.1 := $(MMU_STRESS_SELFTESTS)
CHECK_VM_EXCLUDE_6.12 := $(MMU_STRESS_SELFTESTS)
vm-test: modules userspace-static
	@tests/vm/run.sh -k $(KVER) -e $(MODULES) -n $(NPTS) -x $(B)/userspace/ekvm-static \
		$(if $(VM_EXCLUDE),-X '$(VM_EXCLUDE)')

# The Intel half (tests/vm/boot-bochs.sh; docs/vm-test.md, "Intel: Bochs"): kvm-intel, stock
# against ekvm, in the base's Debian kernel under Bochs's VMX emulation, at each kvm_intel ept
# setting of EPTS, without the MMU stress selftests (minutes each under TCG already); the tests
# that hang the emulated machine are "skip ... intel" in tests/vm/expectations.txt. make check
# runs vm-smoke-intel on the first base instead: both guests boot, load kvm-intel, run ekvm's
# identity test and its exit guest (hist_test: exact exit counts per class, the VMX exit path's
# own ekvm code) and three selftests, ept=1, no reload.
EPTS ?= 1,0
VM_INTEL_EXCLUDE ?= $(MMU_STRESS_SELFTESTS)
VM_INTEL_SMOKE := ^ekvm/(identity|hist)_test$$|^selftests/(state_test|vmx_tsc_adjust_test|cpuid_test)$$
vm-test-intel: modules userspace-static
	@tests/vm/run.sh -P intel -k $(KVER) -e $(MODULES) -n $(EPTS) -x $(B)/userspace/ekvm-static \
		$(if $(VM_INTEL_EXCLUDE),-X '$(VM_INTEL_EXCLUDE)')

# A KVM instance behind its base module (make instance; docs/multi-kvm.md) as the ekvm side: the
# same selftests and ekvm tests against stock, and the instance's own scenario (its names, the
# base's active instance and stock refusal, a VM pins it, unload and load again, the tool on it).
vm-test-instance: instance userspace-static
	@tests/vm/run.sh -k $(KVER) -e $(INSTANCE_DIR) -n $(NPTS) -I $(INSTANCES_NPTS) \
		-x $(B)/userspace/ekvm-static $(if $(VM_EXCLUDE),-X '$(VM_EXCLUDE)')

vm-smoke-intel: modules userspace-static
	@tests/vm/run.sh -P intel -k $(KVER) -e $(MODULES) -n 1 -s selftests,ekvm -f '$(VM_INTEL_SMOKE)'

# Packages: ekvm-dkms (KVM trees for DKMS_RELEASES_ALL, series applied) and ekvm-tools.
pkg-deps:
	@scripts/install-deps.sh -f packaging/deps.txt -f userspace/deps.txt

deb: pkg-deps
	@scripts/build-deb.sh $(B)/deb $(PKG_VERSION) $(DKMS_RELEASES_ALL)
	@$(MAKE) -s --no-print-directory modules-deb

# ekvm-modules-<kver>: the prebuilt, signed modules of the Debian kernel of each base in
# MODULES_DEB_BASES (BASE_KVER_<base>) whose modules are built (make modules BASE=<base> builds
# them; docs/packages.md). The signing key: EKVM_MODULE_KEY and EKVM_MODULE_CERT, else a
# throw-away key in build/keys/. 6.1 only by default: the 6.12 package has not been built and
# checked here yet (MODULES_DEB_BASES="6.1 6.12" builds it).
MODULES_DEB_BASES ?= 6.1
modules-deb: pkg-deps
	@$(foreach b,$(MODULES_DEB_BASES),$(if $(wildcard $(B)/modules/$(BASE_KVER_$(b))/kvm.ko), \
		scripts/build-modules-deb.sh $(B)/deb $(PKG_VERSION) $(BASE_KVER_$(b)) \
			$(B)/modules/$(BASE_KVER_$(b)), \
		echo "ekvm: no modules built for $(BASE_KVER_$(b)): no ekvm-modules-$(BASE_KVER_$(b)) (make modules BASE=$(b))" >&2) &&) true

# A signed apt repository, one suite per Debian release in REPO_SUITES (bookworm, trixie), each
# suite's packages built in a clean root of that suite (scripts/deb-build-root.sh, in
# build/deb-<suite>/: the same version, the suite's own toolchain and libraries), with
# ekvm-archive-keyring (the key for Signed-By:), signed by a throw-away key made once in
# build/repo-key/ (REPO_KEY=<GnuPG home or key id> signs with another), in build/repo/.
REPO_SUITES ?= bookworm trixie
REPO_KEY ?= $(B)/repo-key
repo: pkg-deps
	@$(if $(filter $(B)/repo-key,$(REPO_KEY)),scripts/make-signing-key.sh $(REPO_KEY) >/dev/null &&) true
	@scripts/build-keyring-deb.sh $(B)/keyring $(PKG_VERSION) $(REPO_KEY)
	@$(foreach s,$(REPO_SUITES),scripts/build-deb.sh -s $(s) $(B)/deb-$(s) $(PKG_VERSION) $(DKMS_RELEASES_ALL) && \
		scripts/build-repo.sh $(B)/repo $(s) $(REPO_KEY) $(B)/keyring/ekvm-archive-keyring_$(PKG_VERSION)_all.deb \
		$(foreach p,ekvm-dkms_$(PKG_VERSION)_all ekvm-tools_$(PKG_VERSION)_amd64 ekvm-fleet_$(PKG_VERSION)_amd64,$(B)/deb-$(s)/$(p).deb) &&) true

# A signed dnf/yum repository of the RPMs in build/rpm (not the debug information packages),
# the release kernel's RPMs when they are built (make kernel-rpm KCONFIG=release: RHEL-family
# hosts run ekvm's own kernel) and ekvm-release (the .repo file for YUM_REPO_URL, the key),
# signed by REPO_KEY as make repo's, in build/yum-repo/ (docs/packages.md).
YUM_REPO_URL ?= file://$(abspath $(B)/yum-repo)
yum-repo: rpm
	@$(if $(filter $(B)/repo-key,$(REPO_KEY)),scripts/make-signing-key.sh $(REPO_KEY) >/dev/null &&) true
	@scripts/build-yum-repo.sh $(B)/yum-repo $(YUM_REPO_URL) $(REPO_KEY) \
		$(filter-out $(B)/rpm/ekvm-debug%,$(wildcard $(B)/rpm/ekvm-*-$(PKG_VERSION)-*.rpm)) \
		$(wildcard $(B)/kernel-rpm/release/kernel-ekvm*.x86_64.rpm)

# The release's software bill of materials, SPDX 2.3 JSON: the Debian sources of the KVM trees,
# the series, the packages (docs/packages.md), in build/sbom/.
sbom: deb rpm
	@mkdir -p $(B)/sbom
	@scripts/build-sbom.sh $(B)/sbom/ekvm-$(PKG_VERSION).spdx.json \
		$(filter-out %-dbgsym_$(PKG_VERSION)_amd64.deb,$(wildcard $(B)/deb/*_$(PKG_VERSION)_*.deb)) \
		$(filter-out $(B)/rpm/ekvm-debug%,$(wildcard $(B)/rpm/ekvm-*-$(PKG_VERSION)-*.rpm))

# What the lab (tests/lab) installs: releases EKVM_RELEASE and EKVM_RELEASE+1 (with the lab's
# patch) and two broken EKVM_RELEASE+1, in a signed repository (suites lab, lab-broken and
# lab-broken-preinst), in build/lab/ (tests/lab/releases/README.md).
lab-releases: pkg-deps
	@tests/lab/releases/build.sh $(B)/lab
	@EKVM_LAB_OUT=$(abspath $(B)/lab) tests/run.sh tests/lab/releases/check.sh

rpm: pkg-deps
	@scripts/build-rpm.sh $(B)/rpm $(PKG_VERSION) $(DKMS_RELEASES_ALL)

# Installs and removes packages and kernel headers on this machine (root). The modules first:
# make deb packages them (ekvm-modules-<kver>).
# make check leaves out the tests in clean roots of Debian 12 and 13 (tests/pkg/trixie-lifecycle.sh:
# DKMS with gcc-14, Debian 13's kernel booted, about 6 minutes on a clean clone;
# tests/pkg/repo-suites.sh: the signed repository's suites, each built in its own root, installed
# from and upgraded in a bookworm and a trixie root, about 15 minutes; tests/pkg/reproducible.sh:
# the debs built in clean bookworm and trixie roots and the RPMs, each twice, about 5 minutes with
# the roots cached; tests/pkg/trixie-abis.sh: a DKMS build for every Debian 13 kernel ABI, about
# 15 minutes); make pkg-test runs every test.
PKG_TESTS ?= $(wildcard tests/pkg/*.sh)
CHECK_PKG_TESTS := $(filter-out tests/pkg/trixie-lifecycle.sh tests/pkg/trixie-abis.sh tests/pkg/repo-suites.sh \
		     tests/pkg/reproducible.sh,$(wildcard tests/pkg/*.sh))
pkg-test: modules deb rpm userspace-static
	@tests/run.sh $(PKG_TESTS)

# make check: every base. What is per base (the series' checks, the build, the VM harness) runs
# for each of BASES in turn; the rest covers all bases at once (check-releases, the packages) or
# does not depend on the base (the tool, the fleet).
check:
	$(MAKE) check-sync
	$(foreach b,$(BASES),$(MAKE) BASE=$(b) check-base &&) true
	$(MAKE) BASE=$(firstword $(BASES)) vm-smoke-intel
	$(MAKE) check-releases test pkg-test fleet-test PKG_TESTS="$(CHECK_PKG_TESTS)" \
		CHECK_RELEASES_SKIP="$(foreach b,$(BASES),$(BASE_VERSION_$(b)))"

check-base: check-patches all
	$(MAKE) vm-test NPTS=$(CHECK_NPTS_$(BASE)) VM_EXCLUDE='$(CHECK_VM_EXCLUDE_$(BASE))'
	$(MAKE) vm-test-instance NPTS=$(CHECK_NPTS_$(BASE)) VM_EXCLUDE='$(CHECK_VM_EXCLUDE_$(BASE))' \
		INSTANCES_NPTS=$(CHECK_INSTANCES_NPTS_$(BASE))

# make check with the VM harness at both npt settings and every test on every base, and the
# Debian 13 package lifecycle (about 20 min more).
check-full:
	$(MAKE) check CHECK_NPTS_6.1=1,0 CHECK_NPTS_6.12=1,0 CHECK_VM_EXCLUDE_6.1= CHECK_VM_EXCLUDE_6.12= \
		CHECK_PKG_TESTS="$(wildcard tests/pkg/*.sh)"

# ekvm fleet on three libvirtd "hosts" in network namespaces with two live guests: a rollout
# and three failures, each resumed to completion (tests/fleet, docs/fleet.md; root).
fleet-deps: deps
	@scripts/install-deps.sh -f tests/fleet/deps.txt

# make check runs every case but the migration transport's (parallel connections, post-copy,
# bandwidth, TLS: about 2.5 minutes), which make fleet-test-full adds.
FLEET_FULL_ONLY := migration-knobs tls
fleet-test: fleet-deps userspace
	@tests/run.sh $(filter-out $(FLEET_FULL_ONLY:%=tests/fleet/cases/%.sh),$(wildcard tests/fleet/cases/*.sh))

fleet-test-full: fleet-deps userspace
	@tests/run.sh tests/fleet/cases/*.sh

# The lab (tests/lab, docs/lab.md): three Debian 12 hosts under QEMU TCG with their own network;
# ekvm installed from a signed repository, libvirt guests on ekvm's KVM, real rollouts to the next
# release and back with ekvm fleet. A tier of its own, not in make check (root; about 25 minutes,
# more with a cold image). make lab-hosts runs only the hosts' own test (boot, a migration).
lab-deps: deps pkg-deps fleet-deps
	@scripts/install-deps.sh -f tests/lab/deps.txt

lab-image: lab-deps
	@tests/lab/lib/image.sh

lab-test: lab-deps userspace
	@tests/lab/cases/10-rollout.sh

lab-hosts: lab-deps
	@tests/run.sh tests/lab/cases/00-hosts.sh

# Whole kernels with the series built in (docs/kernel-packages.md), from the base source, the
# series and kernel/config/: KCONFIG=minimal (x86_64_defconfig + fragments, what CI and the VM
# harness use) or KCONFIG=release (Debian's config of KVER; hours on 2 cores). Output in
# build/kernel-deb/<profile>/ and build/kernel-rpm/<profile>/. kernel-test is its own tier, not
# part of make check (root; about an hour here, most of it compiling). All of them are for one
# base: BASE=6.12 builds and tests the 6.12 kernels (make kernel-test BASE=6.12).
KCONFIG ?= minimal

kernel-deps: import
	@scripts/install-deps.sh -f packaging/kernel/deps.txt \
		$(if $(filter release,$(KCONFIG)),-f packaging/kernel/deps-release.txt $(KVER))

kernel-deb: kernel-deps
	@scripts/build-kernel-deb.sh $(KCONFIG) $(B)/kernel-deb/$(KCONFIG)

kernel-rpm: kernel-deps
	@scripts/build-kernel-rpm.sh $(KCONFIG) $(B)/kernel-rpm/$(KCONFIG)

# The next release of the same kernels (EKVM_RELEASE + 1, in the same folders), for the upgrade
# tests of kernel-test: apt upgrade through the linux-image-ekvm meta-package, rpm -U.
KERNEL_NEXT_RELEASE := $(shell echo $$(($(EKVM_RELEASE) + 1)))
kernel-next: kernel-deps
	@EKVM_RELEASE=$(KERNEL_NEXT_RELEASE) scripts/build-kernel-deb.sh $(KCONFIG) $(B)/kernel-deb/$(KCONFIG)
	@EKVM_RELEASE=$(KERNEL_NEXT_RELEASE) scripts/build-kernel-rpm.sh $(KCONFIG) $(B)/kernel-rpm/$(KCONFIG)

kernel-test: userspace-static
	$(MAKE) kernel-deb kernel-rpm kernel-next KCONFIG=minimal
	@BASE=$(BASE) tests/run.sh tests/kernel/config.sh tests/kernel/deb.sh tests/kernel/rpm.sh \
		tests/kernel/vm.sh

bench: import userspace deb fleet-deps
	@scripts/bench-build.sh $(VERSION) $(KVER)
	$(MAKE) -s -C userspace bench EKVM_VERSION=$(PKG_VERSION)
	@scripts/bench-dkms.sh $(B)/deb $(firstword $(DKMS_KVERS_$(BASE)))
	@tests/vm/bench.sh
	@tests/vm/bench.sh -P intel -r 2
	@tests/fleet/bench/bench.sh

clean:
	rm -rf $(B)/kvm $(B)/modules $(B)/instance-tree $(B)/instance $(B)/check $(B)/kabi $(B)/tests

distclean:
	rm -rf $(B)

# For scripts: make -s print-VARIABLE
print-%:
	@echo '$($*)'

.PHONY: all deps import modules instance userspace install userspace-static vm-test vm-test-instance vm-test-intel vm-smoke-intel pkg-deps deb modules-deb repo yum-repo sbom lab-releases rpm pkg-test check-patches check-sync check-base check-full check-releases test check bench clean distclean \
	kernel-deps kernel-deb kernel-rpm kernel-next kernel-test fleet-deps fleet-test fleet-test-full lab-deps lab-image lab-test \
	lab-hosts
