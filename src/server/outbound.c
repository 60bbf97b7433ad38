/*
 * Where atriumd may connect out to (outbound.h): the rules of
 * outbound_allow, and the one function that resolves, checks and
 * connects.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "server/outbound.h"

#define SETTING "outbound_allow"
#define NAME_MAX_LEN 253

enum rule_kind {
	R_ANY,    /* "*" */
	R_NAME,   /* exactly this host name */
	R_SUFFIX, /* "*.example.com": any name under it */
	R_NET     /* an address or a network: addr/bits, len 4 or 16 bytes */
};

struct rule {
	enum rule_kind kind;
	char name[NAME_MAX_LEN + 1]; /* R_NAME, R_SUFFIX (without "*."): lower case */
	unsigned char addr[16];      /* R_NET: host bits cleared */
	int len;                     /* R_NET: 4 or 16 */
	int bits;                    /* R_NET: prefix length */
};

struct outbound {
	pthread_mutex_t mu;
	struct rule *rules; /* guarded by mu */
	size_t n;
	char *text;         /* the list as set, for messages */
};

/* Lower-cases a host name into out without a trailing dot; -1 when it is
 * not one (labels of letters, digits, '-' and '_', 1 to 63 bytes). */
static int
norm_name(const char *in, char *out)
{
	size_t n = strlen(in), label = 0;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > NAME_MAX_LEN)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return label == 0 ? -1 : 0;
}

/* Whether s is an IPv4 address as inet_aton() (and so getaddrinfo())
 * reads one, short forms ("127.1", "0x7f000001") included. */
static int
numeric_v4(const char *s)
{
	struct in_addr a;

	return inet_aton(s, &a) != 0;
}

/* Parses one entry of the list into r; -1 with err when it is none. */
static int
parse_rule(const char *tok, struct rule *r, struct atr_err *err)
{
	char addr[64];
	const char *slash = strchr(tok, '/');
	size_t alen = slash ? (size_t)(slash - tok) : strlen(tok);

	memset(r, 0, sizeof(*r));
	if (strcmp(tok, "*") == 0) {
		r->kind = R_ANY;
		return 0;
	}
	if (alen < sizeof(addr)) {
		memcpy(addr, tok, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET, addr, r->addr) == 1)
			r->len = 4;
		else if (inet_pton(AF_INET6, addr, r->addr) == 1)
			r->len = 16;
	}
	if (r->len != 0) {
		char *end;
		long bits = r->len * 8;

		if (slash != NULL) {
			errno = 0;
			bits = strtol(slash + 1, &end, 10);
			if (slash[1] == '\0' || *end != '\0' || !isdigit((unsigned char)slash[1]) ||
			    bits < 0 || bits > r->len * 8)
				goto bad;
		}
		r->kind = R_NET;
		r->bits = (int)bits;
		for (int i = 0; i < r->len; i++) {
			int keep = r->bits - i * 8;

			if (keep <= 0)
				r->addr[i] = 0;
			else if (keep < 8)
				r->addr[i] &= (unsigned char)(0xff << (8 - keep));
		}
		return 0;
	}
	if (slash != NULL || numeric_v4(tok))
		goto bad;
	if (strncmp(tok, "*.", 2) == 0) {
		if (norm_name(tok + 2, r->name) == -1)
			goto bad;
		r->kind = R_SUFFIX;
		return 0;
	}
	if (norm_name(tok, r->name) == -1)
		goto bad;
	r->kind = R_NAME;
	return 0;
bad:
	atr_err_set(err, ATR_E_CONFIG, SETTING ": '%.80s' is not a host name, an IPv4 or IPv6 "
	    "address, a network (10.0.0.0/8, fd00::/8) or *", tok);
	return atr_err_set_field(err, SETTING);
}

/* Parses list into a new array of *n rules (the caller's). */
static int
parse_list(const char *list, struct rule **out, size_t *n, struct atr_err *err)
{
	char *copy, *tok, *save = NULL;
	struct rule *rules = NULL;
	size_t count = 0, cap = 0;

	*out = NULL;
	*n = 0;
	if (strlen(list) > OUTBOUND_ALLOW_MAX) {
		atr_err_set(err, ATR_E_CONFIG, SETTING " is longer than %d bytes",
		    OUTBOUND_ALLOW_MAX);
		return atr_err_set_field(err, SETTING);
	}
	if ((copy = strdup(list)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *end;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok == '\0')
			continue;
		if (count == cap) {
			struct rule *more = realloc(rules, (cap ? cap * 2 : 8) * sizeof(*rules));

			if (more == NULL) {
				atr_err_set(err, ATR_E_NOMEM, NULL);
				goto fail;
			}
			rules = more;
			cap = cap ? cap * 2 : 8;
		}
		if (parse_rule(tok, &rules[count], err) == -1)
			goto fail;
		count++;
	}
	free(copy);
	*out = rules;
	*n = count;
	return 0;
fail:
	free(copy);
	free(rules);
	return -1;
}

struct outbound *
outbound_new(void)
{
	struct outbound *ob = calloc(1, sizeof(*ob));
	struct atr_err err;

	if (ob == NULL)
		return NULL;
	pthread_mutex_init(&ob->mu, NULL);
	if (outbound_set_allow(ob, "*", &err) == -1) {
		outbound_free(ob);
		return NULL;
	}
	return ob;
}

void
outbound_free(struct outbound *ob)
{
	if (ob == NULL)
		return;
	pthread_mutex_destroy(&ob->mu);
	free(ob->rules);
	free(ob->text);
	free(ob);
}

int
outbound_check_allow(const char *list, struct atr_err *err)
{
	struct rule *rules;
	size_t n;

	if (parse_list(list, &rules, &n, err) == -1)
		return -1;
	free(rules);
	return 0;
}

int
outbound_set_allow(struct outbound *ob, const char *list, struct atr_err *err)
{
	struct rule *rules, *old;
	size_t n;
	char *text, *old_text;

	if (parse_list(list, &rules, &n, err) == -1)
		return -1;
	if ((text = strdup(list)) == NULL) {
		free(rules);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	pthread_mutex_lock(&ob->mu);
	old = ob->rules;
	old_text = ob->text;
	ob->rules = rules;
	ob->n = n;
	ob->text = text;
	pthread_mutex_unlock(&ob->mu);
	free(old);
	free(old_text);
	return 0;
}

/* The address of sa as 4 or 16 bytes (an IPv4-mapped IPv6 address as its
 * IPv4 address); 0 when it is neither family. */
static int
sa_bytes(const struct sockaddr *sa, unsigned char out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(out, a->s6_addr, 16);
		return 16;
	}
	return 0;
}

static int
net_match(const struct rule *r, const unsigned char *a, int len)
{
	int full = r->bits / 8, rest = r->bits % 8;

	if (len != r->len || memcmp(a, r->addr, (size_t)full) != 0)
		return 0;
	return rest == 0 || (a[full] & (unsigned char)(0xff << (8 - rest))) == r->addr[full];
}

static int
allowed_locked(struct outbound *ob, const char *name, const struct sockaddr *sa)
{
	unsigned char a[16];
	int len = sa_bytes(sa, a);

	for (size_t i = 0; i < ob->n; i++) {
		const struct rule *r = &ob->rules[i];
		size_t nl, rl;

		switch (r->kind) {
		case R_ANY:
			return 1;
		case R_NET:
			if (len != 0 && net_match(r, a, len))
				return 1;
			break;
		case R_NAME:
			if (name != NULL && strcmp(name, r->name) == 0)
				return 1;
			break;
		case R_SUFFIX:
			if (name == NULL)
				break;
			nl = strlen(name);
			rl = strlen(r->name);
			if (nl > rl + 1 && name[nl - rl - 1] == '.' && strcmp(name + nl - rl, r->name) == 0)
				return 1;
			break;
		}
	}
	return 0;
}

/* host as a name for the name rules, in name (NAME_MAX_LEN + 1 bytes); NULL
 * when it is an address literal, which only the address rules match. */
static const char *
host_name(const char *host, char *name)
{
	unsigned char a[16];

	if (numeric_v4(host) || inet_pton(AF_INET6, host, a) == 1 || norm_name(host, name) == -1)
		return NULL;
	return name;
}

int
outbound_allowed(struct outbound *ob, const char *host, const struct sockaddr *sa)
{
	char buf[NAME_MAX_LEN + 1];
	const char *name = host_name(host, buf);
	int ok;

	pthread_mutex_lock(&ob->mu);
	ok = allowed_locked(ob, name, sa);
	pthread_mutex_unlock(&ob->mu);
	return ok;
}

/* Connects a socket to ai within timeout_ms: the socket, or -1 (errno). */
static int
dial_one(const struct addrinfo *ai, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct pollfd pfd;
	int fd, flags, soerr = 0, saved;
	socklen_t sl = sizeof(soerr);

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) == -1)
		return -1;
	if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		goto fail;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	switch (poll(&pfd, 1, timeout_ms)) {
	case 1:
		break;
	case 0:
		errno = ETIMEDOUT;
		goto fail;
	default:
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		goto fail;
	if (soerr != 0) {
		errno = soerr;
		goto fail;
	}
	if (fcntl(fd, F_SETFL, flags) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
outbound_connect(struct outbound *ob, const char *host, const char *port, int timeout_ms,
    struct atr_err *err)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char buf[NAME_MAX_LEN + 1], shown[INET6_ADDRSTRLEN + 1];
	const char *name = host_name(host, buf);
	int fd = -1, rc, saved = 0;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return atr_err_set(err, ATR_E_NETWORK, "%s: %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	/* Every address first: connecting to an allowed one of a name that
	 * also resolves to a forbidden one would let DNS choose. */
	pthread_mutex_lock(&ob->mu);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (allowed_locked(ob, name, ai->ai_addr))
			continue;
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, shown, sizeof(shown), NULL, 0,
		    NI_NUMERICHOST) != 0)
			snprintf(shown, sizeof(shown), "?");
		if (strcmp(shown, host) == 0)
			atr_err_set(err, ATR_E_OUTBOUND_DENIED, "connecting to %s is not allowed by "
			    SETTING " (%.200s): add the address or its network to " SETTING
			    " in atrium.conf and reload (SIGHUP)", shown, ob->text);
		else
			atr_err_set(err, ATR_E_OUTBOUND_DENIED, "%s resolves to %s, which "
			    SETTING " (%.200s) does not allow: add the name, the address or its "
			    "network to " SETTING " in atrium.conf and reload (SIGHUP)", host, shown,
			    ob->text);
		atr_err_set_field(err, SETTING);
		pthread_mutex_unlock(&ob->mu);
		freeaddrinfo(res);
		return -1;
	}
	pthread_mutex_unlock(&ob->mu);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = dial_one(ai, timeout_ms)) != -1)
			break;
		saved = errno;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return atr_err_set(err, ATR_E_NETWORK, "%s:%s: %s", host, port,
		    saved ? strerror(saved) : "connection failed");
	return fd;
}
