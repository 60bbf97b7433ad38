/* scrypt password hashes through OpenSSL's EVP_KDF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "atrium/util.h"
#include "server/password.h"

#define SCRYPT_N 16384
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 16
#define KEY_LEN 32

static int
derive(const char *password, const unsigned char *salt, size_t saltlen, uint64_t n, uint32_t r,
    uint32_t p, unsigned char *out, size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[6];
	int rc = -1;

	if (ctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
	    strlen(password));
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) == 1)
		rc = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

int
password_hash(const char *password, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	char salthex[2 * SALT_LEN + 1], keyhex[2 * KEY_LEN + 1];
	int rc = -1;

	if (atr_random_bytes(salt, sizeof(salt)) == -1)
		return -1;
	if (derive(password, salt, sizeof(salt), SCRYPT_N, SCRYPT_R, SCRYPT_P, key, sizeof(key)) == 0) {
		atr_hex(salt, sizeof(salt), salthex);
		atr_hex(key, sizeof(key), keyhex);
		if (snprintf(out, outlen, "scrypt$%d$%d$%d$%s$%s", SCRYPT_N, SCRYPT_R, SCRYPT_P,
			salthex, keyhex) < (int)outlen)
			rc = 0;
	}
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int
unhex(const char *hex, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + (size_t)j];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -1;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

int
password_verify(const char *password, const char *stored)
{
	unsigned long long n;
	unsigned r, p;
	char salthex[2 * SALT_LEN + 1], keyhex[2 * KEY_LEN + 1];
	unsigned char salt[SALT_LEN], want[KEY_LEN], got[KEY_LEN];
	int ok = 0;

	if (sscanf(stored, "scrypt$%llu$%u$%u$%32[0-9a-f]$%64[0-9a-f]", &n, &r, &p, salthex,
		keyhex) != 5 ||
	    strlen(salthex) != 2 * SALT_LEN || strlen(keyhex) != 2 * KEY_LEN)
		return 0;
	/* Bounds keep a damaged row from costing gigabytes of memory. */
	if (n < 2 || n > (1u << 20) || r < 1 || r > 32 || p < 1 || p > 16)
		return 0;
	if (unhex(salthex, SALT_LEN, salt) == -1 || unhex(keyhex, KEY_LEN, want) == -1)
		return 0;
	if (derive(password, salt, sizeof(salt), n, r, p, got, sizeof(got)) == 0)
		ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

const char *
password_weakness(const char *password)
{
	size_t n = strlen(password);

	if (n < PASSWORD_MIN_LEN)
		return "the password must be at least 8 characters long";
	if (n > PASSWORD_MAX_LEN)
		return "the password must be at most 1024 bytes long";
	return NULL;
}

const char password_dummy_hash[] =
    "scrypt$16384$8$1$00000000000000000000000000000000$"
    "0000000000000000000000000000000000000000000000000000000000000000";
