/* The client's trust store folders and the roots it trusts. See trust.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atrium/keystore.h"
#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "cli/trust.h"

#define CERTS_DIR "certs"		/* the trust store's folder, as the reference names it */

char *
cli_exe_certs_dir(void)
{
	char exe[4096], *slash, *out;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return asprintf(&out, "%s/" CERTS_DIR, exe) == -1 ? NULL : out;
}

char *
cli_certs_dir(const char *home)
{
	char *out;

	return asprintf(&out, "%s/" CERTS_DIR, home) == -1 ? NULL : out;
}

struct atr_trust *
cli_trust_load(const char *home, struct atr_err *err)
{
	struct atr_trust *t = atr_trust_new();
	char *dir = NULL;

	if (t == NULL)
		goto nomem;
	atr_trust_add_system(t);
	if ((dir = cli_certs_dir(home)) == NULL)
		goto nomem;
	if (atr_trust_add_dir(t, dir, err) == -1)
		goto fail;
	free(dir);
	/* Beside the executable, as the reference clients keep it (optional). */
	if ((dir = cli_exe_certs_dir()) != NULL && atr_trust_add_dir(t, dir, err) == -1)
		goto fail;
	free(dir);
	return t;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
fail:
	free(dir);
	atr_trust_free(t);
	return NULL;
}

/* Checks chain for hostport with home's trust: 1 trusted (names aside), 0 not, -1 error. */
static int
chain_trusted(const char *home, STACK_OF(X509) *chain, const char *hostport, char *why,
    size_t len, struct atr_err *err)
{
	struct atr_trust *t = cli_trust_load(home, err);
	struct atr_tls_verdict v;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t n = colon != NULL ? (size_t)(colon - hostport) : strlen(hostport);
	int rc = -1;

	if (n > 0 && hostport[0] == '[' && hostport[n - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)n - 2, hostport + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)n, hostport);
	why[0] = '\0';
	if (t == NULL || atr_trust_check(t, chain, host, 0, &v, err) == -1)
		goto out;
	atr_tls_verdict_explain(&v, hostport, 0, why, len);
	rc = (v.problems & ATR_TLSV_UNTRUSTED) ? 0 : 1;
out:
	atr_trust_free(t);
	return rc;
}

int
cli_trust_add_top(const char *home, const char *pem, size_t len, const char *alias,
    const char *hostport, struct cli_trusted *out, struct atr_err *err)
{
	STACK_OF(X509) *chain = NULL, *path = NULL;
	struct atr_ks *ks = NULL;
	struct atr_cert_info ci;
	char *dir = NULL, *pass = NULL;
	X509 *top;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((chain = atr_x509_read_certs((const unsigned char *)pem, len, err)) == NULL)
		return -1;
	if (sk_X509_num(chain) == 0 || (path = atr_tls_chain_path(chain)) == NULL) {
		atr_err_set(err, ATR_E_CERT_INVALID, "the server's answer holds no certificate");
		goto out;
	}
	top = sk_X509_value(path, sk_X509_num(path) - 1);
	if (atr_cert_info_get(sk_X509_value(chain, 0), &ci) == 0)
		snprintf(out->leaf_sha256, sizeof(out->leaf_sha256), "%s", ci.sha256);
	if (atr_cert_info_get(top, &ci) == -1) {
		atr_err_set(err, ATR_E_CERT_INVALID, "the server's new certificate cannot be read");
		goto out;
	}
	snprintf(out->subject, sizeof(out->subject), "%s", ci.subject);
	snprintf(out->sha256, sizeof(out->sha256), "%s", ci.sha256);
	if ((dir = cli_certs_dir(home)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	snprintf(out->store, sizeof(out->store), "%s/" ATR_TRUST_JKS, dir);
	switch (chain_trusted(home, chain, hostport, out->still, sizeof(out->still), err)) {
	case -1:
		goto out;
	case 1:
		rc = 0; /* a root trusted already: nothing to add */
		goto out;
	}
	if (atr_trust_store_open(dir, 1, &ks, &pass, err) == -1)
		goto out;
	for (size_t i = 0; i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		X509 *c = atr_ks_entry_cert(e);

		if (c != NULL && atr_x509_equal(c, top)) {
			snprintf(out->alias, sizeof(out->alias), "%s", atr_ks_entry_alias(e));
			rc = 0;
			goto out;
		}
	}
	/* An alias in use is never overwritten: alias-2, alias-3, ... */
	snprintf(out->alias, sizeof(out->alias), "%s", alias);
	for (int i = 2; atr_ks_find(ks, out->alias) != NULL; i++) {
		if (i > 1000) {
			atr_err_set(err, ATR_E_EXISTS, "too many entries called %s in %s", alias,
			    out->store);
			goto out;
		}
		snprintf(out->alias, sizeof(out->alias), "%.200s-%d", alias, i);
	}
	if (atr_ks_set_trusted(ks, out->alias, top, 0, err) == -1 ||
	    atr_trust_store_save(dir, ks, pass, err) == -1)
		goto out;
	/* The store may spell the alias in its own case (JKS lowers it). */
	if (atr_ks_find(ks, out->alias) != NULL)
		snprintf(out->alias, sizeof(out->alias), "%s",
		    atr_ks_entry_alias(atr_ks_find(ks, out->alias)));
	out->added = 1;
	if (chain_trusted(home, chain, hostport, out->still, sizeof(out->still), err) == -1)
		goto out;
	rc = 0;
out:
	atr_ks_free(ks);
	atr_free_secret(pass);
	sk_X509_pop_free(path, X509_free);
	sk_X509_pop_free(chain, X509_free);
	free(dir);
	return rc;
}
