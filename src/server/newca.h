/*
 * `atriumd --data DIR reset-tls --new-ca`: for a local CA whose key is
 * thought leaked. See docs/SECURITY.md, "Resetting TLS".
 */
#ifndef ATRIUM_SERVER_NEWCA_H
#define ATRIUM_SERVER_NEWCA_H

#include <stdio.h>

/*
 * With no atriumd serving datadir (its lock is held meanwhile): does what
 * reset-tls does (tls_reset(), on the settings file confpath), retires the local CA (atr_ca_retire():
 * a last CRL with the old server certificate revoked, kept with the old
 * root in DIR/tls/retired-ca-TIME/, the old key destroyed), makes a new
 * CA, and a new client bundle (DIR/tls/client/cert.jks, cert.pass) that
 * trusts the new CA only. The next start issues the server certificate
 * from the new CA. Prints on out what was done and what every client must
 * do. Returns the exit status: 0, or 1 with the reason on stderr.
 */
int reset_tls_new_ca(const char *datadir, const char *confpath, FILE *out);

#endif
