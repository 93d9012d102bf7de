# SPDX-License-Identifier: GPL-2.0
#
# ekvm: builds kvm.ko, kvm-intel.ko and kvm-amd.ko from this tree for one kernel, after checking
# that the kernel is the tree's base (installed as the Makefile of a prepared tree).
#
#   make [KVER=<kernel release>] [KDIR=<kernel build folder>]
#   make instance EKVM_INSTANCE=<name> [KVER=...] [KDIR=...]
#        a KVM instance instead: one module <name>.ko, the common and the SVM code, exporting
#        nothing (arch/x86/kvm/ekvm_instance.c), and the base module ekvm_vac.ko it needs, which
#        owns /dev/kvm (arch/x86/kvm/ekvm_vac.c; docs/multi-kvm.md in ekvm's repository). Build
#        them in a tree of their own: the objects differ from the modules'.

include ekvm.mk

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
KVM_DIR := $(CURDIR)/arch/x86/kvm

modules:
	@./ekvm-check.sh target $(EKVM_BASE) $(KDIR)
	$(MAKE) -C $(KDIR) M=$(KVM_DIR) modules
	@./ekvm-check.sh kabi $(KDIR)/Module.symvers $(KVM_DIR)/Module.symvers

instance:
	@test -n "$(EKVM_INSTANCE)" || { echo "ekvm: make instance needs EKVM_INSTANCE=<name>" >&2; exit 1; }
	@./ekvm-check.sh target $(EKVM_BASE) $(KDIR)
	$(MAKE) -C $(KDIR) M=$(KVM_DIR) EKVM_INSTANCE=$(EKVM_INSTANCE) modules
	@./ekvm-check.sh instance $(KVM_DIR)/$(EKVM_INSTANCE).ko $(KVM_DIR)/Module.symvers

clean:
	$(MAKE) -C $(KDIR) M=$(KVM_DIR) clean

.PHONY: modules instance clean
