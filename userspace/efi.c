// SPDX-License-Identifier: GPL-2.0-only
/*
 * Secure Boot and the DKMS signing key: the SecureBoot EFI variable and the MOK list
 * (MokListRT, as shim exports it to /sys/firmware/efi/mok-variables or efivars).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "efi.h"
#include "sysfs.h"

#define EFI_GLOBAL "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define SHIM_LOCK "605dab50-e046-4300-abb6-3dd810dd8b23"
#define MAX_VAR (1 << 20)

int efi_secure_boot(void)
{
	unsigned char *data;
	char path[4096];
	long n;
	int r;

	if (root_exists(ROOT_SYS, "firmware/efi"))
		return -ENOENT;
	r = root_path(path, sizeof(path), ROOT_SYS, "firmware/efi/efivars/SecureBoot-" EFI_GLOBAL);
	if (r)
		return r;
	n = read_whole_file(path, &data, 64);
	if (n < 0)
		return n == -ENOENT ? 0 : (int)n; /* no variable: not enabled */
	/* efivarfs: 4 bytes of attributes, then the value */
	r = n >= 5 ? data[4] == 1 : -EINVAL;
	free(data);
	return r;
}

/*
 * EFI_SIGNATURE_LIST: type GUID (16), list size (4), header size (4), signature size (4),
 * header, then signatures of signature size: owner GUID (16) and data (an X.509 DER cert
 * for EFI_CERT_X509_GUID). We compare each signature's data with the certificate.
 */
int efi_siglist_has_cert(const unsigned char *data, size_t len, const unsigned char *cert,
			 size_t cert_len)
{
	size_t off = 0;

	while (off + 28 <= len) {
		uint32_t list_size, hdr_size, sig_size;

		memcpy(&list_size, data + off + 16, 4);
		memcpy(&hdr_size, data + off + 20, 4);
		memcpy(&sig_size, data + off + 24, 4);
		if (list_size < 28 || list_size > len - off || sig_size < 16 ||
		    hdr_size > list_size - 28)
			return 0;
		for (size_t s = off + 28 + hdr_size; s + sig_size <= off + list_size; s += sig_size)
			if (sig_size - 16 == cert_len && !memcmp(data + s + 16, cert, cert_len))
				return 1;
		off += list_size;
	}
	return 0;
}

int efi_mok_has_cert(const unsigned char *cert, size_t len)
{
	static const struct {
		const char *rel;
		size_t skip; /* efivarfs attributes */
	} vars[] = {
		{ "firmware/efi/mok-variables/MokListRT", 0 },
		{ "firmware/efi/efivars/MokListRT-" SHIM_LOCK, 4 },
	};
	int r = -ENOENT;

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]) && r < 0; i++) {
		unsigned char *data;
		char path[4096];
		long n;

		if (root_path(path, sizeof(path), ROOT_SYS, vars[i].rel))
			continue;
		n = read_whole_file(path, &data, MAX_VAR);
		if (n < 0) {
			r = (int)n;
			continue;
		}
		r = (size_t)n >= vars[i].skip &&
		    efi_siglist_has_cert(data + vars[i].skip, (size_t)n - vars[i].skip, cert, len);
		free(data);
	}
	return r;
}

static void check_mok(struct checks *c)
{
	static const char what[] = "if the DKMS signing key is enrolled (MOK)";
	unsigned char *cert;
	char path[4096];
	long n;
	int r;

	if (root_path(path, sizeof(path), ROOT_DKMS, "mok.pub"))
		return;
	n = read_whole_file(path, &cert, 16384);
	if (n < 0) {
		check_add(c, "dkms_key_enrolled", what, CHECK_WARN,
			  "no %s: DKMS creates it when it first builds ekvm", path);
		return;
	}
	r = efi_mok_has_cert(cert, (size_t)n);
	free(cert);
	if (r < 0)
		check_add(c, "dkms_key_enrolled", what, CHECK_WARN, "cannot read the MOK list: %s",
			  strerror(-r));
	else if (r == 0)
		check_add(c, "dkms_key_enrolled", what, CHECK_FAIL,
			  "ekvm modules will not load: mokutil --import %s, then reboot and enroll "
			  "it",
			  path);
	else
		check_add(c, "dkms_key_enrolled", what, CHECK_PASS, NULL);
}

void check_secure_boot(struct checks *c)
{
	static const char what[] = "for the Secure Boot state";
	int sb = efi_secure_boot();

	if (sb == -ENOENT) {
		check_add(c, "secure_boot", what, CHECK_NA, "no EFI firmware");
		check_add(c, "dkms_key_enrolled", "if the DKMS signing key is enrolled (MOK)",
			  CHECK_NA, "no EFI firmware");
	} else if (sb < 0) {
		check_add(c, "secure_boot", what, CHECK_WARN, "cannot read SecureBoot: %s",
			  strerror(-sb));
		check_mok(c);
	} else if (sb == 0) {
		check_add(c, "secure_boot", what, CHECK_PASS, "disabled: unsigned modules load");
		check_add(c, "dkms_key_enrolled", "if the DKMS signing key is enrolled (MOK)",
			  CHECK_NA, "Secure Boot is disabled");
	} else {
		check_add(c, "secure_boot", what, CHECK_PASS, "enabled: modules must be signed");
		check_mok(c);
	}
}
