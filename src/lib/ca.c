/* A small certificate authority on top of the x509 module. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "atrium/ca.h"
#include "atrium/util.h"
#include "atrium/x509.h"

#define MAX_INDEX (1024 * 1024)

struct atr_ca {
	EVP_PKEY *key;
	X509 *cert;
	char dir[4096]; /* where ca.crl and ca.revoked live */
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
	snprintf(ca->dir, sizeof(ca->dir), "%s", dir);
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
	else if (strcmp(what, "CRL") == 0)
		ok = PEM_write_bio_X509_CRL(mem, obj);
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
	snprintf(ca->dir, sizeof(ca->dir), "%s", dir);
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
    const char *keyalg, unsigned flags, const char *crl_url, EVP_PKEY **key,
    STACK_OF(X509) **chain, struct atr_err *err)
{
	struct atr_x509_builder *b = NULL;
	X509_NAME *subject = NULL;
	EVP_PKEY *k = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *out = NULL;
	char *san = NULL, cdp[600];
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
	if (crl_url != NULL) {
		if (snprintf(cdp, sizeof(cdp), "CRLDistributionPoints=uri:%s", crl_url) >=
			(int)sizeof(cdp) ||
		    strchr(crl_url, ',') != NULL) {
			atr_err_set(err, ATR_E_USAGE, "'%s' is not a usable CRL URL", crl_url);
			goto fail;
		}
		if (atr_x509_builder_add_ext(b, cdp, err) == -1)
			goto fail;
	}
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

/* ---- revocation */

void
atr_ca_crl_url(const char *host, int port, char *out, size_t len)
{
	int v6 = strchr(host, ':') != NULL;

	snprintf(out, len, "http://%s%s%s:%d/ca.crl", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* ca.revoked as a NUL-terminated string ("" when there is none yet). */
static char *
read_index(const struct atr_ca *ca, struct atr_err *err)
{
	char path[4200];
	unsigned char *buf = NULL;
	size_t len = 0;
	struct atr_err lerr;
	char *s;

	snprintf(path, sizeof(path), "%s/ca.revoked", ca->dir);
	if (atr_read_file(path, MAX_INDEX, &buf, &len, &lerr) == -1 && lerr.code != ATR_E_NOT_FOUND) {
		if (err != NULL)
			*err = lerr;
		return NULL;
	}
	if ((s = malloc(len + 1)) == NULL) {
		free(buf);
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	if (len > 0)
		memcpy(s, buf, len);
	s[len] = '\0';
	free(buf);
	return s;
}

/* One "SERIAL-HEX UNIX-TIME" line as a CRL entry (reason: superseded, as
 * the CA revokes certificates it has replaced). NULL for a bad line. */
static X509_REVOKED *
index_entry(const char *line)
{
	char hex[100];
	long long when;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *t = NULL;
	ASN1_ENUMERATED *reason = NULL;
	X509_REVOKED *rev = NULL, *out = NULL;

	if (sscanf(line, "%99[0-9A-Fa-f] %lld", hex, &when) != 2 || BN_hex2bn(&bn, hex) == 0)
		goto done;
	if ((serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (t = ASN1_TIME_set(NULL, (time_t)when)) == NULL ||
	    (reason = ASN1_ENUMERATED_new()) == NULL ||
	    !ASN1_ENUMERATED_set(reason, CRL_REASON_SUPERSEDED) ||
	    (rev = X509_REVOKED_new()) == NULL || !X509_REVOKED_set_serialNumber(rev, serial) ||
	    !X509_REVOKED_set_revocationDate(rev, t) ||
	    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0))
		goto done;
	out = rev;
	rev = NULL;
done:
	X509_REVOKED_free(rev);
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return out;
}

/* Signs a CRL over ca.revoked and writes it to ca.crl. */
static int
sign_crl(struct atr_ca *ca, struct atr_err *err)
{
	char path[4200], *index, *line, *save = NULL;
	int64_t now = atr_now_ms() / 1000;
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	int rc = -1;

	if ((index = read_index(ca, err)) == NULL)
		return -1;
	/* Start an hour early, as certificates do: clocks of clients drift.
	 * The time is also the CRL number, which only has to grow. */
	if ((crl = X509_CRL_new()) == NULL || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
	    (t = ASN1_TIME_set(NULL, (time_t)(now - 3600))) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, t) ||
	    ASN1_TIME_adj(t, (time_t)now, ATR_CA_CRL_DAYS, 0) == NULL ||
	    !X509_CRL_set1_nextUpdate(crl, t) || (num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(num, now) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot make the CRL");
		goto out;
	}
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
		 "keyid:always")) == NULL ||
	    !X509_CRL_add_ext(crl, aki, -1)) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot name the CA's key in the CRL");
		goto out;
	}
	for (line = strtok_r(index, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		X509_REVOKED *rev = index_entry(line);
		if (rev == NULL) {
			atr_err_set(err, ATR_E_CERT_INVALID, "%s/ca.revoked: bad line '%.60s'", ca->dir,
			    line);
			goto out;
		}
		if (!X509_CRL_add0_revoked(crl, rev)) {
			X509_REVOKED_free(rev);
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
	}
	if (!X509_CRL_sort(crl) || X509_CRL_sign(crl, ca->key, EVP_sha256()) <= 0) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot sign the CRL");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/ca.crl", ca->dir);
	rc = write_pem(path, "CRL", crl, 0644, err);
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	free(index);
	return rc;
}

int
atr_ca_revoke(struct atr_ca *ca, X509 *cert, struct atr_err *err)
{
	char path[4200], *index = NULL, *hex = NULL, *grown = NULL;
	BIGNUM *bn = NULL;
	size_t hl, len;
	int rc = -1;

	if (!atr_x509_signed_by(cert, ca->cert))
		return atr_err_set(err, ATR_E_CERT_INVALID,
		    "the certificate to revoke was not issued by the CA in %s", ca->dir);
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if ((index = read_index(ca, err)) == NULL)
		goto out;
	hl = strlen(hex);
	len = strlen(index);
	for (const char *p = index; *p != '\0'; p += *p == '\n') {
		if (strncasecmp(p, hex, hl) == 0 && p[hl] == ' ') {
			rc = sign_crl(ca, err); /* listed already; the CRL may still lag */
			goto out;
		}
		p += strcspn(p, "\n");
	}
	if ((grown = malloc(len + hl + 40)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	snprintf(grown, len + hl + 40, "%s%s%s %lld\n", index,
	    len > 0 && index[len - 1] != '\n' ? "\n" : "", hex, (long long)(atr_now_ms() / 1000));
	snprintf(path, sizeof(path), "%s/ca.revoked", ca->dir);
	if (atr_write_file_atomic(path, grown, strlen(grown), 0644, err) == -1)
		goto out;
	rc = sign_crl(ca, err);
out:
	free(grown);
	free(index);
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int
atr_ca_crl_refresh(struct atr_ca *ca, struct atr_err *err)
{
	char path[4200];
	BIO *bio;
	X509_CRL *crl = NULL;
	int days = -1, secs = 0, fresh = 0;

	snprintf(path, sizeof(path), "%s/ca.crl", ca->dir);
	if ((bio = BIO_new_file(path, "r")) != NULL) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (crl != NULL && X509_CRL_get0_nextUpdate(crl) != NULL &&
	    X509_CRL_verify(crl, ca->key) == 1 &&
	    ASN1_TIME_diff(&days, &secs, NULL, X509_CRL_get0_nextUpdate(crl)) == 1)
		fresh = days >= ATR_CA_CRL_RENEW_DAYS;
	X509_CRL_free(crl);
	ERR_clear_error();
	if (fresh)
		return 0;
	return sign_crl(ca, err) == -1 ? -1 : 1;
}

/* Overwrites path with zeros, syncs, and removes it. */
static int
destroy_file(const char *path, struct atr_err *err)
{
	static const unsigned char zero[512];
	struct stat st;
	off_t left;
	FILE *f;

	if ((f = fopen(path, "r+")) == NULL)
		return atr_err_set(err, ATR_E_IO, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) == -1)
		st.st_size = 0;
	for (left = st.st_size; left > 0; left -= (off_t)sizeof(zero))
		fwrite(zero, 1, left < (off_t)sizeof(zero) ? (size_t)left : sizeof(zero), f);
	fflush(f);
	fsync(fileno(f));
	fclose(f);
	if (unlink(path) == -1)
		return atr_err_set(err, ATR_E_IO, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

int
atr_ca_retire(struct atr_ca *ca, const char *archive, struct atr_err *err)
{
	static const char *const files[] = {"ca.crt", "ca.crl", "ca.revoked"};
	char from[4200], to[4200];
	size_t moved = 0;

	if (atr_mkdirs(archive, 0700, err) == -1)
		return -1;
	snprintf(to, sizeof(to), "%s/ca.crt", archive);
	if (access(to, F_OK) == 0)
		return atr_err_set(err, ATR_E_EXISTS, "%s holds a CA already", archive);
	/* A fresh CRL: valid as long as possible for clients that still fetch it. */
	if (sign_crl(ca, err) == -1)
		return -1;
	for (; moved < sizeof(files) / sizeof(files[0]); moved++) {
		snprintf(from, sizeof(from), "%s/%s", ca->dir, files[moved]);
		snprintf(to, sizeof(to), "%s/%s", archive, files[moved]);
		if (rename(from, to) == -1 && errno != ENOENT) {
			atr_err_set(err, ATR_E_IO, "cannot move %s to %s: %s", from, archive,
			    strerror(errno));
			goto undo;
		}
	}
	snprintf(from, sizeof(from), "%s/ca.key", ca->dir);
	return destroy_file(from, err);
undo:
	while (moved-- > 0) {
		snprintf(from, sizeof(from), "%s/%s", ca->dir, files[moved]);
		snprintf(to, sizeof(to), "%s/%s", archive, files[moved]);
		rename(to, from);
	}
	return -1;
}
