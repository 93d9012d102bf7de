/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included (-include) into every KVM selftest built from a 6.1 base source by
 * tests/vm/build-tests.sh (selftests-compat-<series>.h: one per series that needs one; the 6.12
 * selftests build as they are). Linux 6.1.192's selftests carry two stable backports that need
 * what their 6.1 tree lacks:
 *  - steal_time.c includes <asm/kvm.h> first, whose uapi structures use __DECLARE_FLEX_ARRAY
 *    from <linux/stddef.h>, which the installed <linux/types.h> does not pull in on 6.1;
 *  - dirty_log_test.c uses TEST_ASSERT_EQ(), added to test_util.h after 6.1.
 * Nothing here changes a test's logic.
 */
#ifndef EKVM_SELFTESTS_COMPAT_H
#define EKVM_SELFTESTS_COMPAT_H

#include <linux/stddef.h>

/* Same contract as later kernels' TEST_ASSERT_EQ: report both expressions and values. */
#ifndef TEST_ASSERT_EQ
#define TEST_ASSERT_EQ(a, b)							\
do {										\
	typeof(a) __ekvm_a = (a);						\
	typeof(b) __ekvm_b = (b);						\
	TEST_ASSERT(__ekvm_a == __ekvm_b,					\
		    "%s == %s failed.\n\t%s is %#lx\n\t%s is %#lx",		\
		    #a, #b, #a, (unsigned long)__ekvm_a, #b,			\
		    (unsigned long)__ekvm_b);					\
} while (0)
#endif

#endif
