/* SPDX-License-Identifier: GPL-2.0-only */
/* EFI variables: Secure Boot state and the MOK list. -errno on error, no printing. */
#ifndef EKVM_EFI_H
#define EKVM_EFI_H

#include <stddef.h>

/* 1 enabled, 0 disabled; -ENOENT without EFI (no <sys>/firmware/efi). */
int efi_secure_boot(void);

/* Whether the DER certificate cert is in the MOK list (1/0); -errno when unreadable. */
int efi_mok_has_cert(const unsigned char *cert, size_t len);

/* Whether the EFI signature lists in data hold the certificate (1/0). */
int efi_siglist_has_cert(const unsigned char *data, size_t len, const unsigned char *cert,
			 size_t cert_len);

#endif
