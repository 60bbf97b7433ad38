/* Server addresses, server URLs and API paths. See url.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/args.h"
#include "cli/buf.h"
#include "cli/url.h"

/*
 * The client speaks TLS: cli_transport_choose() picks TLS on 10002 unless
 * --plain, https:// URLs are accepted, and http.c's http_tls_setup() and
 * http_tls_apply() install the trust store and the verification.
 */
#define CLI_HAVE_TLS 1

void
cli_transport_choose(int plain, int *tls, int *port)
{
	if (plain || !CLI_HAVE_TLS) {
		*tls = 0;
		*port = CLI_PORT_PLAIN;
	} else {
		*tls = 1;
		*port = CLI_PORT_TLS;
	}
}

static int
host_char_ok(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

static int
ipv6_char_ok(int c)
{
	return isxdigit(c) || c == ':' || c == '.';
}

int
cli_server_url(const char *arg, int plain, char **url, struct atr_err *err)
{
	const char *rest = arg, *host, *port_s = NULL, *sep;
	size_t hlen, rlen;
	int tls, port, ipv6 = 0;
	uint64_t p;
	char hostbuf[256];

	*url = NULL;
	cli_transport_choose(plain, &tls, &port);
	if (strncasecmp(arg, "http://", 7) == 0) {
		rest = arg + 7;
		tls = 0;
		port = CLI_PORT_PLAIN;
	} else if (strncasecmp(arg, "https://", 8) == 0) {
		if (plain)
			return atr_err_set(err, ATR_E_USAGE,
			    "--plain and an https:// address contradict each other");
		if (!CLI_HAVE_TLS)
			return atr_err_set(err, ATR_E_USAGE,
			    "this client cannot make TLS connections yet; use --plain "
			    "(port %d) or an http:// address", CLI_PORT_PLAIN);
		rest = arg + 8;
		tls = 1;
		port = CLI_PORT_TLS;
	} else if (strstr(arg, "://") != NULL) {
		return atr_err_set(err, ATR_E_USAGE,
		    "'%s' is not a server address: only https:// and http:// are understood", arg);
	}
	rlen = strlen(rest);
	if (rlen > 0 && rest[rlen - 1] == '/')
		rlen--;
	if (rlen == 0 || rlen >= sizeof(hostbuf))
		goto bad;
	if (rest[0] == '[') {
		const char *close = memchr(rest, ']', rlen);

		if (close == NULL)
			goto bad;
		host = rest + 1;
		hlen = (size_t)(close - host);
		ipv6 = 1;
		if (close + 1 < rest + rlen) {
			if (close[1] != ':')
				goto bad;
			port_s = close + 2;
		}
	} else {
		const char *c1 = memchr(rest, ':', rlen);

		host = rest;
		if (c1 != NULL && memchr(c1 + 1, ':', rlen - (size_t)(c1 + 1 - rest)) != NULL) {
			/* Two colons or more: a bare IPv6 address, no port. */
			hlen = rlen;
			ipv6 = 1;
		} else if (c1 != NULL) {
			hlen = (size_t)(c1 - rest);
			port_s = c1 + 1;
		} else {
			hlen = rlen;
		}
	}
	if (hlen == 0 || hlen >= sizeof(hostbuf))
		goto bad;
	for (size_t i = 0; i < hlen; i++) {
		int c = (unsigned char)host[i];

		if (ipv6 ? !ipv6_char_ok(c) : !host_char_ok(c))
			goto bad;
		hostbuf[i] = (char)tolower(c);
	}
	hostbuf[hlen] = '\0';
	if (port_s != NULL) {
		char pbuf[16];
		size_t plen = (size_t)(rest + rlen - port_s);

		if (plen == 0 || plen >= sizeof(pbuf))
			goto badport;
		memcpy(pbuf, port_s, plen);
		pbuf[plen] = '\0';
		if (cli_parse_u64(pbuf, 1, 65535, &p) == -1)
			goto badport;
		port = (int)p;
	}
	sep = ipv6 ? "[" : "";
	if (asprintf(url, "%s://%s%s%s:%d", tls ? "https" : "http", sep, hostbuf,
	    ipv6 ? "]" : "", port) == -1) {
		*url = NULL;
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	return 0;
badport:
	return atr_err_set(err, ATR_E_USAGE,
	    "'%s' has a bad port: expected a number from 1 to 65535", arg);
bad:
	return atr_err_set(err, ATR_E_USAGE,
	    "'%s' is not a server address: expected HOST or HOST:PORT", arg);
}

const char *
cli_url_hostport(const char *url)
{
	const char *p = strstr(url, "://");

	return p != NULL ? p + 3 : url;
}

int
cli_url_is_loopback(const char *url)
{
	const char *hp = cli_url_hostport(url);

	return strncmp(hp, "127.", 4) == 0 || strncmp(hp, "[::1]", 5) == 0 ||
	    strncmp(hp, "localhost:", 10) == 0 || strcmp(hp, "localhost") == 0;
}

int
cli_url_host(const char *url, char *host, size_t len)
{
	const char *hp = cli_url_hostport(url), *end;
	size_t n;

	if (hp[0] == '[') {
		hp++;
		end = strchr(hp, ']');
	} else {
		end = strrchr(hp, ':');
	}
	n = end != NULL ? (size_t)(end - hp) : strlen(hp);
	if (n == 0 || n >= len)
		return -1;
	memcpy(host, hp, n);
	host[n] = '\0';
	return 0;
}

char *
cli_pct_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out, *o;

	if (n > (SIZE_MAX - 1) / 3 || (out = malloc(3 * n + 1)) == NULL)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *
cli_api_path(const char *seg, ...)
{
	struct cli_buf b = {.max = 1024 * 1024};
	va_list ap;
	int fail = cli_buf_str(&b, "/api/v1");

	va_start(ap, seg);
	for (const char *s = seg; s != NULL && !fail; s = va_arg(ap, const char *)) {
		char *enc = cli_pct_encode(s);

		fail = enc == NULL || cli_buf_str(&b, "/") == -1 || cli_buf_str(&b, enc) == -1;
		free(enc);
	}
	va_end(ap);
	if (fail) {
		cli_buf_free(&b);
		return NULL;
	}
	return b.p;
}
