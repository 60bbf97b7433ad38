/*
 * GET /ca.crl: the local CA's certificate revocation list, as DER
 * (RFC 5280 4.2.1.13), for clients that follow the crlDistributionPoints
 * of the certificates the local CA issues. No login: a CRL is public and
 * signed, so neither secrecy nor TLS is needed to trust it.
 */
#include <stdlib.h>

#include "server/api.h"
#include "server/runtime.h"
#include "server/tlsstate.h"

void
api_ca_crl(struct req *r)
{
	unsigned char *der;
	size_t len;

	if (tls_state_crl(req_runtime(r)->tls, &der, &len) == -1)
		return resp_error(r, ATR_E_NOT_FOUND,
		    "there is no local CA's CRL here: the certificate comes from tls_keystore");
	resp_text(r, 200, "application/pkix-crl", (const char *)der, len);
	/* Clients may keep it an hour; it is re-signed days before nextUpdate. */
	resp_header(r, "Cache-Control", "max-age=3600");
	free(der);
}
