/* A small certificate authority on top of the x509 module. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "atrium/ca.h"
#include "atrium/util.h"
#include "atrium/x509.h"

struct atr_ca {
	EVP_PKEY *key;
	X509 *cert;
};

void
atr_ca_free(struct atr_ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca);
}

X509 *
atr_ca_cert(const struct atr_ca *ca)
{
	return ca->cert;
}

int
atr_ca_is_ip(const char *text)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

struct atr_ca *
atr_ca_load(const char *dir, struct atr_err *err)
{
	char path[4200];
	struct atr_ca *ca = calloc(1, sizeof(*ca));
	BIO *bio = NULL;

	if (ca == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if ((bio = BIO_new_file(path, "r")) == NULL) {
		atr_err_set(err, errno == ENOENT ? ATR_E_NOT_FOUND : ATR_E_IO,
		    "cannot read %s: %s", path, strerror(errno));
		ERR_clear_error();
		goto fail;
	}
	ca->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (ca->key == NULL) {
		atr_err_set_ssl(err, ATR_E_CERT_INVALID, "%s holds no usable private key", path);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if ((bio = BIO_new_file(path, "r")) == NULL) {
		atr_err_set(err, ATR_E_IO, "cannot read %s: %s", path, strerror(errno));
		ERR_clear_error();
		goto fail;
	}
	ca->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (ca->cert == NULL) {
		atr_err_set_ssl(err, ATR_E_CERT_INVALID, "%s holds no certificate", path);
		goto fail;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		atr_err_set_ssl(err, ATR_E_CERT_MISMATCH,
		    "%s/ca.key does not belong to %s/ca.crt", dir, dir);
		goto fail;
	}
	return ca;
fail:
	atr_ca_free(ca);
	return NULL;
}

static int
write_pem(const char *path, const char *what, void *obj, mode_t mode, struct atr_err *err)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ok, rc;

	if (mem == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (strcmp(what, "key") == 0)
		ok = PEM_write_bio_PrivateKey(mem, obj, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_X509(mem, obj);
	if (!ok) {
		BIO_free(mem);
		return atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot encode the %s", what);
	}
	len = BIO_get_mem_data(mem, &data);
	rc = atr_write_file_atomic(path, data, (size_t)len, mode, err);
	OPENSSL_cleanse(data, (size_t)len);
	BIO_free(mem);
	return rc;
}

static EVP_PKEY *
new_key(const char *keyalg, int root, struct atr_err *err)
{
	if (keyalg == NULL || strcasecmp(keyalg, "EC") == 0)
		return atr_x509_key_generate("EC", 256, NULL, err);
	if (strcasecmp(keyalg, "RSA") == 0)
		return atr_x509_key_generate("RSA", root ? 3072 : 2048, NULL, err);
	atr_err_set(err, ATR_E_USAGE, "unknown key algorithm '%s'; use EC or RSA", keyalg);
	return NULL;
}

struct atr_ca *
atr_ca_create(const char *dir, const char *cn, const char *keyalg, struct atr_err *err)
{
	struct atr_ca *ca = calloc(1, sizeof(*ca));
	struct atr_x509_builder *b = NULL;
	X509_NAME *name = NULL;
	char path[4200];

	if (ca == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if (access(path, F_OK) == 0) {
		atr_err_set(err, ATR_E_EXISTS,
		    "%s already holds a CA; remove ca.key and ca.crt first to make a new one", dir);
		goto fail;
	}
	if (atr_mkdirs(dir, 0700, err) == -1)
		goto fail;
	if ((ca->key = new_key(keyalg, 1, err)) == NULL)
		goto fail;
	if ((name = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
		-1, 0)) {
		atr_err_set_ssl(err, ATR_E_USAGE, "bad CA name '%s'", cn);
		goto fail;
	}
	if ((b = atr_x509_builder_new()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	/* Start an hour early: clocks of clients drift. */
	if (atr_x509_builder_set_subject(b, name, err) == -1 ||
	    atr_x509_builder_set_pubkey(b, ca->key, err) == -1 ||
	    atr_x509_builder_set_validity(b, atr_now_ms() / 1000 - 3600, ATR_CA_ROOT_DAYS, err) ==
		-1 ||
	    atr_x509_builder_add_ext(b, "BC:c=ca:true,pathlen:0", err) == -1 ||
	    atr_x509_builder_add_ext(b, "KU:c=keyCertSign,cRLSign", err) == -1)
		goto fail;
	if ((ca->cert = atr_x509_builder_sign(b, ca->key, NULL, err)) == NULL)
		goto fail;
	if (write_pem(path, "key", ca->key, 0600, err) == -1)
		goto fail;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (write_pem(path, "certificate", ca->cert, 0644, err) == -1)
		goto fail;
	atr_x509_builder_free(b);
	X509_NAME_free(name);
	return ca;
fail:
	atr_x509_builder_free(b);
	X509_NAME_free(name);
	atr_ca_free(ca);
	return NULL;
}

int
atr_ca_issue(struct atr_ca *ca, const char *const *names, size_t nnames, int days,
    const char *keyalg, unsigned flags, EVP_PKEY **key, STACK_OF(X509) **chain,
    struct atr_err *err)
{
	struct atr_x509_builder *b = NULL;
	X509_NAME *subject = NULL;
	EVP_PKEY *k = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *out = NULL;
	char *san = NULL;
	size_t sanlen = 8;
	int rsa;

	*key = NULL;
	*chain = NULL;
	if (nnames == 0)
		return atr_err_set(err, ATR_E_USAGE, "a certificate needs at least one name");
	for (size_t i = 0; i < nnames; i++) {
		if (names[i][0] == '\0' || strpbrk(names[i], ", \t\r\n") != NULL)
			return atr_err_set(err, ATR_E_USAGE, "'%s' is not a host name or address",
			    names[i]);
		sanlen += strlen(names[i]) + 5;
	}
	if ((san = malloc(sanlen)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	strcpy(san, "SAN=");
	for (size_t i = 0; i < nnames; i++) {
		strcat(san, i ? "," : "");
		strcat(san, atr_ca_is_ip(names[i]) ? "ip:" : "dns:");
		strcat(san, names[i]);
	}
	rsa = keyalg != NULL && strcasecmp(keyalg, "RSA") == 0;
	if ((k = new_key(keyalg, 0, err)) == NULL)
		goto fail;
	if ((subject = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
		(const unsigned char *)names[0], -1, -1, 0)) {
		atr_err_set_ssl(err, ATR_E_USAGE, "bad name '%s'", names[0]);
		goto fail;
	}
	if ((b = atr_x509_builder_new()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (atr_x509_builder_set_subject(b, subject, err) == -1 ||
	    atr_x509_builder_set_pubkey(b, k, err) == -1 ||
	    atr_x509_builder_set_issuer(b, ca->cert, err) == -1 ||
	    atr_x509_builder_set_validity(b, atr_now_ms() / 1000 - 3600, days, err) == -1 ||
	    atr_x509_builder_add_ext(b, san, err) == -1 ||
	    atr_x509_builder_add_ext(b, "BC:c=ca:false", err) == -1 ||
	    atr_x509_builder_add_ext(b,
		rsa ? "KU:c=digitalSignature,keyEncipherment" : "KU:c=digitalSignature", err) ==
		-1 ||
	    atr_x509_builder_add_ext(b,
		(flags & ATR_CA_CLIENT_AUTH) ? "EKU=serverAuth,clientAuth" : "EKU=serverAuth",
		err) == -1)
		goto fail;
	if ((leaf = atr_x509_builder_sign(b, ca->key, NULL, err)) == NULL)
		goto fail;
	if ((out = sk_X509_new_null()) == NULL || !sk_X509_push(out, leaf)) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	leaf = NULL;
	if (!X509_up_ref(ca->cert) || !sk_X509_push(out, ca->cert)) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	*key = k;
	*chain = out;
	atr_x509_builder_free(b);
	X509_NAME_free(subject);
	free(san);
	return 0;
fail:
	sk_X509_pop_free(out, X509_free);
	X509_free(leaf);
	atr_x509_builder_free(b);
	X509_NAME_free(subject);
	EVP_PKEY_free(k);
	free(san);
	return -1;
}
