/*
 * Keystore tests against files made by Java 17's keytool and OpenSSL
 * (tests/data/keystore-vectors, see its README): every vector loads with
 * what keytool lists, wrong passwords fail with Java's words, damaged
 * files fail cleanly, and what we write loads back (and, in
 * tests/integration/keystore_java_interop.sh, in Java).
 *
 * When ATRIUM_KS_OUT names a directory, test_write_interop_files leaves
 * keystores there for that shell test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "atrium/keystore.h"
#include "atrium/util.h"
#include "lib/keystore_int.h"

#define VEC "tests/data/keystore-vectors/"

/* ---- helpers ----------------------------------------------------------- */

static char *
vec_path(const char *name)
{
	const char *top = getenv("ATRIUM_TOP");
	static char buf[4][1024];
	static int k;
	char *p = buf[k++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/" VEC "%s", top != NULL && *top != '\0' ? top : ".", name);
	return p;
}

static unsigned char *
slurp(const char *name, size_t *len)
{
	unsigned char *buf = NULL;
	struct atr_err err;

	if (atr_read_file(vec_path(name), ATR_KS_MAX_FILE, &buf, len, &err) == -1)
		fail_msg("cannot read %s: %s (set ATRIUM_TOP to the repository)", name, err.msg);
	return buf;
}

static struct atr_ks *
load(const char *name, const char *pass)
{
	struct atr_err err;
	struct atr_ks *ks;

	atr_err_clear(&err);
	ks = atr_ks_load_file(vec_path(name), pass, &err);
	if (ks == NULL)
		fail_msg("%s: %s", name, err.msg);
	return ks;
}

static struct atr_ks *
reload(struct atr_ks *ks, const char *pass, const char *loadpass)
{
	struct atr_err err;
	unsigned char *buf = NULL;
	size_t len = 0;
	struct atr_ks *out;

	atr_err_clear(&err);
	if (atr_ks_save_mem(ks, pass, &buf, &len, NULL, &err) == -1)
		fail_msg("save as %s: %s", atr_ks_format_name(atr_ks_format(ks)), err.msg);
	out = atr_ks_load_mem(buf, len, loadpass, &err);
	if (out == NULL)
		fail_msg("reload of %s: %s", atr_ks_format_name(atr_ks_format(ks)), err.msg);
	atr_ksi_free_secret_buf(buf, len);
	return out;
}

static void
fingerprint(X509 *x, char *out)
{
	unsigned char md[32];
	unsigned int n = 0;

	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
}

/* keytool's "Creation date" (MEDIUM style, en_US, UTC): "Nov 27, 2026". */
static void
java_date(int64_t ms, char *out, size_t n)
{
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
	    "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, n, "%s %d, %d", mon[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900);
}

static const struct atr_ks_entry *
must_find(struct atr_ks *ks, const char *alias)
{
	const struct atr_ks_entry *e = atr_ks_find(ks, alias);

	if (e == NULL)
		fail_msg("no entry %s", alias);
	return e;
}

static EVP_PKEY *
must_key(struct atr_ks *ks, const char *alias, const char *keypass)
{
	struct atr_err err;
	EVP_PKEY *k;

	atr_err_clear(&err);
	k = atr_ks_entry_key(ks, must_find(ks, alias), keypass, &err);
	if (k == NULL)
		fail_msg("key of %s: %s", alias, err.msg);
	return k;
}

/* ---- keytool listings -------------------------------------------------- */

#define MAX_ENT 8
#define MAX_CERT 4

struct lent {
	char alias[128];
	char date[32];
	char type[32];
	int chainlen;            /* -1 when not shown */
	char fp[MAX_CERT][100];  /* SHA-256 of each certificate shown */
	int nfp;
};

struct listing {
	int count;
	struct lent e[MAX_ENT];
	int n;
};

static void
chomp(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

static void
scopy(char *d, size_t n, const char *s)
{
	size_t l = strlen(s);

	if (l >= n)
		l = n - 1;
	memcpy(d, s, l);
	d[l] = '\0';
}

/* Parses keytool -list (short) or -list -v output. */
static void
parse_listing(const char *name, struct listing *l)
{
	FILE *f = fopen(vec_path(name), "r");
	char line[4096];
	struct lent *cur = NULL;

	if (f == NULL)
		fail_msg("cannot open %s", name);
	memset(l, 0, sizeof(*l));
	l->count = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		chomp(line);
		if (sscanf(line, "Your keystore contains %d", &l->count) == 1)
			continue;
		if (strncmp(line, "Alias name: ", 12) == 0) {
			assert_true(l->n < MAX_ENT);
			cur = &l->e[l->n++];
			cur->chainlen = -1;
			scopy(cur->alias, sizeof(cur->alias), line + 12);
		} else if (cur != NULL && strncmp(line, "Creation date: ", 15) == 0) {
			scopy(cur->date, sizeof(cur->date), line + 15);
		} else if (cur != NULL && strncmp(line, "Entry type: ", 12) == 0) {
			scopy(cur->type, sizeof(cur->type), line + 12);
		} else if (cur != NULL && sscanf(line, "Certificate chain length: %d", &cur->chainlen) == 1) {
			;
		} else if (cur != NULL && strncmp(line, "\t SHA256: ", 10) == 0) {
			assert_true(cur->nfp < MAX_CERT);
			scopy(cur->fp[cur->nfp++], sizeof(cur->fp[0]), line + 10);
		} else if (cur != NULL && strncmp(line, "Certificate fingerprint (SHA-256): ", 35) == 0) {
			scopy(cur->fp[cur->nfp++], sizeof(cur->fp[0]), line + 35);
		} else if (strlen(line) > 2 && strcmp(line + strlen(line) - 2, ", ") == 0 &&
		    strstr(line, "Entry, ") != NULL) {
			/* Short form: "alias, Nov 27, 2026, PrivateKeyEntry, " */
			char *first = strstr(line, ", "), *last;
			assert_true(l->n < MAX_ENT);
			cur = &l->e[l->n++];
			cur->chainlen = -1;
			line[strlen(line) - 2] = '\0';
			last = strrchr(line, ',');
			scopy(cur->type, sizeof(cur->type), last + 2);
			*last = '\0';
			*first = '\0';
			scopy(cur->alias, sizeof(cur->alias), line);
			scopy(cur->date, sizeof(cur->date), first + 2);
		}
	}
	fclose(f);
}

static const char *
kind_name(enum atr_ks_kind k)
{
	return k == ATR_KS_PRIVATE_KEY ? "PrivateKeyEntry" :
	    k == ATR_KS_TRUSTED_CERT ? "trustedCertEntry" : "SecretKeyEntry";
}

/*
 * Checks ks against a keytool listing: count, aliases, kinds, chain
 * lengths, SHA-256 fingerprints and (where the file holds them) dates.
 */
static void
check_listing(struct atr_ks *ks, const char *listing, int key_dates, int trusted_dates)
{
	struct listing l;
	char fp[100], date[32];

	parse_listing(listing, &l);
	assert_int_equal(l.count, l.n);
	assert_int_equal(atr_ks_count(ks), l.n);
	for (int i = 0; i < l.n; i++) {
		const struct lent *x = &l.e[i];
		const struct atr_ks_entry *e = atr_ks_find(ks, x->alias);
		if (e == NULL)
			fail_msg("%s: no entry %s", listing, x->alias);
		assert_string_equal(atr_ks_entry_alias(e), x->alias);
		assert_string_equal(kind_name(atr_ks_entry_kind(e)), x->type);
		if (atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY) {
			const STACK_OF(X509) *c = atr_ks_entry_chain(e);
			if (x->chainlen >= 0)
				assert_int_equal(sk_X509_num(c), x->chainlen);
			if (x->nfp > 0 && x->chainlen < 0)
				assert_true(sk_X509_num(c) >= 1);
			for (int k = 0; k < x->nfp; k++) {
				fingerprint(sk_X509_value(c, k), fp);
				assert_string_equal(fp, x->fp[k]);
			}
		} else if (atr_ks_entry_kind(e) == ATR_KS_TRUSTED_CERT) {
			assert_int_equal(x->nfp, 1);
			fingerprint(atr_ks_entry_cert(e), fp);
			assert_string_equal(fp, x->fp[0]);
		} else {
			assert_null(atr_ks_entry_cert(e));
			assert_int_equal(x->nfp, 0);
		}
		if ((atr_ks_entry_kind(e) == ATR_KS_TRUSTED_CERT) ? trusted_dates : key_dates) {
			java_date(atr_ks_entry_created_ms(e), date, sizeof(date));
			assert_string_equal(date, x->date);
		}
	}
}

/* ---- the vectors --------------------------------------------------------- */

struct vec {
	const char *file;
	const char *pass;
	enum atr_ks_format fmt;
	int key_dates;          /* key entries' dates come from the file */
	int trusted_dates;      /* trusted entries' dates come from the file */
};

static const struct vec vecs[] = {
	{"rsa2048.jks", "changeit", ATR_KS_JKS, 1, 1},
	{"ec256.jks", "storepass", ATR_KS_JKS, 1, 1},
	{"cert.jks", "changeit", ATR_KS_JKS, 1, 1},
	{"chain.jks", "changeit", ATR_KS_JKS, 1, 1},
	{"unicode.jks", "p\xc3\xa4ssw\xc3\xb6rd", ATR_KS_JKS, 1, 1},
	{"mixed.jceks", "changeit", ATR_KS_JCEKS, 1, 1},
	{"rsa2048.p12", "changeit", ATR_KS_PKCS12, 1, 0},
	{"ec256.p12", "changeit", ATR_KS_PKCS12, 1, 0},
	{"cert.p12", "changeit", ATR_KS_PKCS12, 1, 0},
	{"ca.p12", "changeit", ATR_KS_PKCS12, 1, 0},
	{"chain.p12", "changeit", ATR_KS_PKCS12, 1, 0},
	{"unicode.p12", "changeit", ATR_KS_PKCS12, 1, 0},
	{"java-legacy.p12", "changeit", ATR_KS_PKCS12, 1, 0},
	{"openssl-default.p12", "changeit", ATR_KS_PKCS12, 0, 0},
	{"openssl-legacy.p12", "changeit", ATR_KS_PKCS12, 0, 0},
	{"openssl-certonly.p12", "changeit", ATR_KS_PKCS12, 0, 0},
};
#define NVECS (sizeof(vecs) / sizeof(vecs[0]))

static void
test_vectors_list_as_keytool(void **state)
{
	char listing[128];

	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		struct atr_ks *ks = load(vecs[i].file, vecs[i].pass);
		assert_int_equal(atr_ks_format(ks), vecs[i].fmt);
		assert_int_equal(atr_ks_verified(ks), 1);
		snprintf(listing, sizeof(listing), "%s.list-v.txt", vecs[i].file);
		check_listing(ks, listing, vecs[i].key_dates, vecs[i].trusted_dates);
		snprintf(listing, sizeof(listing), "%s.list.txt", vecs[i].file);
		check_listing(ks, listing, vecs[i].key_dates, vecs[i].trusted_dates);
		atr_ks_free(ks);
	}
}

/* Every recovered key is byte for byte the PKCS#8 Java stored (keys/),
 * matches its certificate, and re-encodes as Java encodes it. */
static void
test_vector_keys(void **state)
{
	static const struct {
		const char *file, *pass, *alias, *keypass, *pk8;
	} t[] = {
		{"rsa2048.jks", "changeit", "server", NULL, "rsa2048.jks.server"},
		{"ec256.jks", "storepass", "ecserver", "keypass", "ec256.jks.ecserver"},
		{"chain.jks", "changeit", "client", NULL, "chain.jks.client"},
		{"chain.jks", "changeit", "server", "changeit", "chain.jks.server"},
		{"unicode.jks", "p\xc3\xa4ssw\xc3\xb6rd", "cl\xc3\xa9-\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",
		    NULL, "unicode.jks.entry0"},
		{"mixed.jceks", "changeit", "server", NULL, "mixed.jceks.server"},
		{"rsa2048.p12", "changeit", "server", NULL, "rsa2048.p12.part0.bag0"},
		{"ec256.p12", "changeit", "ecserver", NULL, "ec256.p12.part0.bag0"},
		{"ca.p12", "changeit", "root", NULL, "ca.p12.part0.bag0"},
		{"ca.p12", "changeit", "intermediate", NULL, "ca.p12.part0.bag1"},
		{"chain.p12", "changeit", "client", NULL, "chain.p12.part0.bag0"},
		{"chain.p12", "changeit", "server", NULL, "chain.p12.part0.bag1"},
		{"unicode.p12", "changeit", "CL\xc3\x89-\xd0\x9a\xd0\x9b\xd0\xae\xd0\xa7", NULL,
		    "unicode.p12.part0.bag0"},
		{"java-legacy.p12", "changeit", "server", NULL, "java-legacy.p12.part0.bag0"},
		{"openssl-default.p12", "changeit", "osslkey", NULL, "openssl-default.p12.part1.bag0"},
		{"openssl-legacy.p12", "changeit", "OSSLKEY", NULL, "openssl-legacy.p12.part1.bag0"},
	};
	char name[128];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct atr_ks *ks = load(t[i].file, t[i].pass);
		const struct atr_ks_entry *e = must_find(ks, t[i].alias);
		unsigned char *want, *got = NULL, *enc = NULL;
		size_t wantlen, gotlen = 0, enclen = 0;
		struct atr_err err;
		EVP_PKEY *k;

		snprintf(name, sizeof(name), "keys/%s.pk8.der", t[i].pk8);
		want = slurp(name, &wantlen);
		atr_err_clear(&err);
		if (atr_ksi_entry_pk8(ks, e, t[i].keypass, &got, &gotlen, &err) == -1)
			fail_msg("%s %s: %s", t[i].file, t[i].alias, err.msg);
		assert_int_equal(gotlen, wantlen);
		assert_memory_equal(got, want, wantlen);
		k = must_key(ks, t[i].alias, t[i].keypass);
		assert_int_equal(EVP_PKEY_eq(k, X509_get0_pubkey(atr_ks_entry_cert(e))), 1);
		assert_int_equal(atr_ksi_pkey_to_pk8(k, &enc, &enclen, &err), 0);
		assert_int_equal(enclen, wantlen);
		assert_memory_equal(enc, want, wantlen);
		atr_ksi_free_secret_buf(enc, enclen);
		atr_ksi_free_secret_buf(got, gotlen);
		EVP_PKEY_free(k);
		free(want);
		atr_ks_free(ks);
	}
}

/* Recovered keys serve TLS: an SSL_CTX takes each with its certificate. */
static void
test_keys_work_with_tls(void **state)
{
	static const struct {
		const char *file, *pass, *alias;
	} t[] = {
		{"chain.jks", "changeit", "server"}, {"chain.jks", "changeit", "client"},
		{"mixed.jceks", "changeit", "server"}, {"rsa2048.p12", "changeit", "server"},
		{"java-legacy.p12", "changeit", "server"}, {"ec256.p12", "changeit", "ecserver"},
		{"openssl-key-trad-enc.pem", "changeit", "mykey"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct atr_ks *ks = load(t[i].file, t[i].pass);
		EVP_PKEY *k = must_key(ks, t[i].alias, NULL);
		const struct atr_ks_entry *e = must_find(ks, t[i].alias);
		SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
		X509 *leaf = atr_ks_entry_cert(e);

		assert_non_null(ctx);
		if (leaf == NULL) {
			/* the PEM key alone: its certificate is the sibling file */
			struct atr_ks *c = load("openssl-cert.pem", NULL);
			leaf = atr_ks_entry_cert(atr_ks_entry_at(c, 0));
			assert_int_equal(SSL_CTX_use_certificate(ctx, leaf), 1);
			atr_ks_free(c);
		} else {
			assert_int_equal(SSL_CTX_use_certificate(ctx, leaf), 1);
		}
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, k), 1);
		assert_int_equal(SSL_CTX_check_private_key(ctx), 1);
		SSL_CTX_free(ctx);
		EVP_PKEY_free(k);
		atr_ks_free(ks);
	}
}

static void
test_wrong_store_password(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		struct atr_err err;
		atr_err_clear(&err);
		assert_null(atr_ks_load_file(vec_path(vecs[i].file), "wrongpass", &err));
		assert_int_equal(err.code, ATR_E_KS_PASSWORD);
		if (vecs[i].fmt == ATR_KS_PKCS12)
			assert_string_equal(err.msg, "keystore password was incorrect");
		else
			assert_string_equal(err.msg,
			    "Keystore was tampered with, or password was incorrect");
	}
}

static void
test_wrong_key_password(void **state)
{
	static const struct {
		const char *file, *pass, *alias, *keypass;
	} t[] = {
		{"ec256.jks", "storepass", "ecserver", NULL},        /* key pass differs */
		{"ec256.jks", "storepass", "ecserver", "storepass"},
		{"rsa2048.jks", "changeit", "server", "wrongpass"},
		{"unicode.jks", "p\xc3\xa4ssw\xc3\xb6rd", "cl\xc3\xa9-\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",
		    "passwo\xcc\x88rd"},
		{"mixed.jceks", "changeit", "server", "wrongpass"},
		{"mixed.jceks", "changeit", "server", "p\xc3\xa4ss"}, /* not ASCII: JCEKS refuses */
		{"chain.p12", "changeit", "server", "wrongpass"},
		{"java-legacy.p12", "changeit", "server", "wrongpass"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct atr_ks *ks = load(t[i].file, t[i].pass);
		struct atr_err err;
		atr_err_clear(&err);
		assert_null(atr_ks_entry_key(ks, must_find(ks, t[i].alias), t[i].keypass, &err));
		assert_int_equal(err.code, ATR_E_KS_KEY_PASSWORD);
		assert_string_equal(err.msg, "Cannot recover key");
		atr_ks_free(ks);
	}
}

/* Without a password, as keytool after Enter at the prompt. */
static void
test_no_password(void **state)
{
	struct atr_ks *ks;
	struct atr_err err;

	(void)state;
	ks = load("cert.jks", NULL);
	assert_int_equal(atr_ks_verified(ks), 0);
	check_listing(ks, "cert.jks.list-nopass.txt", 1, 1);
	atr_ks_free(ks);

	ks = load("chain.p12", NULL);
	assert_int_equal(atr_ks_verified(ks), 0);
	check_listing(ks, "chain.p12.list-nopass.txt", 1, 0);
	/* The key bags are still encrypted: a password recovers them. */
	EVP_PKEY_free(must_key(ks, "server", "changeit"));
	atr_err_clear(&err);
	assert_null(atr_ks_entry_key(ks, must_find(ks, "server"), NULL, &err));
	assert_int_equal(err.code, ATR_E_KS_KEY_PASSWORD);
	atr_ks_free(ks);

	/* Every JKS entry is listed without a password too. */
	ks = load("chain.jks", NULL);
	check_listing(ks, "chain.jks.list-v.txt", 1, 1);
	EVP_PKEY_free(must_key(ks, "client", "changeit"));
	atr_ks_free(ks);
}

/*
 * Writing a JKS back keeps every byte of its entries; only the order may
 * change, to the order Java's Hashtable gives after a reload. For one entry
 * that is the file itself; chain.jks (root, client, server) reloads with
 * root and client in one bucket, so Java (and we) write client, root,
 * server (keystore_java_interop.sh checks this against keytool
 * -storepasswd).
 */
static void
test_jks_rewrite_keeps_bytes(void **state)
{
	static const char *files[] = {"rsa2048.jks", "ec256.jks", "cert.jks", "unicode.jks",
	    "chain.jks"};
	static const char *passes[] = {"changeit", "storepass", "changeit",
	    "p\xc3\xa4ssw\xc3\xb6rd", "changeit"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len, outlen;
		unsigned char *orig = slurp(files[i], &len), *out = NULL;
		struct atr_ks *ks = load(files[i], passes[i]), *back;
		struct atr_err err;

		atr_err_clear(&err);
		assert_int_equal(atr_ks_save_mem(ks, passes[i], &out, &outlen, NULL, &err), 0);
		assert_int_equal(outlen, len);
		if (strcmp(files[i], "chain.jks") != 0) {
			assert_memory_equal(out, orig, len);
		} else {
			assert_non_null(back = atr_ks_load_mem(out, outlen, passes[i], &err));
			assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(back, 0)), "client");
			assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(back, 1)), "root");
			assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(back, 2)), "server");
			for (size_t k = 0; k < 3; k++) {
				const struct atr_ks_entry *a = atr_ks_entry_at(ks, k);
				const struct atr_ks_entry *b = must_find(back, a->alias);
				assert_int_equal(a->created_ms, b->created_ms);
				assert_int_equal(a->protlen, b->protlen);
				if (a->protlen > 0)
					assert_memory_equal(a->prot, b->prot, a->protlen);
			}
			atr_ks_free(back);
		}
		free(out);
		free(orig);
		atr_ks_free(ks);
	}
}

/* mixed.jceks: the secret key is listed but cannot be written; without it
 * the store becomes a JKS whose key Java can recover. */
static void
test_jceks_to_jks(void **state)
{
	struct atr_ks *ks = load("mixed.jceks", "changeit"), *back;
	unsigned char *out = NULL, *der = NULL;
	size_t outlen = 0, len = 0;
	struct atr_err err;
	EVP_PKEY *k1, *k2;

	(void)state;
	atr_err_clear(&err);
	assert_int_equal(atr_ks_save_mem(ks, "changeit", &out, &outlen, NULL, &err), -1);
	assert_int_equal(err.code, ATR_E_KS_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "aeskey"));
	assert_null(atr_ks_entry_key(ks, must_find(ks, "aeskey"), NULL, &err));
	assert_int_equal(atr_ks_delete(ks, "aeskey", &err), 0);
	back = reload(ks, "changeit", "changeit");
	assert_int_equal(atr_ks_format(back), ATR_KS_JKS);
	assert_int_equal(atr_ks_count(back), 1);
	assert_int_equal(must_find(back, "server")->protkind, ATR_KSI_PROT_JKS);
	assert_int_equal(atr_ksi_entry_pk8(back, must_find(back, "server"), "changeit", &der, &len,
	    &err), 0);
	atr_ksi_free_secret_buf(der, len);
	k1 = must_key(ks, "server", NULL);
	k2 = must_key(back, "server", NULL);
	assert_int_equal(EVP_PKEY_eq(k1, k2), 1);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	assert_int_equal(atr_ks_entry_created_ms(must_find(back, "server")),
	    atr_ks_entry_created_ms(must_find(ks, "server")));
	atr_ks_free(back);
	atr_ks_free(ks);
}

/* ---- damaged input -------------------------------------------------------- */

static int
clean_error(const struct atr_err *err)
{
	return (err->code == ATR_E_KS_CORRUPT || err->code == ATR_E_KS_TRUNCATED ||
	    err->code == ATR_E_KS_FORMAT ||
	    err->code == ATR_E_KS_PASSWORD || err->code == ATR_E_KS_UNSUPPORTED) &&
	    err->msg[0] != '\0' && ERR_peek_error() == 0;
}

static void
test_truncations_fail_cleanly(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		size_t len;
		unsigned char *buf = slurp(vecs[i].file, &len);
		for (size_t n = 0; n < len; n++) {
			struct atr_err err;
			/* A copy of exactly n bytes, so ASan sees any overread. */
			unsigned char *cut = malloc(n > 0 ? n : 1);
			struct atr_ks *ks;
			memcpy(cut, buf, n);
			atr_err_clear(&err);
			ks = atr_ks_load_mem(cut, n, vecs[i].pass, &err);
			if (ks != NULL)
				fail_msg("%s cut to %zu bytes loaded", vecs[i].file, n);
			/* Past the first bytes (which decide the format) it is "damaged". */
			if (!clean_error(&err) || (n >= 16 && err.code != ATR_E_KS_CORRUPT &&
			    err.code != ATR_E_KS_TRUNCATED))
				fail_msg("%s cut to %zu: code %s: %s", vecs[i].file, n,
				    atr_errcode_name(err.code), err.msg);
			free(cut);
		}
		free(buf);
	}
}

static void
test_pem_truncations_do_not_crash(void **state)
{
	static const char *files[] = {"server.pem", "server-ec-signed.pem",
	    "openssl-key-pkcs8-enc.pem", "openssl-key-trad-enc.pem", "chain-openssl-nodes.pem"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		unsigned char *buf = slurp(files[i], &len);
		for (size_t n = 0; n < len; n += 7) {
			struct atr_err err;
			unsigned char *cut = malloc(n > 0 ? n : 1);
			struct atr_ks *ks;
			memcpy(cut, buf, n);
			atr_err_clear(&err);
			ks = atr_ks_load_mem(cut, n, "changeit", &err);
			if (ks == NULL && !clean_error(&err))
				fail_msg("%s cut to %zu: code %s: %s", files[i], n,
				    atr_errcode_name(err.code), err.msg);
			atr_ks_free(ks);
			free(cut);
		}
		free(buf);
	}
}

/*
 * Bit flips, about 150 per file spread over every part of it: all must
 * fail cleanly. In JKS the digest covers everything before it (and a flip
 * in the digest mismatches); in PKCS#12 the MAC covers the contents and a
 * flip in the MacData or the DER framing breaks the check or the parse.
 */
static void
test_bit_flips_fail_cleanly(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		size_t len, tried = 0;
		unsigned char *buf = slurp(vecs[i].file, &len);
		size_t step = len / 150 + 1;
		for (size_t pos = 0; pos < len; pos += step) {
			struct atr_err err;
			struct atr_ks *ks;
			unsigned bit = (unsigned)(pos % 8);
			buf[pos] ^= (unsigned char)(1u << bit);
			atr_err_clear(&err);
			ks = atr_ks_load_mem(buf, len, vecs[i].pass, &err);
			buf[pos] ^= (unsigned char)(1u << bit);
			tried++;
			if (ks != NULL)
				fail_msg("%s with bit %u of byte %zu flipped loaded", vecs[i].file, bit, pos);
			if (!clean_error(&err))
				fail_msg("%s flip at %zu: code %s: %s", vecs[i].file, pos,
				    atr_errcode_name(err.code), err.msg);
		}
		assert_true(tried > 100);
		free(buf);
	}
}

static void
test_unrecognized_formats(void **state)
{
	static const struct {
		const char *data;
		size_t len;
		const char *needle;
	} t[] = {
		{"", 0, "empty"},
		{"hello world, not a keystore at all", 34, "neither JKS, JCEKS, PKCS#12 nor PEM"},
		{"\x30\x03\x02\x01\x02", 5, "neither"},
		{"-----BEGIN NEW CERTIFICATE REQUEST-----\nMIIB\n-----END NEW CERTIFICATE "
		 "REQUEST-----\n", 82, "NEW CERTIFICATE REQUEST"},
	};
	struct atr_err err;
	size_t len;
	unsigned char *der;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		atr_err_clear(&err);
		assert_null(atr_ks_load_mem((const unsigned char *)t[i].data, t[i].len, "x", &err));
		assert_int_equal(err.code, ATR_E_KS_FORMAT);
		assert_non_null(strstr(err.msg, "Unrecognized keystore format"));
		if (strstr(err.msg, t[i].needle) == NULL)
			fail_msg("\"%s\" lacks \"%s\"", err.msg, t[i].needle);
	}
	der = slurp("server.cer", &len);
	atr_err_clear(&err);
	assert_null(atr_ks_load_mem(der, len, "changeit", &err));
	assert_int_equal(err.code, ATR_E_KS_FORMAT);
	assert_non_null(strstr(err.msg, "DER certificate"));
	free(der);
	atr_err_clear(&err);
	assert_null(atr_ks_load_file(vec_path("no-such-file.jks"), "changeit", &err));
	assert_int_equal(err.code, ATR_E_NOT_FOUND);
}

static void
test_detect_and_names(void **state)
{
	static const struct {
		const char *data;
		size_t len;
		enum atr_ks_format fmt;
	} t[] = {
		{"\xfe\xed\xfe\xed\x00\x00\x00\x02", 8, ATR_KS_JKS},
		{"\xce\xce\xce\xce\x00\x00\x00\x02", 8, ATR_KS_JCEKS},
		{"\x30\x82\x0a\xf7\x02\x01\x03", 7, ATR_KS_PKCS12},
		{"\x30\x80\x02\x01\x03\x30\x80", 7, ATR_KS_PKCS12},
		{"\x30\x0a\x02\x01\x03", 5, ATR_KS_PKCS12},
		{"\x30\x82\x03\xc1\x30\x82", 6, ATR_KS_UNKNOWN},  /* a certificate */
		{"Bag Attributes\n-----BEGIN CERTIFICATE-----\n", 43, ATR_KS_PEM},
		{"\xfe\xed\xfe", 3, ATR_KS_UNKNOWN},
		{"", 0, ATR_KS_UNKNOWN},
	};
	static const struct {
		const char *name;
		enum atr_ks_format fmt;
	} n[] = {
		{"JKS", ATR_KS_JKS}, {"jks", ATR_KS_JKS}, {"JCEKS", ATR_KS_JCEKS},
		{"pkcs12", ATR_KS_PKCS12}, {"PKCS12", ATR_KS_PKCS12}, {"pem", ATR_KS_PEM},
		{"p12", ATR_KS_UNKNOWN}, {"", ATR_KS_UNKNOWN},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(atr_ks_detect((const unsigned char *)t[i].data, t[i].len), t[i].fmt);
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
		assert_int_equal(atr_ks_format_parse(n[i].name), n[i].fmt);
	assert_int_equal(atr_ks_format_parse(NULL), ATR_KS_UNKNOWN);
	assert_string_equal(atr_ks_format_name(ATR_KS_JKS), "JKS");
	assert_string_equal(atr_ks_format_name(ATR_KS_JCEKS), "JCEKS");
	assert_string_equal(atr_ks_format_name(ATR_KS_PKCS12), "PKCS12");
	assert_string_equal(atr_ks_format_name(ATR_KS_PEM), "PEM");
}

/* ---- round trips ----------------------------------------------------------- */

/* Same entries, kinds, chains and keys; dates too when dates is set. */
static void
assert_same_store(struct atr_ks *a, struct atr_ks *b, int key_dates, int trusted_dates)
{
	assert_int_equal(atr_ks_count(a), atr_ks_count(b));
	for (size_t i = 0; i < atr_ks_count(a); i++) {
		const struct atr_ks_entry *ea = atr_ks_entry_at(a, i);
		const struct atr_ks_entry *eb = must_find(b, atr_ks_entry_alias(ea));
		enum atr_ks_kind k = atr_ks_entry_kind(ea);

		assert_int_equal(atr_ks_entry_kind(eb), k);
		if (k == ATR_KS_PRIVATE_KEY) {
			const STACK_OF(X509) *ca = atr_ks_entry_chain(ea), *cb = atr_ks_entry_chain(eb);
			EVP_PKEY *ka = must_key(a, atr_ks_entry_alias(ea), NULL);
			EVP_PKEY *kb = must_key(b, atr_ks_entry_alias(eb), NULL);
			assert_int_equal(sk_X509_num(ca), sk_X509_num(cb));
			for (int j = 0; j < sk_X509_num(ca); j++)
				assert_int_equal(X509_cmp(sk_X509_value(ca, j), sk_X509_value(cb, j)), 0);
			assert_int_equal(EVP_PKEY_eq(ka, kb), 1);
			EVP_PKEY_free(ka);
			EVP_PKEY_free(kb);
		} else if (k == ATR_KS_TRUSTED_CERT) {
			assert_int_equal(X509_cmp(atr_ks_entry_cert(ea), atr_ks_entry_cert(eb)), 0);
		}
		if (k == ATR_KS_TRUSTED_CERT ? trusted_dates : key_dates)
			assert_int_equal(atr_ks_entry_created_ms(ea), atr_ks_entry_created_ms(eb));
	}
}

static void
test_roundtrip_jks_p12_jks(void **state)
{
	static const struct {
		const char *file, *pass;
	} t[] = {
		{"chain.jks", "changeit"}, {"rsa2048.jks", "changeit"}, {"cert.jks", "changeit"},
		{"unicode.jks", "p\xc3\xa4ssw\xc3\xb6rd"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct atr_ks *jks = load(t[i].file, t[i].pass), *p12, *jks2;

		atr_ks_set_format(jks, ATR_KS_PKCS12);
		p12 = reload(jks, "changeit", "changeit");
		assert_int_equal(atr_ks_format(p12), ATR_KS_PKCS12);
		assert_same_store(jks, p12, 1, 0);
		atr_ks_set_format(p12, ATR_KS_JKS);
		jks2 = reload(p12, "changeit", "changeit");
		assert_int_equal(atr_ks_format(jks2), ATR_KS_JKS);
		assert_same_store(jks, jks2, 1, 0);
		assert_same_store(p12, jks2, 1, 1);
		atr_ks_free(jks2);
		atr_ks_free(p12);
		atr_ks_free(jks);
	}
}

static void
test_roundtrip_p12_jks_p12(void **state)
{
	static const char *files[] = {"chain.p12", "ca.p12", "java-legacy.p12",
	    "openssl-default.p12", "openssl-legacy.p12", "ec256.p12", "cert.p12"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct atr_ks *p12 = load(files[i], "changeit"), *jks, *p12b, *same;

		/* Same password, same format: key bags are copied as they were. */
		same = reload(p12, "changeit", "changeit");
		assert_same_store(p12, same, 1, 0);
		for (size_t k = 0; k < atr_ks_count(p12); k++) {
			const struct atr_ks_entry *a = atr_ks_entry_at(p12, k);
			const struct atr_ks_entry *b = must_find(same, atr_ks_entry_alias(a));
			if (a->kind == ATR_KS_PRIVATE_KEY) {
				assert_int_equal(a->protlen, b->protlen);
				assert_memory_equal(a->prot, b->prot, a->protlen);
			}
		}
		atr_ks_free(same);
		atr_ks_set_format(p12, ATR_KS_JKS);
		jks = reload(p12, "secret1", "secret1");
		assert_same_store(p12, jks, 1, 1);
		atr_ks_set_format(jks, ATR_KS_PKCS12);
		p12b = reload(jks, "secret2", "secret2");
		assert_same_store(p12, p12b, 1, 0);
		atr_ks_free(p12b);
		atr_ks_free(jks);
		atr_ks_free(p12);
	}
}

/* ec256.jks: the key password differs from the store password, so a
 * PKCS#12 (one password) needs the key re-protected first. */
static void
test_different_key_password_to_p12(void **state)
{
	struct atr_ks *ks = load("ec256.jks", "storepass"), *p12;
	unsigned char *out = NULL;
	size_t outlen = 0;
	struct atr_err err;
	EVP_PKEY *k;

	(void)state;
	atr_ks_set_format(ks, ATR_KS_PKCS12);
	atr_err_clear(&err);
	assert_int_equal(atr_ks_save_mem(ks, "storepass", &out, &outlen, NULL, &err), -1);
	assert_int_equal(err.code, ATR_E_KS_KEY_PASSWORD);
	assert_non_null(strstr(err.msg, "Cannot recover key"));
	assert_int_equal(atr_ks_change_keypass(ks, "ecserver", "keypass", "storepass", &err), -1);
	assert_int_equal(err.code, ATR_E_KS_UNSUPPORTED);
	atr_ks_set_format(ks, ATR_KS_JKS);
	assert_int_equal(atr_ks_change_keypass(ks, "ecserver", "wrongpass", "storepass", &err), -1);
	assert_int_equal(err.code, ATR_E_KS_KEY_PASSWORD);
	assert_int_equal(atr_ks_change_keypass(ks, "ecserver", "keypass", "storepass", &err), 0);
	k = must_key(ks, "ecserver", NULL);
	EVP_PKEY_free(k);
	atr_ks_set_format(ks, ATR_KS_PKCS12);
	p12 = reload(ks, "storepass", "storepass");
	assert_same_store(ks, p12, 1, 0);
	atr_ks_free(p12);
	atr_ks_free(ks);
}

static void
test_pem_roundtrip(void **state)
{
	static const char *passes[] = {"pem-secret", NULL};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct atr_ks *jks = load("chain.jks", "changeit"), *pem;
		atr_ks_set_format(jks, ATR_KS_PEM);
		pem = reload(jks, passes[i], passes[i]);
		assert_int_equal(atr_ks_format(pem), ATR_KS_PEM);
		assert_same_store(jks, pem, 1, 1);
		atr_ks_free(pem);
		atr_ks_free(jks);
	}
	{
		/* A PEM written with a password needs it back. */
		struct atr_ks *jks = load("rsa2048.jks", "changeit");
		unsigned char *buf = NULL;
		size_t len = 0;
		struct atr_err err;
		atr_ks_set_format(jks, ATR_KS_PEM);
		assert_int_equal(atr_ks_save_mem(jks, "pem-secret", &buf, &len, NULL, &err), 0);
		assert_non_null(memmem(buf, len, "ENCRYPTED PRIVATE KEY", 21));
		assert_non_null(memmem(buf, len, "friendlyName: server", 20));
		atr_err_clear(&err);
		assert_null(atr_ks_load_mem(buf, len, "wrong", &err));
		assert_int_equal(err.code, ATR_E_KS_PASSWORD);
		atr_err_clear(&err);
		assert_null(atr_ks_load_mem(buf, len, NULL, &err));
		assert_int_equal(err.code, ATR_E_KS_PASSWORD);
		atr_ksi_free_secret_buf(buf, len);
		atr_ks_free(jks);
	}
}

/* An alias is data: a newline in it cannot add a block to a PEM file. */
static void
test_pem_alias_cannot_inject(void **state)
{
	struct atr_ks *src = load("chain.jks", "changeit"), *ks = atr_ks_new(ATR_KS_PEM), *back;
	struct atr_err err;

	(void)state;
	atr_err_clear(&err);
	assert_int_equal(atr_ks_set_trusted(ks, "evil\n-----BEGIN CERTIFICATE-----\nMIIB\n",
	    atr_ks_entry_cert(must_find(src, "root")), 0, &err), 0);
	back = reload(ks, NULL, NULL);
	assert_int_equal(atr_ks_count(back), 1);
	assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(back, 0)),
	    "evil_-----begin certificate-----_miib_");
	atr_ks_free(back);
	atr_ks_free(ks);
	atr_ks_free(src);
}

/* PEM written by other tools. */
static void
test_foreign_pem(void **state)
{
	struct atr_ks *ks, *p12;
	size_t klen, clen;
	unsigned char *key = slurp("openssl-key.pem", &klen);
	unsigned char *cert = slurp("openssl-cert.pem", &clen);
	unsigned char *both = malloc(klen + clen);
	struct atr_err err;
	EVP_PKEY *k, *k2;

	(void)state;
	/* A certificate and its key, in either order. */
	memcpy(both, cert, clen);
	memcpy(both + clen, key, klen);
	atr_err_clear(&err);
	assert_non_null(ks = atr_ks_load_mem(both, clen + klen, NULL, &err));
	assert_int_equal(atr_ks_count(ks), 1);
	assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(ks, 0)), "mykey");
	assert_int_equal(sk_X509_num(atr_ks_entry_chain(must_find(ks, "mykey"))), 1);
	k = must_key(ks, "mykey", NULL);
	atr_ks_free(ks);

	/* Encrypted keys: PKCS#8 and OpenSSL's traditional form. */
	ks = load("openssl-key-pkcs8-enc.pem", "changeit");
	k2 = must_key(ks, "mykey", NULL);
	assert_int_equal(EVP_PKEY_eq(k, k2), 1);
	EVP_PKEY_free(k2);
	atr_ks_free(ks);
	ks = load("openssl-key-trad-enc.pem", "changeit");
	k2 = must_key(ks, "mykey", NULL);
	assert_int_equal(EVP_PKEY_eq(k, k2), 1);
	EVP_PKEY_free(k2);
	atr_ks_free(ks);
	atr_err_clear(&err);
	assert_null(atr_ks_load_file(vec_path("openssl-key-trad-enc.pem"), "wrong", &err));
	assert_int_equal(err.code, ATR_E_KS_PASSWORD);
	atr_err_clear(&err);
	assert_null(atr_ks_load_file(vec_path("openssl-key-pkcs8-enc.pem"), NULL, &err));
	assert_int_equal(err.code, ATR_E_KS_PASSWORD);
	EVP_PKEY_free(k);

	/* Certificates alone are trusted entries. */
	ks = load("server-ec-signed.pem", NULL);
	assert_int_equal(atr_ks_count(ks), 2);
	assert_int_equal(atr_ks_entry_kind(atr_ks_entry_at(ks, 0)), ATR_KS_TRUSTED_CERT);
	atr_ks_free(ks);

	/* `openssl pkcs12 -nodes` output of chain.p12: the same keystore. */
	ks = load("chain-openssl-nodes.pem", NULL);
	p12 = load("chain.p12", "changeit");
	assert_same_store(p12, ks, 1, 0);
	atr_ks_free(p12);
	atr_ks_free(ks);
	free(both);
	free(key);
	free(cert);
}

/* ---- building stores -------------------------------------------------------- */

static STACK_OF(X509) *
chain_of(struct atr_ks *ks, const char *alias)
{
	return (STACK_OF(X509) *)atr_ks_entry_chain(must_find(ks, alias));
}

static struct atr_ks *
step(struct atr_ks *ks)
{
	struct atr_ks *next = reload(ks, "changeit", "changeit");

	atr_ks_free(ks);
	return next;
}

static void
assert_order(struct atr_ks *ks, const char *a, const char *b, const char *c)
{
	assert_int_equal(atr_ks_count(ks), 3);
	assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(ks, 0)), a);
	assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(ks, 1)), b);
	assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(ks, 2)), c);
}

/*
 * chain.jks was made by keytool in five load-modify-store steps: import
 * root, generate Server, install its CA reply, generate client, install its
 * reply. Java wrote root, client, server; replaying the steps gives the same.
 */
static void
test_java_hashtable_order(void **state)
{
	struct atr_ks *src = load("chain.jks", "changeit");
	struct atr_ks *ks = atr_ks_new(ATR_KS_JKS);
	STACK_OF(X509) *self;
	struct atr_err err;
	EVP_PKEY *k;

	(void)state;
	atr_err_clear(&err);
	assert_int_equal(atr_ks_set_trusted(ks, "root", atr_ks_entry_cert(must_find(src, "root")),
	    0, &err), 0);
	ks = step(ks);
	/* generate Server (a self-signed chain stands in), then its reply */
	k = must_key(src, "server", NULL);
	self = sk_X509_new_null();
	sk_X509_push(self, sk_X509_value(chain_of(src, "server"), 0));
	assert_int_equal(atr_ks_set_key(ks, "Server", k, self, "changeit", 0, &err), 0);
	EVP_PKEY_free(k);
	ks = step(ks);
	assert_int_equal(atr_ks_set_chain(ks, "server", chain_of(src, "server"), &err), 0);
	ks = step(ks);
	k = must_key(src, "client", NULL);
	sk_X509_set(self, 0, sk_X509_value(chain_of(src, "client"), 0));
	assert_int_equal(atr_ks_set_key(ks, "client", k, self, NULL, 0, &err), 0);
	EVP_PKEY_free(k);
	sk_X509_free(self);
	ks = step(ks);
	assert_order(ks, "client", "root", "server");
	assert_int_equal(atr_ks_set_chain(ks, "client", chain_of(src, "client"), &err), 0);
	ks = step(ks);
	assert_order(ks, "root", "client", "server");
	assert_same_store(src, ks, 0, 0);
	atr_ks_free(ks);
	atr_ks_free(src);
}

/* The Hashtable model after many inserts (rehash at 9 and 18 entries):
 * iterating what we wrote, then rewriting it after a reload, is stable
 * only if our iteration order and Java's agree on what a reload does. */
static void
test_java_hashtable_rehash(void **state)
{
	struct atr_ks *src = load("chain.jks", "changeit");
	struct atr_ks *ks = atr_ks_new(ATR_KS_JKS), *back;
	X509 *root = atr_ks_entry_cert(must_find(src, "root"));
	const struct atr_ks_entry **order = NULL;
	struct atr_err err;
	char alias[32];

	(void)state;
	atr_err_clear(&err);
	for (int i = 1; i <= 20; i++) {
		snprintf(alias, sizeof(alias), "Alias%d", i);
		assert_int_equal(atr_ks_set_trusted(ks, alias, root, 1000 + i, &err), 0);
	}
	assert_int_equal(atr_ksi_java_order(ks, &order, &err), 0);
	back = reload(ks, "changeit", "changeit");
	for (size_t i = 0; i < atr_ks_count(ks); i++)
		assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(back, i)), order[i]->alias);
	free(order);
	/* Deleting keeps the others in place. */
	assert_int_equal(atr_ks_delete(ks, "ALIAS7", &err), 0);
	assert_int_equal(atr_ksi_java_order(ks, &order, &err), 0);
	assert_int_equal(atr_ks_count(ks), 19);
	for (size_t i = 0, j = 0; i < 20; i++) {
		if (strcmp(atr_ks_entry_alias(atr_ks_entry_at(back, i)), "alias7") == 0)
			continue;
		assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(back, i)), order[j++]->alias);
	}
	free(order);
	atr_ks_free(back);
	atr_ks_free(ks);
	atr_ks_free(src);
}

static void
test_entry_api(void **state)
{
	struct atr_ks *src = load("chain.jks", "changeit");
	struct atr_ks *ks = atr_ks_new(ATR_KS_JKS), *back;
	EVP_PKEY *server = must_key(src, "server", NULL), *client = must_key(src, "client", NULL);
	X509 *root = atr_ks_entry_cert(must_find(src, "root"));
	struct atr_err err;
	const struct atr_ks_entry *e;

	(void)state;
	atr_err_clear(&err);
	/* A key must match the chain's leaf; the chain must not be empty. */
	assert_int_equal(atr_ks_set_key(ks, "x", server, chain_of(src, "client"), NULL, 0, &err), -1);
	assert_int_equal(err.code, ATR_E_CERT_MISMATCH);
	assert_int_equal(atr_ks_set_key(ks, "x", server, NULL, NULL, 0, &err), -1);
	assert_int_equal(err.code, ATR_E_USAGE);
	assert_int_equal(atr_ks_set_key(ks, "", server, chain_of(src, "server"), NULL, 0, &err), -1);
	assert_int_equal(err.code, ATR_E_BAD_NAME);
	assert_int_equal(atr_ks_set_trusted(ks, "r", NULL, 0, &err), -1);

	/* Aliases are lower-cased as Java does, beyond ASCII too. */
	assert_int_equal(atr_ks_set_key(ks, "CL\xc3\x89-\xd0\x9a\xd0\x9b\xd0\xae\xd0\xa7", server,
	    chain_of(src, "server"), "keypass1", 123456, &err), 0);
	e = must_find(ks, "cl\xc3\xa9-\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87");
	assert_string_equal(atr_ks_entry_alias(e), "cl\xc3\xa9-\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87");
	assert_int_equal(atr_ks_entry_created_ms(e), 123456);
	assert_int_equal(atr_ks_set_trusted(ks, "TrustedMixed", root, 0, &err), 0);
	e = must_find(ks, "trustedmixed");
	assert_true(atr_ks_entry_created_ms(e) > 1700000000000LL);
	assert_ptr_equal(atr_ks_find(ks, "TRUSTEDMIXED"), e);
	assert_null(atr_ks_entry_chain(e));
	assert_null(atr_ks_find(ks, "nope"));
	assert_null(atr_ks_entry_at(ks, 2));

	/* Replacing keeps the place. */
	assert_int_equal(atr_ks_set_trusted(ks, "CLÉ-КЛЮЧ", root, 5, &err), 0);
	assert_int_equal(atr_ks_entry_kind(atr_ks_entry_at(ks, 0)), ATR_KS_TRUSTED_CERT);
	assert_int_equal(atr_ks_count(ks), 2);
	assert_int_equal(atr_ks_set_key(ks, "clé-ключ", server, chain_of(src, "server"),
	    "keypass1", 0, &err), 0);

	/* The key password protects the key in JKS. */
	back = reload(ks, "storepass1", "storepass1");
	assert_null(atr_ks_entry_key(back, must_find(back, "clé-ключ"), "storepass1", &err));
	assert_int_equal(err.code, ATR_E_KS_KEY_PASSWORD);
	EVP_PKEY_free(must_key(back, "clé-ключ", "keypass1"));
	atr_ks_free(back);

	/* A CA reply must carry the same public key. */
	assert_int_equal(atr_ks_set_chain(ks, "clé-ключ", chain_of(src, "client"), &err), -1);
	assert_int_equal(err.code, ATR_E_CERT_MISMATCH);
	assert_int_equal(atr_ks_set_chain(ks, "trustedmixed", chain_of(src, "server"), &err), -1);
	assert_int_equal(atr_ks_set_chain(ks, "nope", chain_of(src, "server"), &err), -1);
	assert_int_equal(err.code, ATR_E_KS_NO_ENTRY);
	assert_int_equal(atr_ks_set_chain(ks, "CLÉ-КЛЮЧ", chain_of(src, "server"), &err), 0);

	/* Rename moves the entry last; names stay unique. */
	assert_int_equal(atr_ks_set_key(ks, "client", client, chain_of(src, "client"), NULL, 0,
	    &err), 0);
	assert_int_equal(atr_ks_rename(ks, "client", "TrustedMixed", &err), -1);
	assert_int_equal(err.code, ATR_E_EXISTS);
	assert_int_equal(atr_ks_rename(ks, "nope", "x", &err), -1);
	assert_int_equal(err.code, ATR_E_KS_NO_ENTRY);
	assert_int_equal(atr_ks_rename(ks, "clé-ключ", "Moved", &err), 0);
	assert_string_equal(atr_ks_entry_alias(atr_ks_entry_at(ks, 2)), "moved");
	assert_int_equal(atr_ks_rename(ks, "moved", "MOVED", &err), 0);
	assert_int_equal(atr_ks_count(ks), 3);
	back = reload(ks, "storepass1", "storepass1");
	EVP_PKEY_free(must_key(back, "moved", "keypass1"));
	EVP_PKEY_free(must_key(back, "client", "storepass1"));
	atr_ks_free(back);

	/* Delete. */
	assert_int_equal(atr_ks_delete(ks, "TRUSTEDMIXED", &err), 0);
	assert_int_equal(atr_ks_delete(ks, "trustedmixed", &err), -1);
	assert_int_equal(err.code, ATR_E_KS_NO_ENTRY);
	assert_int_equal(atr_ks_count(ks), 2);

	/* Change a key password of a key that came from a file. */
	back = reload(ks, "storepass1", "storepass1");
	assert_int_equal(atr_ks_change_keypass(back, "moved", "keypass1", "keypass2", &err), 0);
	EVP_PKEY_free(must_key(back, "moved", "keypass2"));
	assert_null(atr_ks_entry_key(back, must_find(back, "moved"), "keypass1", &err));
	atr_ks_free(back);

	EVP_PKEY_free(server);
	EVP_PKEY_free(client);
	atr_ks_free(ks);
	atr_ks_free(src);
}

/* EC keys enter a JKS as Java writes them: 67-byte PKCS#8, no public key. */
static void
test_ec_key_written_as_java(void **state)
{
	struct atr_ks *src = load("ec256.p12", "changeit"), *ks = atr_ks_new(ATR_KS_JKS), *back;
	EVP_PKEY *k = must_key(src, "ecserver", NULL);
	unsigned char *want, *der = NULL;
	size_t wantlen, len = 0;
	struct atr_err err;

	(void)state;
	atr_err_clear(&err);
	assert_int_equal(atr_ks_set_key(ks, "ecserver", k, chain_of(src, "ecserver"), NULL, 0,
	    &err), 0);
	back = reload(ks, "changeit", "changeit");
	assert_int_equal(atr_ksi_entry_pk8(back, must_find(back, "ecserver"), "changeit", &der,
	    &len, &err), 0);
	want = slurp("keys/ec256.p12.part0.bag0.pk8.der", &wantlen);
	assert_int_equal(len, 67);
	assert_int_equal(len, wantlen);
	assert_memory_equal(der, want, len);
	free(want);
	atr_ksi_free_secret_buf(der, len);
	EVP_PKEY_free(k);
	atr_ks_free(back);
	atr_ks_free(ks);
	atr_ks_free(src);
}

static void
test_jks_protect_matches_java(void **state)
{
	/* Re-protecting Java's key with Java's salt gives Java's bytes. */
	struct atr_ks *ks = load("chain.jks", "changeit");
	const struct atr_ks_entry *e = must_find(ks, "server");
	unsigned char *der = NULL, *prot = NULL;
	size_t len = 0, protlen = 0;
	struct atr_err err;
	const unsigned char *salt;

	(void)state;
	atr_err_clear(&err);
	assert_int_equal(atr_ksi_entry_pk8(ks, e, NULL, &der, &len, &err), 0);
	/* 30 7f | 30 0e ... | 04 6b | salt */
	salt = e->prot + 2 + 16 + 2;
	assert_int_equal(atr_ksi_jks_protect(der, len, "changeit", salt, &prot, &protlen, &err), 0);
	assert_int_equal(protlen, e->protlen);
	assert_memory_equal(prot, e->prot, protlen);
	free(prot);
	atr_ksi_free_secret_buf(der, len);
	atr_ks_free(ks);
}

/* Version 1 JKS files have no certificate type strings. */
static void
test_jks_version1(void **state)
{
	size_t len, pwlen = 0;
	unsigned char *v2 = slurp("cert.jks", &len), *v1, *pw = NULL, *o;
	/* cert.jks: 12-byte header, tag, alias "server", time, "X.509", len, cert */
	size_t head = 12 + 4 + 2 + 6 + 8, type = 2 + 5, body;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct atr_err err;
	struct atr_ks *ks;

	(void)state;
	v1 = malloc(len);
	memcpy(v1, v2, head);
	v1[7] = 1;
	body = len - 20 - type;
	memcpy(v1 + head, v2 + head + type, len - 20 - head - type);
	assert_int_equal(atr_ksi_utf16be("changeit", &pw, &pwlen, &err), 0);
	o = v1 + body;
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha1(), NULL), 1);
	EVP_DigestUpdate(md, pw, pwlen);
	EVP_DigestUpdate(md, "Mighty Aphrodite", 16);
	EVP_DigestUpdate(md, v1, body);
	EVP_DigestFinal_ex(md, o, NULL);
	atr_err_clear(&err);
	ks = atr_ks_load_mem(v1, body + 20, "changeit", &err);
	if (ks == NULL)
		fail_msg("%s", err.msg);
	check_listing(ks, "cert.jks.list-v.txt", 1, 1);
	atr_ks_free(ks);
	EVP_MD_CTX_free(md);
	atr_ksi_free_secret_buf(pw, pwlen);
	free(v1);
	free(v2);
}

/* ---- what the PKCS#12 writer writes -------------------------------------------- */

static void
check_pbes2(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;
	PBE2PARAM *p2;
	PBKDF2PARAM *kdf;
	const ASN1_OBJECT *kobj, *cobj, *pobj;
	const void *kval, *cval;
	int ktype, ctype;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	assert_int_equal(OBJ_obj2nid(obj), NID_pbes2);
	assert_non_null(p2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM)));
	X509_ALGOR_get0(&kobj, &ktype, &kval, p2->keyfunc);
	assert_int_equal(OBJ_obj2nid(kobj), NID_id_pbkdf2);
	assert_non_null(kdf = ASN1_item_unpack(kval, ASN1_ITEM_rptr(PBKDF2PARAM)));
	assert_int_equal(kdf->salt->type, V_ASN1_OCTET_STRING);
	assert_int_equal(ASN1_STRING_length(kdf->salt->value.octet_string), 20);
	assert_int_equal(ASN1_INTEGER_get(kdf->iter), 10000);
	assert_non_null(kdf->keylength);
	assert_int_equal(ASN1_INTEGER_get(kdf->keylength), 32);
	assert_non_null(kdf->prf);
	X509_ALGOR_get0(&pobj, &ptype, NULL, kdf->prf);
	assert_int_equal(OBJ_obj2nid(pobj), NID_hmacWithSHA256);
	assert_int_equal(ptype, V_ASN1_NULL);
	X509_ALGOR_get0(&cobj, &ctype, &cval, p2->encryption);
	assert_int_equal(OBJ_obj2nid(cobj), NID_aes_256_cbc);
	assert_int_equal(ctype, V_ASN1_OCTET_STRING);
	assert_int_equal(ASN1_STRING_length(cval), 16);
	PBKDF2PARAM_free(kdf);
	PBE2PARAM_free(p2);
}

static int
has_attr(PKCS12_SAFEBAG *bag, const char *oid)
{
	const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	int found = 0;

	for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); i++)
		if (OBJ_cmp(X509_ATTRIBUTE_get0_object(sk_X509_ATTRIBUTE_value(attrs, i)), o) == 0)
			found = 1;
	ASN1_OBJECT_free(o);
	return found;
}

static void
check_kid(PKCS12_SAFEBAG *bag, int64_t created)
{
	const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
	char want[32];

	snprintf(want, sizeof(want), "Time %lld", (long long)created);
	assert_non_null(t);
	assert_int_equal(ASN1_STRING_length(t->value.octet_string), strlen(want));
	assert_memory_equal(ASN1_STRING_get0_data(t->value.octet_string), want, strlen(want));
}

static void
test_p12_written_as_java(void **state)
{
	struct atr_ks *ks = load("chain.jks", "changeit");
	unsigned char *out = NULL;
	const unsigned char *p;
	size_t len = 0;
	PKCS12 *p12;
	STACK_OF(PKCS7) *safes;
	STACK_OF(PKCS12_SAFEBAG) *keys, *certs;
	const ASN1_OCTET_STRING *salt;
	const ASN1_INTEGER *iter;
	const X509_ALGOR *macalg;
	const ASN1_OBJECT *mobj;
	PKCS7 *enc;
	struct atr_err err;
	char *fn;
	int ntrusted = 0;

	(void)state;
	atr_ks_set_format(ks, ATR_KS_PKCS12);
	atr_err_clear(&err);
	assert_int_equal(atr_ks_save_mem(ks, "changeit", &out, &len, NULL, &err), 0);
	p = out;
	assert_non_null(p12 = d2i_PKCS12(NULL, &p, (long)len));
	PKCS12_get0_mac(NULL, &macalg, &salt, &iter, p12);
	X509_ALGOR_get0(&mobj, NULL, NULL, macalg);
	assert_int_equal(OBJ_obj2nid(mobj), NID_sha256);
	assert_int_equal(ASN1_STRING_length(salt), 20);
	assert_int_equal(ASN1_INTEGER_get(iter), 10000);
	assert_int_equal(PKCS12_verify_mac(p12, "changeit", -1), 1);

	assert_non_null(safes = PKCS12_unpack_authsafes(p12));
	assert_int_equal(sk_PKCS7_num(safes), 2);
	/* Keys first, in their own data block. */
	assert_int_equal(OBJ_obj2nid(sk_PKCS7_value(safes, 0)->type), NID_pkcs7_data);
	assert_non_null(keys = PKCS12_unpack_p7data(sk_PKCS7_value(safes, 0)));
	assert_int_equal(sk_PKCS12_SAFEBAG_num(keys), 2);
	for (int i = 0; i < 2; i++) {
		PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(keys, i);
		const X509_ALGOR *alg;
		assert_int_equal(PKCS12_SAFEBAG_get_nid(bag), NID_pkcs8ShroudedKeyBag);
		X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
		check_pbes2(alg);
		fn = PKCS12_get_friendlyname(bag);
		check_kid(bag, atr_ks_entry_created_ms(must_find(ks, fn)));
		OPENSSL_free(fn);
	}
	/* Then one encrypted block with every certificate. */
	enc = sk_PKCS7_value(safes, 1);
	assert_int_equal(OBJ_obj2nid(enc->type), NID_pkcs7_encrypted);
	check_pbes2(enc->d.encrypted->enc_data->algorithm);
	assert_non_null(certs = PKCS12_unpack_p7encdata(enc, "changeit", -1));
	assert_int_equal(sk_PKCS12_SAFEBAG_num(certs), 2 + 3 + 1);
	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(certs); i++) {
		PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(certs, i);
		int trusted = has_attr(bag, "2.16.840.1.113894.746875.1.1");
		fn = PKCS12_get_friendlyname(bag);
		assert_non_null(fn);
		ntrusted += trusted;
		if (trusted)
			assert_string_equal(fn, "root");
		if (PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID) != NULL)
			check_kid(bag, atr_ks_entry_created_ms(must_find(ks, fn)));
		else if (!trusted)
			assert_non_null(strstr(fn, "CN=Example Test"));  /* a CA's DN */
		OPENSSL_free(fn);
	}
	assert_int_equal(ntrusted, 1);
	sk_PKCS12_SAFEBAG_pop_free(certs, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(keys, PKCS12_SAFEBAG_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	free(out);
	atr_ks_free(ks);
}

static void
test_p12_non_ascii_password_warns(void **state)
{
	struct atr_ks *ks = load("unicode.jks", "p\xc3\xa4ssw\xc3\xb6rd"), *back;
	unsigned char *out = NULL;
	size_t len = 0;
	const char *warning = "unset";
	struct atr_err err;

	(void)state;
	atr_err_clear(&err);
	atr_ks_set_format(ks, ATR_KS_PKCS12);
	assert_int_equal(atr_ks_save_mem(ks, "p\xc3\xa4ssw\xc3\xb6rd", &out, &len, &warning, &err), 0);
	assert_non_null(warning);
	assert_non_null(strstr(warning, "Java 17"));
	assert_non_null(back = atr_ks_load_mem(out, len, "p\xc3\xa4ssw\xc3\xb6rd", &err));
	assert_same_store(ks, back, 1, 0);
	atr_ks_free(back);
	free(out);
	assert_int_equal(atr_ks_save_mem(ks, "changeit", &out, &len, &warning, &err), 0);
	assert_null(warning);
	free(out);
	atr_ks_free(ks);
}

static void
test_save_file_and_errors(void **state)
{
	struct atr_ks *ks = atr_ks_new(ATR_KS_JKS), *back;
	const char *tmp = getenv("TMPDIR");
	char dir[512], path[600];
	struct atr_err err;
	struct stat st;
	unsigned char *out = NULL;
	size_t len = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/atrium-ks-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/empty.jks", dir);
	atr_err_clear(&err);
	assert_int_equal(atr_ks_save_file(ks, path, "changeit", NULL, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 12 + 20);
	back = atr_ks_load_file(path, "changeit", &err);
	assert_non_null(back);
	assert_int_equal(atr_ks_count(back), 0);
	atr_ks_free(back);
	unlink(path);
	rmdir(dir);
	/* JKS and PKCS#12 need a password. */
	assert_int_equal(atr_ks_save_mem(ks, NULL, &out, &len, NULL, &err), -1);
	assert_int_equal(err.code, ATR_E_USAGE);
	atr_ks_set_format(ks, ATR_KS_PKCS12);
	assert_int_equal(atr_ks_save_mem(ks, NULL, &out, &len, NULL, &err), -1);
	assert_int_equal(err.code, ATR_E_USAGE);
	atr_ks_set_format(ks, ATR_KS_UNKNOWN);
	assert_int_equal(atr_ks_save_mem(ks, "x", &out, &len, NULL, &err), -1);
	/* An empty PKCS#12 loads back empty. */
	atr_ks_set_format(ks, ATR_KS_PKCS12);
	back = reload(ks, "changeit", "changeit");
	assert_int_equal(atr_ks_count(back), 0);
	atr_ks_free(back);
	atr_ks_free(ks);
	atr_ks_free(NULL);
}

/* ---- files for the Java interop test ------------------------------------------------ */

static void
write_out(struct atr_ks *ks, const char *dir, const char *name, enum atr_ks_format fmt,
    const char *pass)
{
	char path[1024];
	struct atr_err err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	atr_ks_set_format(ks, fmt);
	atr_err_clear(&err);
	if (atr_ks_save_file(ks, path, pass, NULL, &err) == -1)
		fail_msg("%s: %s", path, err.msg);
}

/*
 * With ATRIUM_KS_OUT set: our JKS and PKCS#12 files (RSA and EC keys,
 * chains, trusted entries) for keytool to list, and the load-modify-store
 * steps whose results keytool's own must equal.
 */
static void
test_write_interop_files(void **state)
{
	const char *dir = getenv("ATRIUM_KS_OUT");
	struct atr_ks *chain, *ks, *ec;
	struct atr_err err;
	EVP_PKEY *k;
	char alias[32];

	(void)state;
	/* Not skip(): tests/run counts cmocka's TAP "# SKIP" line as a failure. */
	if (dir == NULL || *dir == '\0')
		return;
	atr_err_clear(&err);
	/* chain.jks's entries: RSA and EC keys with chains, a trusted root. */
	chain = load("chain.jks", "changeit");
	write_out(chain, dir, "ours-chain.jks", ATR_KS_JKS, "changeit");
	write_out(chain, dir, "ours-chain.p12", ATR_KS_PKCS12, "changeit");
	atr_ks_free(chain);

	/* Built from nothing: new keys (as new entries, re-encrypted). */
	chain = load("chain.jks", "changeit");
	ec = load("ec256.p12", "changeit");
	ks = atr_ks_new(ATR_KS_JKS);
	k = must_key(chain, "server", NULL);
	assert_int_equal(atr_ks_set_key(ks, "ECServer", k, chain_of(chain, "server"), NULL, 0,
	    &err), 0);
	EVP_PKEY_free(k);
	k = must_key(chain, "client", NULL);
	assert_int_equal(atr_ks_set_key(ks, "rsaclient", k, chain_of(chain, "client"), NULL, 0,
	    &err), 0);
	EVP_PKEY_free(k);
	k = must_key(ec, "ecserver", NULL);
	assert_int_equal(atr_ks_set_key(ks, "selfsigned-ec", k, chain_of(ec, "ecserver"), NULL, 0,
	    &err), 0);
	EVP_PKEY_free(k);
	assert_int_equal(atr_ks_set_trusted(ks, "TrustedRoot",
	    atr_ks_entry_cert(must_find(chain, "root")), 0, &err), 0);
	write_out(ks, dir, "ours-new.jks", ATR_KS_JKS, "changeit");
	write_out(ks, dir, "ours-new.p12", ATR_KS_PKCS12, "changeit");
	atr_ks_free(ks);

	/* Trusted certificates only: the client trust store. */
	ks = atr_ks_new(ATR_KS_PKCS12);
	assert_int_equal(atr_ks_set_trusted(ks, "server",
	    atr_ks_entry_cert(must_find(chain, "root")), 0, &err), 0);
	write_out(ks, dir, "ours-trust.p12", ATR_KS_PKCS12, "changeit");
	write_out(ks, dir, "ours-trust.jks", ATR_KS_JKS, "changeit");
	atr_ks_free(ks);

	/* The same load-modify-store steps as the shell test runs with
	 * keytool -importcert: twelve trusted entries, one per step. */
	ks = atr_ks_new(ATR_KS_JKS);
	for (int i = 1; i <= 12; i++) {
		struct atr_ks *next;
		snprintf(alias, sizeof(alias), "cert%02d", i);
		assert_int_equal(atr_ks_set_trusted(ks, alias,
		    atr_ks_entry_cert(must_find(chain, "root")), 0, &err), 0);
		if (i == 12)
			break;    /* the last store is the file itself */
		next = reload(ks, "changeit", "changeit");
		atr_ks_free(ks);
		ks = next;
	}
	write_out(ks, dir, "ours-order12.jks", ATR_KS_JKS, "changeit");
	atr_ks_free(ks);

	/* chain.jks minus client, and chain.jks under a new password:
	 * keytool -delete and -storepasswd must write the same bytes. */
	ks = load("chain.jks", "changeit");
	assert_int_equal(atr_ks_delete(ks, "client", &err), 0);
	write_out(ks, dir, "ours-chain-delete.jks", ATR_KS_JKS, "changeit");
	atr_ks_free(ks);
	ks = load("chain.jks", "changeit");
	write_out(ks, dir, "ours-chain-storepasswd.jks", ATR_KS_JKS, "newpass1");
	atr_ks_free(ks);

	atr_ks_free(ec);
	atr_ks_free(chain);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect_and_names),
		cmocka_unit_test(test_vectors_list_as_keytool),
		cmocka_unit_test(test_vector_keys),
		cmocka_unit_test(test_keys_work_with_tls),
		cmocka_unit_test(test_wrong_store_password),
		cmocka_unit_test(test_wrong_key_password),
		cmocka_unit_test(test_no_password),
		cmocka_unit_test(test_jks_rewrite_keeps_bytes),
		cmocka_unit_test(test_jks_protect_matches_java),
		cmocka_unit_test(test_jks_version1),
		cmocka_unit_test(test_jceks_to_jks),
		cmocka_unit_test(test_unrecognized_formats),
		cmocka_unit_test(test_truncations_fail_cleanly),
		cmocka_unit_test(test_pem_truncations_do_not_crash),
		cmocka_unit_test(test_bit_flips_fail_cleanly),
		cmocka_unit_test(test_roundtrip_jks_p12_jks),
		cmocka_unit_test(test_roundtrip_p12_jks_p12),
		cmocka_unit_test(test_different_key_password_to_p12),
		cmocka_unit_test(test_pem_roundtrip),
		cmocka_unit_test(test_pem_alias_cannot_inject),
		cmocka_unit_test(test_foreign_pem),
		cmocka_unit_test(test_java_hashtable_order),
		cmocka_unit_test(test_java_hashtable_rehash),
		cmocka_unit_test(test_entry_api),
		cmocka_unit_test(test_ec_key_written_as_java),
		cmocka_unit_test(test_p12_written_as_java),
		cmocka_unit_test(test_p12_non_ascii_password_warns),
		cmocka_unit_test(test_save_file_and_errors),
		cmocka_unit_test(test_write_interop_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
