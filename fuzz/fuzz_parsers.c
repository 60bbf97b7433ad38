/*
 * libFuzzer target for the text and DER parsers that take input from
 * people and files: settings files, distinguished names, certificates,
 * certificate requests. The first byte picks the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "atrium/config.h"
#include "atrium/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct atr_err err;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: {
		/* A settings file, through a memory-backed file descriptor. */
		int fd = memfd_create("conf", 0);
		char path[64];
		struct atr_config *cfg = atr_config_new();
		if (fd == -1 || cfg == NULL || write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
			if (fd != -1)
				close(fd);
			atr_config_free(cfg);
			return 0;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		atr_config_load_file(cfg, path, &err);
		atr_config_free(cfg);
		close(fd);
		break;
	}
	case 1: {
		char *dn = malloc(size);
		X509_NAME *name;
		if (dn == NULL)
			return 0;
		memcpy(dn, data + 1, size - 1);
		dn[size - 1] = '\0';
		if ((name = atr_x509_name_parse(dn, &err)) != NULL) {
			free(atr_x509_name_format(name));
			X509_NAME_free(name);
		}
		free(dn);
		break;
	}
	case 2: {
		STACK_OF(X509) *certs = atr_x509_read_certs(data + 1, size - 1, &err);
		for (int i = 0; certs != NULL && i < sk_X509_num(certs) && i < 4; i++)
			free(atr_x509_describe(sk_X509_value(certs, i), 0, &err));
		sk_X509_pop_free(certs, X509_free);
		break;
	}
	case 3: {
		X509_REQ *req = atr_x509_csr_read(data + 1, size - 1, &err);
		if (req != NULL) {
			free(atr_x509_describe_csr(req, &err));
			X509_REQ_free(req);
		}
		break;
	}
	}
	return 0;
}
