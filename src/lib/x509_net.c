/*
 * Fetching the certificate chain a TLS server presents (keytool -printcert
 * -sslserver, the client's "Server Certificates" tool). Nothing is
 * verified: the point is to show the chain, not to trust it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "atrium/x509.h"

/* Splits "host:port", "[v6]:port", "host" into its parts. */
static int
split_hostport(const char *hp, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;
	size_t n;

	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');

		if (close == NULL)
			return -1;
		n = (size_t)(close - hp - 1);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] != '\0' && colon == NULL)
			return -1;
		if (n >= hlen)
			return -1;
		memcpy(host, hp + 1, n);
		host[n] = '\0';
	} else {
		colon = strrchr(hp, ':');
		if (colon != NULL && strchr(hp, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
		n = colon ? (size_t)(colon - hp) : strlen(hp);
		if (n == 0 || n >= hlen)
			return -1;
		memcpy(host, hp, n);
		host[n] = '\0';
	}
	snprintf(port, plen, "%s", colon && colon[1] ? colon + 1 : "443");
	return 0;
}

/* A connected TCP socket, or -1 with err set. */
static int
dial(const char *host, const char *port, int timeout_ms, struct atr_err *err)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	int fd = -1, rc;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		atr_err_set(err, ATR_E_NETWORK, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0, flags;
		socklen_t sl = sizeof(soerr);
		struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) == -1)
			continue;
		flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && errno != EINPROGRESS)
			goto next;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) != 1)
			goto next;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 || soerr != 0) {
			errno = soerr;
			goto next;
		}
		fcntl(fd, F_SETFL, flags);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		freeaddrinfo(res);
		return fd;
next:
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	atr_err_set(err, ATR_E_NETWORK, "%s:%s: %s", host, port,
	    errno ? strerror(errno) : "connection failed");
	freeaddrinfo(res);
	return -1;
}

STACK_OF(X509) *
atr_x509_fetch_chain_fd(int fd, const char *host, const char *port, struct atr_err *err)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	STACK_OF(X509) *out = NULL, *peer;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL || (ssl = SSL_new(ctx)) == NULL) {
		atr_err_set_ssl(err, ATR_E_TLS, "cannot set up TLS");
		goto out;
	}
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	/* Old servers too: this only looks at certificates. */
	SSL_set_security_level(ssl, 0);
	if (strchr(host, ':') == NULL && strspn(host, "0123456789.") != strlen(host))
		SSL_set_tlsext_host_name(ssl, host);
	if (!SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) {
		atr_err_set_ssl(err, ATR_E_TLS, "TLS handshake with %s:%s failed", host, port);
		goto out;
	}
	peer = SSL_get_peer_cert_chain(ssl);
	if ((out = sk_X509_new_null()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(peer); i++) {
		X509 *c = sk_X509_value(peer, i);

		if (!X509_up_ref(c))
			c = NULL;
		if (c == NULL || !sk_X509_push(out, c)) {
			X509_free(c);
			sk_X509_pop_free(out, X509_free);
			out = NULL;
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
	}
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return out;
}

STACK_OF(X509) *
atr_x509_fetch_chain(const char *hostport, int timeout_ms, struct atr_err *err)
{
	char host[256], port[32];
	STACK_OF(X509) *out;
	int fd;

	if (split_hostport(hostport, host, sizeof(host), port, sizeof(port)) == -1) {
		atr_err_set(err, ATR_E_USAGE, "bad server address %s", hostport);
		return NULL;
	}
	if ((fd = dial(host, port, timeout_ms, err)) == -1)
		return NULL;
	out = atr_x509_fetch_chain_fd(fd, host, port, err);
	close(fd);
	return out;
}
