/*
 * libFuzzer target for the keystore loaders (JKS, JCEKS, PKCS#12, PEM):
 * any input must load or fail with an error, never crash, read out of
 * bounds or leak. Inputs that load are walked entry by entry, and JKS and
 * PEM ones are written out and loaded again.
 *
 *   make fuzz    # seeds: the .jks, .jceks, .p12, .pem and .cer files of
 *                # tests/data/keystore-vectors (docs/fuzzing.md)
 *
 * The vectors' password is "changeit"; each input is tried with no
 * password (which skips the integrity check, as keytool does) and with it
 * (PKCS#12 inputs only when their length is odd, for speed).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "atrium/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(struct atr_ks *ks)
{
	for (size_t i = 0; i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		const STACK_OF(X509) *chain = atr_ks_entry_chain(e);
		X509 *cert = atr_ks_entry_cert(e);

		(void)atr_ks_entry_created_ms(e);
		if (atr_ks_find(ks, atr_ks_entry_alias(e)) == NULL)
			abort();
		if (cert != NULL && X509_get_subject_name(cert) == NULL)
			abort();
		if (atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY && chain == NULL)
			abort();
	}
}

static void
rewrite(struct atr_ks *ks)
{
	struct atr_err err;
	unsigned char *out = NULL;
	size_t len = 0;
	struct atr_ks *back;

	if (atr_ks_format(ks) != ATR_KS_JKS && atr_ks_format(ks) != ATR_KS_PEM)
		return;
	if (atr_ks_save_mem(ks, "changeit", &out, &len, NULL, &err) == -1)
		return;
	back = atr_ks_load_mem(out, len, "changeit", &err);
	/* What we write must load again; a JKS with exactly its entries (PEM
	 * chains are rebuilt on loading, so they may group differently). */
	if (back == NULL ||
	    (atr_ks_format(ks) == ATR_KS_JKS && atr_ks_count(back) != atr_ks_count(ks)))
		abort();
	atr_ks_free(back);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *passes[] = {NULL, "changeit"};
	struct atr_err err;

	for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
		struct atr_ks *ks;
		/* A PKCS#12 password costs two PBKDF runs of 10000 iterations and
		 * rarely gets past the MAC: only for inputs of odd length. */
		if (passes[i] != NULL && atr_ks_detect(data, size) == ATR_KS_PKCS12 && size % 2 == 0)
			continue;
		ks = atr_ks_load_mem(data, size, passes[i], &err);
		if (ks == NULL)
			continue;
		walk(ks);
		if (passes[i] != NULL)
			rewrite(ks);
		atr_ks_free(ks);
	}
	return 0;
}
