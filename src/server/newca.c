/* reset-tls --new-ca: a new local CA for a leaked one. See newca.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "atrium/ca.h"
#include "atrium/config.h"
#include "atrium/keystore.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "server/newca.h"
#include "server/tlsstate.h"

#define BUNDLE_ALIAS "atrium-local-ca" /* as the server writes the bundle at first start */

/* Holds DIR/atriumd.lock: -1 with a sentence when an atriumd serves DIR. */
static int
lock_datadir(const char *datadir, struct atr_err *err)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/atriumd.lock", datadir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return atr_err_set(err, ATR_E_IO, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return atr_err_set(err, ATR_E_CONFLICT, "an atriumd is serving %s; stop it first, so "
		    "that it does not go on serving a certificate of the old CA", datadir);
	}
	return fd;
}

/* The client bundle, replaced: cert.jks trusting cacert only, under a new cert.pass. */
static int
write_bundle(const char *tlsdir, X509 *cacert, struct atr_err *err)
{
	char dir[4300], jks[4400], pass[4400], hex[25], line[27];
	unsigned char raw[12];
	struct atr_ks *ks = NULL;
	int rc = -1;

	snprintf(dir, sizeof(dir), "%s/client", tlsdir);
	snprintf(jks, sizeof(jks), "%s/cert.jks", dir);
	snprintf(pass, sizeof(pass), "%s/cert.pass", dir);
	if (atr_mkdirs(dir, 0700, err) == -1)
		return -1;
	if (atr_random_bytes(raw, sizeof(raw)) == -1)
		return atr_err_set(err, ATR_E_INTERNAL, "no randomness for a password");
	atr_hex(raw, sizeof(raw), hex);
	snprintf(line, sizeof(line), "%s\n", hex);
	if ((ks = atr_ks_new(ATR_KS_JKS)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	/* The store first: a cert.pass without its cert.jks would be no use. */
	if (atr_ks_set_trusted(ks, BUNDLE_ALIAS, cacert, 0, err) == -1 ||
	    atr_ks_save_file(ks, jks, hex, NULL, err) == -1 ||
	    atr_write_file_atomic(pass, line, strlen(line), 0600, err) == -1)
		goto out;
	rc = 0;
out:
	atr_ks_free(ks);
	atr_wipe(raw, sizeof(raw));
	atr_wipe(hex, sizeof(hex));
	atr_wipe(line, sizeof(line));
	return rc;
}

static void
sha256_of(X509 *cert, char *out, size_t len)
{
	if (atr_x509_fingerprint(cert, "SHA-256", out, len) == -1)
		snprintf(out, len, "?");
}

int
reset_tls_new_ca(const char *datadir, const char *confpath, FILE *out)
{
	struct atr_err err;
	struct atr_config *cfg = NULL;
	struct atr_ca *old = NULL, *ca = NULL;
	char tlsdir[4200], archive[4300], stamp[32], cn[400], host[256] = "localhost";
	char oldfp[100] = "", newfp[100], admin[400];
	time_t now = time(NULL);
	struct tm tm;
	int lock, rc = 1;

	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", datadir);
	if ((lock = lock_datadir(datadir, &err)) == -1)
		goto fail;
	if ((old = atr_ca_load(tlsdir, &err)) == NULL && err.code != ATR_E_NOT_FOUND)
		goto fail;
	/* reset-tls first: the uploaded keystore goes, the old server certificate is revoked. */
	if (tls_reset(datadir, confpath, &err) == -1)
		goto fail;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(archive, sizeof(archive), "%s/retired-ca-%s", tlsdir, stamp);
	if (old != NULL) {
		sha256_of(atr_ca_cert(old), oldfp, sizeof(oldfp));
		if (atr_ca_retire(old, archive, &err) == -1)
			goto fail;
	}
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	/* A name of its own, so that the two roots are told apart where both are listed. */
	snprintf(cn, sizeof(cn), "Atrium local CA on %s (%.8s)", host, stamp);
	if ((ca = atr_ca_create(tlsdir, cn, "EC", &err)) == NULL ||
	    atr_ca_crl_refresh(ca, &err) == -1 || write_bundle(tlsdir, atr_ca_cert(ca), &err) == -1)
		goto fail;
	sha256_of(atr_ca_cert(ca), newfp, sizeof(newfp));

	/* Only for the URLs printed: what the console's port and the host are. */
	if ((cfg = atr_config_new()) != NULL && atr_config_load_file(cfg, confpath, &err) == 0)
		atr_config_load_env(cfg, &err);
	snprintf(admin, sizeof(admin), "https://%s:%lld", host,
	    cfg != NULL ? (long long)atr_config_int(cfg, "admin_port") : 8443LL);

	fprintf(out, "A new local CA: %s/ca.crt, %s (SHA-256 %s).\n", tlsdir, cn, newfp);
	if (old != NULL)
		fprintf(out, "The old CA (SHA-256 %s) is retired: its key is destroyed; its root, "
		    "its certificate revocation list (with the old server certificate revoked) and "
		    "its list of revoked serials are kept in %s/. No certificate it issued is trusted "
		    "by the new client bundle.\n", oldfp, archive);
	fprintf(out, "The tls_keystore settings are removed from %s; atriumd issues a new server "
	    "certificate from the new CA when it next starts.\n", confpath);
	fprintf(out, "The client bundle %s/client/cert.jks and cert.pass now trusts the new CA "
	    "only.\n", tlsdir);
	fprintf(out,
	    "\nEvery client must now trust the new CA, else it refuses the server:\n"
	    "  - copy %s/ca.crt to the client and run: atrium certs import ca.crt\n"
	    "    (or download it from the console once atriumd runs: %s/admin/api/download/ca.pem)\n"
	    "  - or replace the client's certs/cert.jks and cert.pass with the new bundle\n"
	    "    (%s/admin/api/download/cert.jks and %s/admin/api/download/cert.pass)\n"
	    "  - and remove the old CA from it: atrium certs list shows its alias (SHA-256 %s),\n"
	    "    atrium certs remove ALIAS removes it.\n"
	    "Browsers that trusted the old CA must trust the new one (ca.pem) and drop the old.\n",
	    tlsdir, admin, admin, admin, old != NULL ? oldfp : "none");
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "atriumd: reset-tls --new-ca: %s\n", atr_err_msg(&err));
out:
	atr_config_free(cfg);
	atr_ca_free(ca);
	atr_ca_free(old);
	if (lock != -1)
		close(lock);
	return rc;
}
