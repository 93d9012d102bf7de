# SPDX-License-Identifier: GPL-2.0
#
# ekvm: builds kvm.ko, kvm-intel.ko and kvm-amd.ko from this tree for one kernel, after checking
# that the kernel is the tree's base (installed as the Makefile of a prepared tree).
#
#   make [KVER=<kernel release>] [KDIR=<kernel build folder>]

include ekvm.mk

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
KVM_DIR := $(CURDIR)/arch/x86/kvm

modules:
	@./ekvm-check.sh target $(EKVM_BASE) $(KDIR)
	$(MAKE) -C $(KDIR) M=$(KVM_DIR) modules
	@./ekvm-check.sh kabi $(KDIR)/Module.symvers $(KVM_DIR)/Module.symvers

clean:
	$(MAKE) -C $(KDIR) M=$(KVM_DIR) clean

.PHONY: modules clean
