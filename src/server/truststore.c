/*
 * The server's trust store for outbound TLS (truststore.h): a PKCS#12 file
 * of trusted certificates, re-read when it changes, turned into an
 * X509_STORE shared by every outbound connection.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "atrium/keystore.h"
#include "atrium/log.h"
#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "server/outbound.h"
#include "server/truststore.h"

/* What identifies a version of a file: a rename gives a new inode, an
 * in-place rewrite (Java's keytool) a new size or modification time. */
struct file_sig {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct truststore {
	pthread_mutex_t mu;       /* guards everything below; changes hold it throughout */
	char *path;               /* DIR/tls/truststore.p12 */
	char *passpath;           /* DIR/tls/truststore.pass */
	int system_roots;         /* trust OpenSSL's default roots too */
	int rebuild;              /* the X509_STORE must be built again */
	int checked;              /* sig and pass_sig hold the last version read */
	struct file_sig sig, pass_sig;
	STACK_OF(X509) *anchors;  /* the last good file's certificates */
	struct trust_cert *certs; /* the same, described (ncerts) */
	size_t ncerts;
	X509_STORE *store;        /* handed out by reference; never changed once built */
	struct atr_err problem;   /* why the file as it is now cannot be read; OK if it can */
};

static void
sig_of(const char *path, struct file_sig *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st) == -1)
		return;
	s->exists = 1;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
}

static int
sig_equal(const struct file_sig *a, const struct file_sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Fills c from cert (alias may be NULL). */
static void
describe(X509 *cert, const char *alias, int key_entry, struct trust_cert *c)
{
	struct atr_cert_info info;

	memset(c, 0, sizeof(*c));
	if (atr_cert_info_get(cert, &info) == 0) {
		snprintf(c->subject, sizeof(c->subject), "%s", info.subject);
		snprintf(c->issuer, sizeof(c->issuer), "%s", info.issuer);
		snprintf(c->sha256, sizeof(c->sha256), "%s", info.sha256);
		c->not_before = info.not_before;
		c->not_after = info.not_after;
		c->is_ca = info.is_ca;
		c->self_signed = info.self_signed;
	}
	snprintf(c->alias, sizeof(c->alias), "%s", alias != NULL ? alias : "");
	c->key_entry = key_entry;
}

/* Opens the file as it is now: ks and its password are the caller's. */
static struct atr_ks *
open_file(struct truststore *ts, char **pass, struct atr_err *err)
{
	struct atr_ks *ks;

	*pass = NULL;
	if ((*pass = atr_passfile_read(ts->passpath, err)) == NULL) {
		if (err->code == ATR_E_NOT_FOUND)
			atr_err_set(err, ATR_E_IO, "%s is missing, so the password of %s is not "
			    "known", ts->passpath, ts->path);
		return NULL;
	}
	if ((ks = atr_ks_load_file(ts->path, *pass, err)) == NULL) {
		if (err->code == ATR_E_NOT_FOUND || err->code == ATR_E_IO)
			atr_err_set(err, ATR_E_IO, "%s cannot be read: %s", ts->path,
			    atr_err_msg(err));
		else if (err->code == ATR_E_KS_PASSWORD)
			/* PKCS#12 cannot tell a damaged file from another password. */
			atr_err_set(err, ATR_E_KS_PASSWORD, "%s fails its integrity check with the "
			    "password in %s: the file is damaged, or was saved with another password",
			    ts->path, ts->passpath);
		else
			atr_err_prefix(err, "%s", ts->path);
		atr_free_secret(*pass);
		*pass = NULL;
	}
	return ks;
}

/* Takes ks's certificates as the ones in force. -1 when out of memory
 * (nothing changed then). */
static int
take_entries(struct truststore *ts, const struct atr_ks *ks)
{
	size_t n = atr_ks_count(ks), k = 0;
	STACK_OF(X509) *anchors = sk_X509_new_null();
	struct trust_cert *certs = calloc(n > 0 ? n : 1, sizeof(*certs));

	if (anchors == NULL || certs == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		X509 *cert = atr_ks_entry_cert(e);

		if (cert == NULL) /* a secret key, or a key entry without a chain */
			continue;
		if (!X509_up_ref(cert))
			goto fail;
		if (!sk_X509_push(anchors, cert)) {
			X509_free(cert);
			goto fail;
		}
		describe(cert, atr_ks_entry_alias(e),
		    atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY, &certs[k++]);
	}
	sk_X509_pop_free(ts->anchors, X509_free);
	free(ts->certs);
	ts->anchors = anchors;
	ts->certs = certs;
	ts->ncerts = k;
	ts->rebuild = 1;
	return 0;
fail:
	sk_X509_pop_free(anchors, X509_free);
	free(certs);
	return -1;
}

/* A new X509_STORE of the anchors (and the system roots), or NULL. */
static X509_STORE *
build_store(struct truststore *ts)
{
	X509_STORE *st = X509_STORE_new();

	ERR_clear_error();
	if (st == NULL)
		return NULL;
	/* Any certificate of the file is an anchor, as in Java. */
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	if (ts->system_roots && !X509_STORE_set_default_paths(st)) {
		/* No system store is no error: fewer roots, never more. */
		atr_debug("%s: the system's roots could not be added", __func__);
	}
	for (int i = 0; i < sk_X509_num(ts->anchors); i++)
		X509_STORE_add_cert(st, sk_X509_value(ts->anchors, i));
	ERR_clear_error();
	return st;
}

/*
 * Re-reads the file when it (or its password file) changed since it was
 * last read, and rebuilds the store when needed. Called with mu held. A
 * failed read keeps what is in force and is logged once per version.
 */
static void
refresh(struct truststore *ts)
{
	struct file_sig sig, pass_sig;
	struct atr_err err;
	struct atr_ks *ks;
	char *pass = NULL;

	sig_of(ts->path, &sig);
	sig_of(ts->passpath, &pass_sig);
	if (!ts->checked || !sig_equal(&sig, &ts->sig) || !sig_equal(&pass_sig, &ts->pass_sig)) {
		int had_problem = ts->problem.code != ATR_E_OK;

		atr_err_clear(&err);
		if ((ks = open_file(ts, &pass, &err)) == NULL) {
			ts->problem = err;
			atr_warn("trust store: %s; the %zu certificate%s read before stay trusted until "
			    "it is fixed", atr_err_msg(&err), ts->ncerts, ts->ncerts == 1 ? "" : "s");
		} else if (take_entries(ts, ks) == -1) {
			atr_err_set(&ts->problem, ATR_E_NOMEM, "out of memory reading %s", ts->path);
			atr_warn("trust store: %s", atr_err_msg(&ts->problem));
		} else {
			atr_err_clear(&ts->problem);
			if (ts->checked || had_problem)
				atr_info("trust store: %s read again: %zu certificate%s trusted%s",
				    ts->path, ts->ncerts, ts->ncerts == 1 ? "" : "s",
				    ts->system_roots ? ", and the system's roots" : "");
		}
		atr_ks_free(ks);
		atr_free_secret(pass);
		ts->sig = sig;
		ts->pass_sig = pass_sig;
		ts->checked = 1;
	}
	if (ts->rebuild || ts->store == NULL) {
		X509_STORE *st = build_store(ts);

		if (st != NULL) {
			X509_STORE_free(ts->store);
			ts->store = st;
			ts->rebuild = 0;
		}
	}
}

/* Makes the password file and an empty store when they are missing. */
static int
create_missing(struct truststore *ts, struct atr_err *err)
{
	struct stat st;
	struct atr_ks *ks;
	char *pass;
	int have_p12 = stat(ts->path, &st) == 0, rc;

	if (stat(ts->passpath, &st) == 0) {
		if (have_p12)
			return 0;
		if ((pass = atr_passfile_read(ts->passpath, err)) == NULL)
			return -1;
	} else if (have_p12) {
		return atr_err_set(err, ATR_E_IO, "%s exists but %s, which holds its password, does "
		    "not; put the password in that file (one line, mode 0600), or move the store "
		    "away to start with an empty one", ts->path, ts->passpath);
	} else if ((pass = atr_passfile_create(ts->passpath, err)) == NULL) {
		return -1;
	}
	if ((ks = atr_ks_new(ATR_KS_PKCS12)) == NULL) {
		atr_free_secret(pass);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	rc = atr_ks_save_file(ks, ts->path, pass, NULL, err);
	atr_ks_free(ks);
	atr_free_secret(pass);
	if (rc == 0)
		atr_info("trust store: made %s, empty (its password is in %s)", ts->path,
		    ts->passpath);
	return rc;
}

struct truststore *
truststore_new(const char *datadir, int system_roots, struct atr_err *err)
{
	struct truststore *ts = calloc(1, sizeof(*ts));
	char *dir = NULL;

	if (ts == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	pthread_mutex_init(&ts->mu, NULL);
	ts->system_roots = system_roots;
	atr_err_clear(&ts->problem);
	if (asprintf(&ts->path, "%s/%s", datadir, TRUSTSTORE_FILE) < 0 ||
	    asprintf(&ts->passpath, "%s/%s", datadir, TRUSTSTORE_PASS) < 0 ||
	    asprintf(&dir, "%s/tls", datadir) < 0 || (ts->anchors = sk_X509_new_null()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (atr_mkdirs(dir, 0700, err) == -1 || create_missing(ts, err) == -1)
		goto fail;
	free(dir);
	pthread_mutex_lock(&ts->mu);
	refresh(ts);
	if (ts->problem.code == ATR_E_OK)
		atr_info("trust store: %s: %zu certificate%s trusted for outbound TLS%s", ts->path,
		    ts->ncerts, ts->ncerts == 1 ? "" : "s",
		    system_roots ? ", and the system's roots" : " (system roots off)");
	pthread_mutex_unlock(&ts->mu);
	return ts;
fail:
	free(dir);
	truststore_free(ts);
	return NULL;
}

void
truststore_free(struct truststore *ts)
{
	if (ts == NULL)
		return;
	pthread_mutex_destroy(&ts->mu);
	free(ts->path);
	free(ts->passpath);
	sk_X509_pop_free(ts->anchors, X509_free);
	free(ts->certs);
	X509_STORE_free(ts->store);
	free(ts);
}

void
truststore_set_system_roots(struct truststore *ts, int on)
{
	pthread_mutex_lock(&ts->mu);
	if (ts->system_roots != on) {
		ts->system_roots = on;
		ts->rebuild = 1;
		atr_info("trust store: the system's roots are %s for outbound TLS",
		    on ? "trusted" : "no longer trusted");
	}
	pthread_mutex_unlock(&ts->mu);
}

int
truststore_system_roots(struct truststore *ts)
{
	int on;

	pthread_mutex_lock(&ts->mu);
	on = ts->system_roots;
	pthread_mutex_unlock(&ts->mu);
	return on;
}

X509_STORE *
truststore_get(struct truststore *ts)
{
	X509_STORE *st;

	pthread_mutex_lock(&ts->mu);
	refresh(ts);
	st = ts->store;
	if (st != NULL && !X509_STORE_up_ref(st))
		st = NULL;
	pthread_mutex_unlock(&ts->mu);
	return st;
}

int
truststore_setup_ssl_ctx(struct truststore *ts, void *ssl_ctx, struct atr_err *err)
{
	SSL_CTX *ctx = ssl_ctx;
	X509_STORE *st;

	ERR_clear_error();
	if ((st = truststore_get(ts)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	/* set1 takes its own reference. */
	SSL_CTX_set1_cert_store(ctx, st);
	X509_STORE_free(st);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		return atr_err_set_ssl(err, ATR_E_TLS, "cannot set up an outbound TLS context");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

int
truststore_list(struct truststore *ts, struct trust_cert **out, size_t *n,
    struct atr_err *problem, struct atr_err *err)
{
	pthread_mutex_lock(&ts->mu);
	refresh(ts);
	*n = ts->ncerts;
	if ((*out = calloc(ts->ncerts > 0 ? ts->ncerts : 1, sizeof(**out))) == NULL) {
		pthread_mutex_unlock(&ts->mu);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	memcpy(*out, ts->certs, ts->ncerts * sizeof(**out));
	if (problem != NULL)
		*problem = ts->problem;
	pthread_mutex_unlock(&ts->mu);
	return 0;
}

/* ---- changes */

/* The alias made from cert's CN: lower-case letters, digits, '.', '_',
 * '-' (others become '-'), at most 64 bytes; "cert" when that is empty. */
static void
alias_from_cert(X509 *cert, char *out, size_t outlen)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *cn = NULL;
	size_t o = 0;

	if (i >= 0)
		ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	for (const unsigned char *p = cn; p != NULL && *p != '\0' && o + 1 < outlen && o < 64;
	     p++) {
		int c = tolower(*p);

		if (!(isalnum(c) && c < 128) && c != '.' && c != '_')
			c = '-';
		if (c == '-' && (o == 0 || out[o - 1] == '-'))
			continue;
		out[o++] = (char)c;
	}
	while (o > 0 && out[o - 1] == '-')
		o--;
	out[o] = '\0';
	OPENSSL_free(cn);
	if (o == 0)
		snprintf(out, outlen, "cert");
}

/* Whether alias is acceptable; else -1 with err set. */
static int
check_alias(const char *alias, struct atr_err *err)
{
	size_t n = strlen(alias);
	const char *why;

	if (n == 0 || n > TRUSTSTORE_ALIAS_MAX)
		return atr_err_set(err, ATR_E_BAD_NAME, "an alias has 1 to %d bytes",
		    TRUSTSTORE_ALIAS_MAX);
	if ((why = atr_text_problem(alias, n, NULL, NULL)) != NULL)
		return atr_err_set(err, ATR_E_BAD_NAME, "the alias %s", why);
	if (alias[0] == ' ' || alias[n - 1] == ' ')
		return atr_err_set(err, ATR_E_BAD_NAME, "an alias does not begin or end with a space");
	return 0;
}

/* Adds cert to the file as it is now. Called with mu held. */
static int
add_locked(struct truststore *ts, X509 *cert, const char *alias, struct trust_cert *added,
    struct atr_err *err)
{
	char made[TRUSTSTORE_ALIAS_MAX + 1], base[80];
	struct atr_ks *ks;
	char *pass = NULL;
	int rc = -1;

	if (alias != NULL && *alias != '\0' && check_alias(alias, err) == -1)
		return -1;
	if ((ks = open_file(ts, &pass, err)) == NULL)
		return -1;
	for (size_t i = 0; i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		X509 *c = atr_ks_entry_cert(e);

		if (c != NULL && atr_x509_equal(c, cert)) {
			atr_err_set(err, ATR_E_EXISTS, "this certificate is already trusted, as '%s'",
			    atr_ks_entry_alias(e));
			goto out;
		}
	}
	if (alias != NULL && *alias != '\0') {
		if (atr_ks_find(ks, alias) != NULL) {
			atr_err_set(err, ATR_E_EXISTS, "the trust store already has an entry '%s'; "
			    "remove it first or choose another alias", alias);
			goto out;
		}
		snprintf(made, sizeof(made), "%s", alias);
	} else {
		alias_from_cert(cert, base, sizeof(base));
		snprintf(made, sizeof(made), "%s", base);
		for (int k = 2; atr_ks_find(ks, made) != NULL; k++)
			snprintf(made, sizeof(made), "%s-%d", base, k);
	}
	if (atr_ks_set_trusted(ks, made, cert, 0, err) == -1 ||
	    atr_ks_save_file(ks, ts->path, pass, NULL, err) == -1)
		goto out;
	if (added != NULL)
		describe(cert, made, 0, added);
	rc = 0;
out:
	atr_ks_free(ks);
	atr_free_secret(pass);
	/* Read back what was written, as any other change. */
	refresh(ts);
	return rc;
}

int
truststore_import(struct truststore *ts, const unsigned char *buf, size_t len,
    const char *alias, struct trust_cert *added, struct atr_err *err)
{
	STACK_OF(X509) *certs = atr_x509_read_certs(buf, len, err);
	int rc;

	if (certs == NULL)
		return -1;
	if (sk_X509_num(certs) != 1) {
		rc = atr_err_set(err, ATR_E_USAGE, sk_X509_num(certs) == 0 ?
		    "no certificate found: give one certificate, PEM or DER" :
		    "%d certificates found: import one certificate at a time", sk_X509_num(certs));
		sk_X509_pop_free(certs, X509_free);
		return rc;
	}
	pthread_mutex_lock(&ts->mu);
	rc = add_locked(ts, sk_X509_value(certs, 0), alias, added, err);
	pthread_mutex_unlock(&ts->mu);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

int
truststore_remove(struct truststore *ts, const char *alias, struct trust_cert *removed,
    struct atr_err *err)
{
	const struct atr_ks_entry *e;
	struct atr_ks *ks;
	char *pass = NULL, name[TRUSTSTORE_ALIAS_MAX + 1];
	int rc = -1;

	pthread_mutex_lock(&ts->mu);
	if ((ks = open_file(ts, &pass, err)) == NULL)
		goto out;
	if ((e = atr_ks_find(ks, alias)) == NULL) {
		atr_err_set(err, ATR_E_KS_NO_ENTRY, "the trust store has no entry '%s'", alias);
		goto out;
	}
	snprintf(name, sizeof(name), "%s", atr_ks_entry_alias(e));
	if (removed != NULL) {
		if (atr_ks_entry_cert(e) != NULL)
			describe(atr_ks_entry_cert(e), name,
			    atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY, removed);
		else
			memset(removed, 0, sizeof(*removed));
		snprintf(removed->alias, sizeof(removed->alias), "%s", name);
	}
	if (atr_ks_delete(ks, name, err) == -1 ||
	    atr_ks_save_file(ks, ts->path, pass, NULL, err) == -1)
		goto out;
	rc = 0;
out:
	atr_ks_free(ks);
	atr_free_secret(pass);
	refresh(ts);
	pthread_mutex_unlock(&ts->mu);
	return rc;
}

/* Whether the path verifies (no name check) with st. */
static int
verifies(X509_STORE *st, STACK_OF(X509) *path)
{
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	int ok = 0;

	if (x != NULL && X509_STORE_CTX_init(x, st, sk_X509_value(path, 0), path))
		ok = X509_verify_cert(x) == 1;
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	return ok;
}

int
truststore_fetch(struct truststore *ts, struct outbound *ob, const char *host, int port,
    const char *fingerprint, const char *alias, struct trust_fetch *out, struct atr_err *err)
{
	STACK_OF(X509) *sent, *path = NULL;
	X509_STORE *st;
	X509 *chosen = NULL;
	char portstr[16], hostport[300];
	int rc = -1, fd;

	memset(out, 0, sizeof(*out));
	out->trusted = -1;
	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(hostport, sizeof(hostport), strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d",
	    host, port);
	if ((fd = outbound_connect(ob, host, portstr, TRUSTSTORE_FETCH_TIMEOUT_MS, err)) == -1)
		return -1;
	sent = atr_x509_fetch_chain_fd(fd, host, portstr, err);
	close(fd);
	if (sent == NULL)
		return -1;
	if (sk_X509_num(sent) == 0) {
		atr_err_set(err, ATR_E_TLS, "%s presented no certificate", hostport);
		goto out;
	}
	if ((path = atr_tls_chain_path(sent)) == NULL ||
	    (out->chain = calloc((size_t)sk_X509_num(path), sizeof(*out->chain))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	out->n = (size_t)sk_X509_num(path);
	out->sent = (size_t)sk_X509_num(sent);
	for (int i = 0; i < sk_X509_num(path); i++) {
		describe(sk_X509_value(path, i), NULL, 0, &out->chain[i]);
		if (fingerprint != NULL && chosen == NULL &&
		    atr_tls_fingerprint_match(sk_X509_value(path, i), fingerprint)) {
			chosen = sk_X509_value(path, i);
			out->trusted = i;
		}
	}
	if ((st = truststore_get(ts)) != NULL) {
		out->verified = verifies(st, path);
		X509_STORE_free(st);
	}
	if (fingerprint == NULL) {
		rc = 0;
		goto out;
	}
	if (chosen == NULL) {
		atr_err_set(err, ATR_E_FINGERPRINT, "no certificate %s presented has the SHA-256 "
		    "fingerprint %s; nothing was trusted", hostport, fingerprint);
		goto out;
	}
	pthread_mutex_lock(&ts->mu);
	rc = add_locked(ts, chosen, alias, &out->chain[out->trusted], err);
	pthread_mutex_unlock(&ts->mu);
	if (rc == -1)
		out->trusted = -1;
out:
	sk_X509_pop_free(sent, X509_free);
	sk_X509_pop_free(path, X509_free);
	return rc;
}

void
truststore_fetch_clear(struct trust_fetch *f)
{
	if (f == NULL)
		return;
	free(f->chain);
	memset(f, 0, sizeof(*f));
	f->trusted = -1;
}
