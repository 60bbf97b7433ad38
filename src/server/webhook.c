/* Standard Webhooks secrets and signatures (webhook.h). */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "atrium/util.h"
#include "server/webhook.h"

#define PREFIX "whsec_"
#define PREFIX_LEN 6
#define KEY_NEW 24  /* bytes of a new secret, as the spec's examples */
#define KEY_MIN 16  /* shorter keys are refused: too easy to guess */
#define KEY_MAX 64  /* the longest HMAC-SHA256 key used whole (its block) */
#define B64_MAX 88  /* base64 of KEY_MAX bytes */

/* The key bytes of secret into key (KEY_MAX): their count, or -1 when
 * secret is not "whsec_" + padded standard base64 of KEY_MIN..KEY_MAX
 * bytes. EVP_DecodeBlock accepts what it should not (no padding check,
 * spaces), so the text is checked character by character first. */
static int
secret_key(const char *secret, unsigned char key[KEY_MAX + 3])
{
	const char *b;
	size_t len, pad = 0;
	int n;

	if (secret == NULL || strncmp(secret, PREFIX, PREFIX_LEN) != 0)
		return -1;
	b = secret + PREFIX_LEN;
	len = strlen(b);
	if (len == 0 || len > B64_MAX || len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)b[i];
		int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (c == '=') {
			if (i < len - 2)
				return -1;
			pad++;
		} else if (pad > 0 || !(alnum || c == '+' || c == '/')) {
			return -1;
		}
	}
	n = EVP_DecodeBlock(key, (const unsigned char *)b, (int)len);
	if (n < 0)
		return -1;
	n -= (int)pad;
	if (n < KEY_MIN || n > KEY_MAX) {
		OPENSSL_cleanse(key, KEY_MAX + 3);
		return -1;
	}
	return n;
}

int
webhook_secret_new(char *out, size_t size, struct atr_err *err)
{
	unsigned char key[KEY_NEW];

	if (size < 64)
		return atr_err_set(err, ATR_E_INTERNAL, "webhook secret buffer too small");
	if (atr_random_bytes(key, sizeof(key)) == -1)
		return atr_err_set(err, ATR_E_INTERNAL, "no random bytes for a webhook secret");
	memcpy(out, PREFIX, PREFIX_LEN);
	EVP_EncodeBlock((unsigned char *)out + PREFIX_LEN, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}

int
webhook_secret_valid(const char *s)
{
	unsigned char key[KEY_MAX + 3];
	int n = secret_key(s, key);

	OPENSSL_cleanse(key, sizeof(key));
	return n > 0;
}

/* "v1," + base64(HMAC) of one secret, appended to out at *pos. */
static int
sign_one(const char *secret, const char *msg_id, const char *ts, const void *body, size_t len,
    char *out, size_t size, size_t *pos, struct atr_err *err)
{
	unsigned char key[KEY_MAX + 3], mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	int n = secret_key(secret, key);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *m;
	EVP_MAC_CTX *h = NULL;
	int ok;

	if (n < 0)
		return atr_err_set(err, ATR_E_CONFIG, "the webhook secret is not \"whsec_\" followed "
		    "by base64 of %d to %d bytes", KEY_MIN, KEY_MAX);
	ERR_clear_error();
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL)
		h = EVP_MAC_CTX_new(m);
	ok = h != NULL && EVP_MAC_init(h, key, (size_t)n, params) == 1 &&
	    EVP_MAC_update(h, (const unsigned char *)msg_id, strlen(msg_id)) == 1 &&
	    EVP_MAC_update(h, (const unsigned char *)".", 1) == 1 &&
	    EVP_MAC_update(h, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(h, (const unsigned char *)".", 1) == 1 &&
	    EVP_MAC_update(h, body, len) == 1 && EVP_MAC_final(h, mac, &maclen, sizeof(mac)) == 1;
	EVP_MAC_CTX_free(h);
	EVP_MAC_free(m);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
		return atr_err_set_ssl(err, ATR_E_INTERNAL, "HMAC-SHA256 failed");
	/* "v1," + 44 characters of base64 + NUL, after a space when not first. */
	if (*pos + (*pos > 0) + 3 + 4 * ((maclen + 2) / 3) + 1 > size)
		return atr_err_set(err, ATR_E_INTERNAL, "webhook signature buffer too small");
	if (*pos > 0)
		out[(*pos)++] = ' ';
	memcpy(out + *pos, "v1,", 3);
	*pos += 3;
	*pos += (size_t)EVP_EncodeBlock((unsigned char *)out + *pos, mac, (int)maclen);
	return 0;
}

int
webhook_sign(const char *secret, const char *old_secret, const char *msg_id, int64_t timestamp,
    const void *body, size_t len, char *out, size_t size, struct atr_err *err)
{
	char ts[24];
	size_t pos = 0;

	if (size == 0)
		return atr_err_set(err, ATR_E_INTERNAL, "webhook signature buffer too small");
	out[0] = '\0';
	snprintf(ts, sizeof(ts), "%lld", (long long)timestamp);
	if (sign_one(secret, msg_id, ts, body, len, out, size, &pos, err) == -1)
		return -1;
	if (old_secret != NULL && old_secret[0] != '\0' &&
	    sign_one(old_secret, msg_id, ts, body, len, out, size, &pos, err) == -1) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}
