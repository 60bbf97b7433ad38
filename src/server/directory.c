/*
 * Directory sign-in over libldap (directory.h, docs/directory.md).
 *
 * The settings in force are one immutable struct dconf, replaced as a
 * whole by directory_configure() and shared by reference, so a reload
 * never changes what a login in progress uses.
 */
#include <ctype.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <lber.h>
#include <ldap.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/directory.h"
#include "server/outbound.h"
#include "server/truststore.h"

#define DIRECTORY_SERVERS_MAX 8
#define DIRECTORY_MAP_MAX 64
#define DIRECTORY_GROUPS_MAX 256
#define TRUST_PEM "tls/directory-trust.pem"
#define BIND_PASSWORD_MAX 1024

enum role_rank { RANK_NONE, RANK_USER, RANK_ADMIN };

struct server_url {
	char url[DIRECTORY_TEXT_MAX]; /* as configured */
	char host[DIRECTORY_TEXT_MAX];
	int port;
	int starttls; /* ldap:// */
};

struct group_rule {
	char group[DIRECTORY_DN_MAX]; /* a cn or a DN */
	enum role_rank rank;
};

/* The settings in force (immutable once made; referenced). */
struct dconf {
	_Atomic int refs;
	struct server_url servers[DIRECTORY_SERVERS_MAX];
	size_t nservers;
	char *bind_dn, *bind_password; /* bind_password wiped on free */
	char *user_base, *user_filter, *group_base, *group_filter;
	char *display_attr, *email_attr, *ca_file;
	struct group_rule rules[DIRECTORY_MAP_MAX];
	size_t nrules;
	enum role_rank default_rank;
	int connect_timeout, read_timeout;
	int directory_first;
};

struct directory {
	char *datadir;
	struct truststore *ts;
	struct outbound *ob;
	pthread_mutex_t mu;       /* conf, and the trust file below */
	struct dconf *conf;
	X509_STORE *exported;     /* the trust store last written to TRUST_PEM */
};

/* ---- settings */

static void
dconf_unref(struct dconf *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	free(c->bind_dn);
	atr_free_secret(c->bind_password);
	free(c->user_base);
	free(c->user_filter);
	free(c->group_base);
	free(c->group_filter);
	free(c->display_attr);
	free(c->email_attr);
	free(c->ca_file);
	free(c);
}

/* Parses one URL of directory_urls into s. */
static int
parse_url(const char *text, struct server_url *s, struct atr_err *err)
{
	LDAPURLDesc *lud = NULL;

	if (strlen(text) >= sizeof(s->url))
		return atr_err_set(err, ATR_E_CONFIG, "directory_urls: '%.60s...' is too long", text);
	if (ldap_url_parse(text, &lud) != LDAP_URL_SUCCESS || lud->lud_scheme == NULL) {
		ldap_free_urldesc(lud);
		return atr_err_set(err, ATR_E_CONFIG,
		    "directory_urls: '%s' is not an LDAP URL; write ldaps://HOST:636 or "
		    "ldap://HOST:389 (StartTLS)", text);
	}
	if (strcasecmp(lud->lud_scheme, "ldaps") != 0 && strcasecmp(lud->lud_scheme, "ldap") != 0) {
		atr_err_set(err, ATR_E_CONFIG,
		    "directory_urls: '%s' is neither ldaps:// nor ldap:// (with StartTLS); other "
		    "schemes are not supported", text);
		ldap_free_urldesc(lud);
		return -1;
	}
	if (lud->lud_host == NULL || lud->lud_host[0] == '\0' ||
	    strlen(lud->lud_host) >= sizeof(s->host)) {
		ldap_free_urldesc(lud);
		return atr_err_set(err, ATR_E_CONFIG, "directory_urls: '%s' names no host", text);
	}
	if ((lud->lud_dn != NULL && lud->lud_dn[0] != '\0') || lud->lud_attrs != NULL ||
	    lud->lud_filter != NULL) {
		ldap_free_urldesc(lud);
		return atr_err_set(err, ATR_E_CONFIG,
		    "directory_urls: '%s' has a path; name only the server (the search base is "
		    "directory_user_base)", text);
	}
	snprintf(s->url, sizeof(s->url), "%s", text);
	snprintf(s->host, sizeof(s->host), "%s", lud->lud_host);
	s->starttls = strcasecmp(lud->lud_scheme, "ldap") == 0;
	s->port = lud->lud_port != 0 ? lud->lud_port : (s->starttls ? 389 : 636);
	ldap_free_urldesc(lud);
	return 0;
}

static int
parse_urls(const char *list, struct dconf *c, struct atr_err *err)
{
	char *copy = strdup(list), *save = NULL;

	if (copy == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	c->nservers = 0;
	for (char *t = strtok_r(copy, " ,\t", &save); t != NULL; t = strtok_r(NULL, " ,\t", &save)) {
		if (c->nservers == DIRECTORY_SERVERS_MAX) {
			free(copy);
			return atr_err_set(err, ATR_E_CONFIG, "directory_urls: at most %d servers",
			    DIRECTORY_SERVERS_MAX);
		}
		if (parse_url(t, &c->servers[c->nservers], err) == -1) {
			free(copy);
			return -1;
		}
		c->nservers++;
	}
	free(copy);
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static const struct {
	const char *name;
	enum role_rank rank;
} roles[] = {
	{"none", RANK_NONE},
	{"user", RANK_USER},
	{"admin", RANK_ADMIN},
};

static int
role_rank(const char *name, enum role_rank *out)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(roles[i].name, name) == 0) {
			*out = roles[i].rank;
			return 0;
		}
	return -1;
}

static const char *
rank_name(enum role_rank r)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].rank == r)
			return roles[i].name;
	return "none";
}

/* "GROUP:ROLE; GROUP:ROLE"; the last ':' of a pair splits it. */
static int
parse_map(const char *text, struct dconf *c, struct atr_err *err)
{
	char *copy = strdup(text), *save = NULL;

	if (copy == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	c->nrules = 0;
	for (char *t = strtok_r(copy, ";", &save); t != NULL; t = strtok_r(NULL, ";", &save)) {
		char *pair = trim(t), *colon = strrchr(pair, ':'), *group, *role;
		struct group_rule *g;

		if (*pair == '\0')
			continue;
		if (colon == NULL) {
			atr_err_set(err, ATR_E_CONFIG,
			    "directory_group_map: '%.100s' has no role; write GROUP:admin or GROUP:user",
			    pair);
			goto fail;
		}
		*colon = '\0';
		group = trim(pair);
		role = trim(colon + 1);
		if (c->nrules == DIRECTORY_MAP_MAX) {
			atr_err_set(err, ATR_E_CONFIG, "directory_group_map: at most %d groups",
			    DIRECTORY_MAP_MAX);
			goto fail;
		}
		g = &c->rules[c->nrules];
		if (*group == '\0' || strlen(group) >= sizeof(g->group) ||
		    role_rank(role, &g->rank) == -1 || g->rank == RANK_NONE) {
			atr_err_set(err, ATR_E_CONFIG,
			    "directory_group_map: '%.100s:%.20s': the group must be a cn or a DN and the "
			    "role admin or user (Atrium's roles; groups of Atrium users come later)",
			    group, role);
			goto fail;
		}
		snprintf(g->group, sizeof(g->group), "%s", group);
		c->nrules++;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	return atr_err_set_field(err, "directory_group_map");
}

/* The first line of path, at most BIND_PASSWORD_MAX bytes: a new string
 * (atr_free_secret()). */
static char *
read_password(const char *datadir, const char *file, struct atr_err *err)
{
	char path[4400];
	unsigned char *buf;
	size_t len;
	char *nl;

	if (file[0] == '/')
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/%s", datadir, file);
	if (atr_read_file(path, BIND_PASSWORD_MAX, &buf, &len, err) == -1) {
		atr_err_prefix(err, "directory_bind_password_file");
		atr_err_set_field(err, "directory_bind_password_file");
		return NULL;
	}
	if ((nl = memchr(buf, '\n', len)) != NULL)
		*nl = '\0';
	if ((nl = memchr(buf, '\r', strlen((char *)buf))) != NULL)
		*nl = '\0';
	return (char *)buf;
}

int
directory_check_password_file(const char *datadir, const char *file, struct atr_err *err)
{
	char *pw = read_password(datadir, file, err);

	if (pw == NULL)
		return -1;
	atr_free_secret(pw);
	return 0;
}

/* Builds a dconf from cfg; datadir NULL: check only (files not read). */
static struct dconf *
dconf_new(const struct atr_config *cfg, const char *datadir, struct atr_err *err)
{
	struct dconf *c = calloc(1, sizeof(*c));
	const char *pwfile = atr_config_str(cfg, "directory_bind_password_file");

	if (c == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	atomic_init(&c->refs, 1);
	if (parse_urls(atr_config_str(cfg, "directory_urls"), c, err) == -1) {
		atr_err_set_field(err, "directory_urls");
		goto fail;
	}
	if (parse_map(atr_config_str(cfg, "directory_group_map"), c, err) == -1)
		goto fail;
	role_rank(atr_config_str(cfg, "directory_default_role"), &c->default_rank);
	c->connect_timeout = (int)atr_config_int(cfg, "directory_connect_timeout");
	c->read_timeout = (int)atr_config_int(cfg, "directory_read_timeout");
	c->directory_first = strcmp(atr_config_str(cfg, "directory_login_order"),
	    "directory,local") == 0;
	if (c->nservers > 0 && strstr(atr_config_str(cfg, "directory_user_filter"), "{user}") == NULL) {
		atr_err_set(err, ATR_E_CONFIG,
		    "directory_user_filter must contain {user}, the name typed at login");
		atr_err_set_field(err, "directory_user_filter");
		goto fail;
	}
	if (c->nservers > 0 && atr_config_str(cfg, "directory_user_base")[0] == '\0') {
		atr_err_set(err, ATR_E_CONFIG,
		    "directory_user_base is empty: name where users are (ou=people,dc=example,dc=com)");
		atr_err_set_field(err, "directory_user_base");
		goto fail;
	}
	if ((c->bind_dn = strdup(atr_config_str(cfg, "directory_bind_dn"))) == NULL ||
	    (c->user_base = strdup(atr_config_str(cfg, "directory_user_base"))) == NULL ||
	    (c->user_filter = strdup(atr_config_str(cfg, "directory_user_filter"))) == NULL ||
	    (c->group_base = strdup(atr_config_str(cfg, "directory_group_base"))) == NULL ||
	    (c->group_filter = strdup(atr_config_str(cfg, "directory_group_filter"))) == NULL ||
	    (c->display_attr = strdup(atr_config_str(cfg, "directory_display_name_attr"))) == NULL ||
	    (c->email_attr = strdup(atr_config_str(cfg, "directory_email_attr"))) == NULL ||
	    (c->ca_file = strdup(atr_config_str(cfg, "directory_ca_file"))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (datadir != NULL && pwfile[0] != '\0' &&
	    (c->bind_password = read_password(datadir, pwfile, err)) == NULL)
		goto fail;
	if (datadir != NULL && c->ca_file[0] != '\0' && c->ca_file[0] != '/') {
		char *abs = malloc(strlen(datadir) + strlen(c->ca_file) + 2);
		if (abs == NULL) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto fail;
		}
		sprintf(abs, "%s/%s", datadir, c->ca_file);
		free(c->ca_file);
		c->ca_file = abs;
	}
	return c;
fail:
	dconf_unref(c);
	return NULL;
}

int
directory_check_config(const struct atr_config *cfg, struct atr_err *err)
{
	struct dconf *c = dconf_new(cfg, NULL, err);

	if (c == NULL)
		return -1;
	dconf_unref(c);
	return 0;
}

struct directory *
directory_new(const char *datadir, struct truststore *ts, struct outbound *ob)
{
	struct directory *d = calloc(1, sizeof(*d));

	if (d == NULL || (d->datadir = strdup(datadir)) == NULL) {
		free(d);
		return NULL;
	}
	/* libldap reads ldap.conf, ~/.ldaprc and LDAP* variables at its first
	 * use; none of them may weaken or change what is configured here. */
	setenv("LDAPNOINIT", "1", 1);
	{
		/* libldap's global initialisation, once, here on the main
		 * thread rather than in the first logins racing on the pool. */
		int version;
		ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version);
	}
	d->ts = ts;
	d->ob = ob;
	pthread_mutex_init(&d->mu, NULL);
	return d;
}

void
directory_free(struct directory *d)
{
	if (d == NULL)
		return;
	dconf_unref(d->conf);
	X509_STORE_free(d->exported);
	pthread_mutex_destroy(&d->mu);
	free(d->datadir);
	free(d);
}

int
directory_configure(struct directory *d, const struct atr_config *cfg, struct atr_err *err)
{
	struct dconf *c = dconf_new(cfg, d->datadir, err), *old;

	if (c == NULL)
		return -1;
	pthread_mutex_lock(&d->mu);
	old = d->conf;
	d->conf = c;
	pthread_mutex_unlock(&d->mu);
	dconf_unref(old);
	return 0;
}

static struct dconf *
conf_get(struct directory *d)
{
	struct dconf *c;

	pthread_mutex_lock(&d->mu);
	if ((c = d->conf) != NULL)
		atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&d->mu);
	return c;
}

int
directory_enabled(struct directory *d)
{
	struct dconf *c = conf_get(d);
	int on = c != NULL && c->nservers > 0;

	dconf_unref(c);
	return on;
}

int
directory_first(struct directory *d)
{
	struct dconf *c = conf_get(d);
	int first = c != NULL && c->directory_first;

	dconf_unref(c);
	return first;
}

/* ---- trust */

/* Appends every certificate of st to the PEM in b. */
static int
export_store(X509_STORE *st, BIO *b)
{
	STACK_OF(X509) *certs = X509_STORE_get1_all_certs(st);
	int ok = certs != NULL;

	for (int i = 0; ok && i < sk_X509_num(certs); i++)
		ok = PEM_write_bio_X509(b, sk_X509_value(certs, i)) == 1;
	sk_X509_pop_free(certs, X509_free);
	return ok ? 0 : -1;
}

/*
 * The CA file libldap verifies against: directory_ca_file, or the server
 * trust store written to DIR/tls/directory-trust.pem whenever it differs
 * from the store last written (truststore_get() hands out a new store
 * whenever the file or the system-roots setting changed). With the
 * system roots on, the system bundle is appended (its directory lookup
 * holds no certificates until asked). path gets the file's name.
 */
static int
trust_file(struct directory *d, const struct dconf *c, char *path, size_t size,
    struct atr_err *err)
{
	X509_STORE *st;
	BIO *b = NULL;
	char *data;
	long len;
	int rc = -1;

	if (c->ca_file[0] != '\0') {
		snprintf(path, size, "%s", c->ca_file);
		return 0;
	}
	snprintf(path, size, "%s/%s", d->datadir, TRUST_PEM);
	if ((st = truststore_get(d->ts)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	pthread_mutex_lock(&d->mu);
	if (st == d->exported) {
		rc = 0;
		goto out;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL || export_store(st, b) == -1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (truststore_system_roots(d->ts)) {
		unsigned char *sys;
		size_t slen;
		const char *f = getenv(X509_get_default_cert_file_env());
		struct atr_err ignore;

		if (f == NULL)
			f = X509_get_default_cert_file();
		if (atr_read_file(f, 16 * 1024 * 1024, &sys, &slen, &ignore) == 0) {
			BIO_write(b, "\n", 1);
			BIO_write(b, sys, (int)slen);
			free(sys);
		}
	}
	len = BIO_get_mem_data(b, &data);
	if (len == 0) {
		/* GnuTLS refuses an empty CA file; a file that trusts nothing
		 * real keeps every connection failing as it should. */
		atr_err_set(err, ATR_E_TLS,
		    "the server trust store is empty and the system roots are off: add the "
		    "directory's CA (atrium admin trust import CA.pem) or set directory_ca_file");
		goto out;
	}
	if (atr_write_file_atomic(path, data, (size_t)len, 0600, err) == -1)
		goto out;
	X509_STORE_free(d->exported);
	d->exported = st;
	st = NULL;
	rc = 0;
out:
	pthread_mutex_unlock(&d->mu);
	BIO_free(b);
	X509_STORE_free(st);
	return rc;
}

/* ---- connections */

/* What was learnt about one server's TLS, for the test and the errors. */
struct tls_seen {
	char version[32], cipher[96];
	X509 *leaf; /* the certificate presented, when one was seen */
};

static void
tls_seen_clear(struct tls_seen *t)
{
	X509_free(t->leaf);
	memset(t, 0, sizeof(*t));
}

static void
read_tls(LDAP *ld, struct tls_seen *t)
{
	char *s = NULL;
	struct berval bv = {0, NULL};

	if (ldap_get_option(ld, LDAP_OPT_X_TLS_VERSION, &s) == LDAP_OPT_SUCCESS && s != NULL) {
		snprintf(t->version, sizeof(t->version), "%s", s);
		ldap_memfree(s);
	}
	s = NULL;
	if (ldap_get_option(ld, LDAP_OPT_X_TLS_CIPHER, &s) == LDAP_OPT_SUCCESS && s != NULL) {
		snprintf(t->cipher, sizeof(t->cipher), "%s", s);
		ldap_memfree(s);
	}
	if (t->leaf == NULL && ldap_get_option(ld, LDAP_OPT_X_TLS_PEERCERT, &bv) ==
	    LDAP_OPT_SUCCESS && bv.bv_val != NULL) {
		const unsigned char *p = (const unsigned char *)bv.bv_val;
		t->leaf = d2i_X509(NULL, &p, (long)bv.bv_len);
		ber_memfree(bv.bv_val);
	}
}

/* The DNS and IP names of x's subjectAltName (else its CN), ", "-joined. */
static void
cert_names(X509 *x, char *out, size_t size)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[64] = "";
		const char *name = NULL;

		if (g->type == GEN_DNS)
			name = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
		else if (g->type == GEN_IPADD) {
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
			int n = ASN1_STRING_length(g->d.iPAddress);
			if (n == 4)
				snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
			else if (n == 16)
				for (int k = 0; k < 16; k += 2)
					snprintf(ip + strlen(ip), sizeof(ip) - strlen(ip), "%s%x",
					    k ? ":" : "", (a[k] << 8) | a[k + 1]);
			name = ip;
		}
		if (name != NULL && o + strlen(name) + 3 < size)
			o += (size_t)snprintf(out + o, size - o, "%s%s", o ? ", " : "", name);
	}
	GENERAL_NAMES_free(gens);
	if (o == 0)
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)size);
}

static void
name_line(X509_NAME *n, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	out[0] = '\0';
	if (b == NULL)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
	len = BIO_get_mem_data(b, &data);
	snprintf(out, size, "%.*s", (int)len, data);
	BIO_free(b);
}

/*
 * Why a handshake that failed verification failed, with its fix, from the
 * certificate seen by a look-only handshake: expired or not yet valid,
 * names that do not cover host, or else an issuer not trusted.
 */
static int
explain_tls(const struct server_url *s, const struct dconf *c, X509 *leaf, struct atr_err *err)
{
	char names[400], issuer[300];
	int ip = strchr(s->host, ':') != NULL || strspn(s->host, "0123456789.") == strlen(s->host);
	int matches;

	if (leaf == NULL)
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: the TLS handshake failed before a certificate was seen", s->url);
	cert_names(leaf, names, sizeof(names));
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: its certificate (for %s) has expired: renew it on the directory server",
		    s->url, names);
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0)
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: its certificate (for %s) is not valid yet: check the clocks of both machines",
		    s->url, names);
	matches = ip ? X509_check_ip_asc(leaf, s->host, 0) == 1
		     : X509_check_host(leaf, s->host, 0, 0, NULL) == 1;
	if (!matches)
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: the certificate names %s, you connected to %s: use the name in "
		    "directory_urls (or give the server a certificate for %s)",
		    s->url, names, s->host, s->host);
	name_line(X509_get_issuer_name(leaf), issuer, sizeof(issuer));
	if (c->ca_file[0] != '\0')
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: its certificate (issued by %s) is not trusted by directory_ca_file: put "
		    "that CA's certificate in it", s->url, issuer);
	if (!s->starttls)
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: its certificate (issued by %s) is not trusted: check the chain and trust "
		    "its root with `atrium admin trust fetch %s:%d`", s->url, issuer, s->host, s->port);
	return atr_err_set(err, ATR_E_DIRECTORY,
	    "%s: its certificate (issued by %s) is not trusted: trust that CA with `atrium admin "
	    "trust import CA.pem` (or `atrium admin trust fetch %s:636` when it also serves ldaps)",
	    s->url, issuer, s->host);
}

/* Whether outbound_allow lets the server connect to every address of host. */
static int
check_allowed(struct directory *d, const struct server_url *s, struct atr_err *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = 0;

	if (getaddrinfo(s->host, NULL, &hints, &res) != 0)
		return atr_err_set(err, ATR_E_DIRECTORY, "%s: the name %s does not resolve", s->url,
		    s->host);
	for (struct addrinfo *a = res; a != NULL && rc == 0; a = a->ai_next)
		if (!outbound_allowed(d->ob, s->host, a->ai_addr))
			rc = atr_err_set(err, ATR_E_DIRECTORY,
			    "%s: outbound_allow does not allow connecting to %s", s->url, s->host);
	freeaddrinfo(res);
	return rc;
}

/* A new handle for s with c's timeouts; verify 0 makes a look-only
 * handshake (the certificate is read, nothing is bound or sent). */
static LDAP *
handle_new(const struct server_url *s, const struct dconf *c, const char *cafile, int verify,
    struct atr_err *err)
{
	LDAP *ld = NULL;
	int v3 = LDAP_VERSION3, req = verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_ALLOW;
	int min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
	struct timeval conn_tv = {c->connect_timeout, 0}, read_tv = {c->read_timeout, 0};

	if (ldap_initialize(&ld, s->url) != LDAP_SUCCESS) {
		atr_err_set(err, ATR_E_DIRECTORY, "%s: libldap cannot use this URL", s->url);
		return NULL;
	}
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &conn_tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &read_tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &req) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min) != LDAP_OPT_SUCCESS ||
	    (cafile != NULL &&
		ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cafile) != LDAP_OPT_SUCCESS) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
		atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: libldap refused its TLS settings (is the CA file %s readable PEM?)", s->url,
		    cafile != NULL ? cafile : "-");
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	return ld;
}

/* Starts TLS on ld (the handshake of ldaps://, or StartTLS). */
static int
start_tls(LDAP *ld, const struct server_url *s)
{
	return s->starttls ? ldap_start_tls_s(ld, NULL, NULL) : ldap_connect(ld);
}

static const char *
diag(LDAP *ld, char *buf, size_t size)
{
	char *m = NULL;

	buf[0] = '\0';
	if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &m) == LDAP_OPT_SUCCESS && m != NULL) {
		snprintf(buf, size, " (%s)", m);
		ldap_memfree(m);
	}
	return buf;
}

/*
 * Connects to s over verified TLS: a handle ready for binds, or NULL with
 * err (ATR_E_DIRECTORY) saying why and what fixes it. seen (may be NULL)
 * gets the TLS version and certificate, also when verification failed.
 */
static LDAP *
server_connect(struct directory *d, const struct dconf *c, const struct server_url *s,
    struct tls_seen *seen, struct atr_err *err)
{
	char cafile[4400], dbuf[300];
	LDAP *ld, *look;
	struct tls_seen mine = {0};
	int rc;

	if (seen == NULL)
		seen = &mine;
	if (check_allowed(d, s, err) == -1 || trust_file(d, c, cafile, sizeof(cafile), err) == -1)
		return NULL;
	if ((ld = handle_new(s, c, cafile, 1, err)) == NULL)
		return NULL;
	if ((rc = start_tls(ld, s)) == LDAP_SUCCESS) {
		read_tls(ld, seen);
		tls_seen_clear(&mine);
		return ld;
	}
	if (rc == LDAP_PROTOCOL_ERROR || rc == LDAP_UNAVAILABLE || rc == LDAP_OPERATIONS_ERROR ||
	    rc == LDAP_UNWILLING_TO_PERFORM) {
		atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: the server refused StartTLS (%s); Atrium never sends a password over "
		    "plain LDAP: turn TLS on in the directory, or use ldaps://", s->url,
		    ldap_err2string(rc));
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	diag(ld, dbuf, sizeof(dbuf));
	ldap_unbind_ext_s(ld, NULL, NULL);
	/* Reachable but refused? Look at its certificate without trusting
	 * it: this handle is closed right after, nothing is sent on it. */
	if ((look = handle_new(s, c, NULL, 0, err)) == NULL)
		return NULL;
	if (start_tls(look, s) == LDAP_SUCCESS) {
		read_tls(look, seen);
		ldap_unbind_ext_s(look, NULL, NULL);
		explain_tls(s, c, seen->leaf, err);
		tls_seen_clear(&mine);
		return NULL;
	}
	ldap_unbind_ext_s(look, NULL, NULL);
	tls_seen_clear(&mine);
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT)
		atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: %s%s: nothing answered on %s port %d within directory_connect_timeout; is "
		    "the directory running there, and the port open?", s->url, ldap_err2string(rc),
		    dbuf, s->host, s->port);
	else
		atr_err_set(err, ATR_E_DIRECTORY, "%s: %s%s", s->url, ldap_err2string(rc), dbuf);
	return NULL;
}

/* A simple bind; password "" is refused before anything is sent (an
 * unauthenticated bind would succeed, RFC 4513 5.1.2). */
static int
simple_bind(LDAP *ld, const char *dn, const char *password)
{
	struct berval cred;

	if (dn[0] != '\0' && (password == NULL || password[0] == '\0'))
		return LDAP_INVALID_CREDENTIALS;
	cred.bv_val = (char *)(password != NULL ? password : "");
	cred.bv_len = strlen(cred.bv_val);
	return ldap_sasl_bind_s(ld, dn[0] != '\0' ? dn : NULL, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	    NULL);
}

/* Binds as the service account (anonymously when no bind DN is set). */
static int
service_bind(LDAP *ld, const struct dconf *c, const struct server_url *s, struct atr_err *err)
{
	int rc;

	if (c->bind_dn[0] != '\0' && c->bind_password == NULL)
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "directory_bind_dn is set but directory_bind_password_file is not: give the "
		    "service account's password in a file");
	if ((rc = simple_bind(ld, c->bind_dn, c->bind_password)) != LDAP_SUCCESS)
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: the service account %s could not bind (%s): check directory_bind_dn and "
		    "the password in directory_bind_password_file", s->url,
		    c->bind_dn[0] ? c->bind_dn : "(anonymous)", ldap_err2string(rc));
	return 0;
}

/* filter with {user} and {dn} replaced by their escaped values: a new
 * string, or NULL. */
static char *
fill_filter(const char *filter, const char *user, const char *dn)
{
	struct berval in, ue = {0, NULL}, de = {0, NULL};
	size_t cap = strlen(filter) + 1, o = 0;
	char *out;

	in.bv_val = (char *)user;
	in.bv_len = strlen(user);
	if (ldap_bv2escaped_filter_value(&in, &ue) != 0)
		return NULL;
	in.bv_val = (char *)(dn != NULL ? dn : "");
	in.bv_len = strlen(in.bv_val);
	if (ldap_bv2escaped_filter_value(&in, &de) != 0) {
		ber_memfree(ue.bv_val);
		return NULL;
	}
	/* Exactly the room needed: a filter cut short could mean less. */
	for (const char *p = filter; (p = strchr(p, '{')) != NULL; p++)
		cap += strncmp(p, "{user}", 6) == 0 ? ue.bv_len : strncmp(p, "{dn}", 4) == 0 ?
		    de.bv_len : 0;
	if ((out = malloc(cap)) != NULL) {
		for (const char *p = filter; *p != '\0';) {
			const char *v = NULL;
			if (strncmp(p, "{user}", 6) == 0)
				v = ue.bv_val != NULL ? ue.bv_val : "", p += 6;
			else if (strncmp(p, "{dn}", 4) == 0)
				v = de.bv_val != NULL ? de.bv_val : "", p += 4;
			if (v != NULL) {
				size_t n = strlen(v);
				if (o + n + 1 > cap)
					break;
				memcpy(out + o, v, n);
				o += n;
			} else if (o + 2 <= cap)
				out[o++] = *p++;
			else
				break;
		}
		out[o] = '\0';
	}
	ber_memfree(ue.bv_val);
	ber_memfree(de.bv_val);
	return out;
}

static void
first_value(LDAP *ld, LDAPMessage *e, const char *attr, char *out, size_t size)
{
	struct berval **v;

	out[0] = '\0';
	if (attr[0] == '\0' || (v = ldap_get_values_len(ld, e, attr)) == NULL)
		return;
	if (v[0] != NULL)
		snprintf(out, size, "%.*s", (int)v[0]->bv_len, v[0]->bv_val);
	ldap_value_free_len(v);
}

/* The groups of a user: their DNs and cns, for the map and the test. */
struct groups {
	char dn[DIRECTORY_GROUPS_MAX][DIRECTORY_DN_MAX / 4];
	char cn[DIRECTORY_GROUPS_MAX][DIRECTORY_TEXT_MAX / 2];
	size_t n;
};

static void
groups_add(struct groups *g, const char *dn, size_t dnlen, const char *cn)
{
	for (size_t i = 0; i < g->n; i++)
		if (strlen(g->dn[i]) == dnlen && strncasecmp(g->dn[i], dn, dnlen) == 0)
			return;
	if (g->n == DIRECTORY_GROUPS_MAX)
		return;
	/* A DN too long to keep whole is matched by its cn only, never by a
	 * cut-off prefix. */
	if (dnlen >= sizeof(g->dn[0]))
		dnlen = 0;
	snprintf(g->dn[g->n], sizeof(g->dn[0]), "%.*s", (int)dnlen, dn);
	snprintf(g->cn[g->n], sizeof(g->cn[0]), "%s", cn);
	g->n++;
}

/* The value of a DN's first RDN when it is cn=...: its cn. */
static void
dn_cn(const char *dn, size_t len, char *out, size_t size)
{
	size_t i = 0;

	out[0] = '\0';
	if (len < 3 || strncasecmp(dn, "cn=", 3) != 0)
		return;
	while (3 + i < len && dn[3 + i] != ',' && dn[3 + i] != '+' && i + 1 < size) {
		out[i] = dn[3 + i];
		i++;
	}
	out[i] = '\0';
}

/* The user's memberOf values, then the groups the group search finds. */
static int
read_groups(LDAP *ld, const struct dconf *c, LDAPMessage *user_entry, const char *user,
    const char *dn, struct groups *g, struct atr_err *err)
{
	struct berval **v = ldap_get_values_len(ld, user_entry, "memberOf");
	char *filter, *attrs[] = {"cn", NULL}, cn[DIRECTORY_TEXT_MAX];
	LDAPMessage *res = NULL;
	int rc;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		dn_cn(v[i]->bv_val, v[i]->bv_len, cn, sizeof(cn));
		groups_add(g, v[i]->bv_val, v[i]->bv_len, cn);
	}
	ldap_value_free_len(v);
	if (c->group_base[0] == '\0')
		return 0;
	if ((filter = fill_filter(c->group_filter, user, dn)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	rc = ldap_search_ext_s(ld, c->group_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
	    NULL, DIRECTORY_GROUPS_MAX, &res);
	free(filter);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED && rc != LDAP_NO_SUCH_OBJECT) {
		ldap_msgfree(res);
		return atr_err_set(err, ATR_E_DIRECTORY,
		    "the group search under %s failed (%s): check directory_group_base and "
		    "directory_group_filter", c->group_base, ldap_err2string(rc));
	}
	for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
		char *gdn = ldap_get_dn(ld, e);
		first_value(ld, e, "cn", cn, sizeof(cn));
		if (gdn != NULL)
			groups_add(g, gdn, strlen(gdn), cn);
		ldap_memfree(gdn);
	}
	ldap_msgfree(res);
	return 0;
}

/* The highest role any of g maps to, else the default. *mapped: whether
 * a group mapped. */
static enum role_rank
map_groups(const struct dconf *c, const struct groups *g, int *mapped)
{
	enum role_rank best = RANK_NONE;

	for (size_t i = 0; i < g->n; i++)
		for (size_t k = 0; k < c->nrules; k++)
			if (((g->dn[i][0] != '\0' && strcasecmp(c->rules[k].group, g->dn[i]) == 0) ||
				(g->cn[i][0] != '\0' && strcasecmp(c->rules[k].group, g->cn[i]) == 0)) &&
			    c->rules[k].rank > best)
				best = c->rules[k].rank;
	*mapped = best != RANK_NONE;
	return *mapped ? best : c->default_rank;
}

/*
 * Finds user under the user base: exactly one entry (ATR_E_NOT_FOUND
 * without one). out's dn, display name and email are filled, and g with
 * the groups. The caller frees *entry_res.
 */
static int
find_user(LDAP *ld, const struct dconf *c, const struct server_url *s, const char *user,
    struct directory_user *out, struct groups *g, struct atr_err *err)
{
	char *filter, *attrs[5], *dn;
	LDAPMessage *res = NULL, *e;
	int rc, n;

	attrs[0] = c->display_attr;
	attrs[1] = c->email_attr;
	attrs[2] = "cn";
	attrs[3] = "memberOf";
	attrs[4] = NULL;
	if ((filter = fill_filter(c->user_filter, user, NULL)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	rc = ldap_search_ext_s(ld, c->user_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
	    NULL, 2, &res);
	if (rc == LDAP_SIZELIMIT_EXCEEDED) {
		atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: directory_user_filter %s matches more than one entry; make it match one user",
		    s->url, filter);
		goto fail;
	}
	if (rc == LDAP_NO_SUCH_OBJECT) {
		atr_err_set(err, ATR_E_DIRECTORY,
		    "%s: directory_user_base %s does not exist in the directory", s->url,
		    c->user_base);
		goto fail;
	}
	if (rc != LDAP_SUCCESS) {
		atr_err_set(err, ATR_E_DIRECTORY, "%s: the user search failed (%s)", s->url,
		    ldap_err2string(rc));
		goto fail;
	}
	if ((n = ldap_count_entries(ld, res)) != 1 || (e = ldap_first_entry(ld, res)) == NULL) {
		atr_err_set(err, ATR_E_NOT_FOUND, "the directory has no user '%s'", user);
		goto fail;
	}
	if ((dn = ldap_get_dn(ld, e)) == NULL || strlen(dn) >= sizeof(out->dn)) {
		ldap_memfree(dn);
		atr_err_set(err, ATR_E_DIRECTORY, "%s: the entry of '%s' has no usable DN", s->url,
		    user);
		goto fail;
	}
	snprintf(out->dn, sizeof(out->dn), "%s", dn);
	ldap_memfree(dn);
	first_value(ld, e, c->display_attr, out->display_name, sizeof(out->display_name));
	if (out->display_name[0] == '\0')
		first_value(ld, e, "cn", out->display_name, sizeof(out->display_name));
	first_value(ld, e, c->email_attr, out->email, sizeof(out->email));
	if (read_groups(ld, c, e, user, out->dn, g, err) == -1)
		goto fail;
	free(filter);
	ldap_msgfree(res);
	return 0;
fail:
	free(filter);
	ldap_msgfree(res);
	return -1;
}

/* ---- login */

int
directory_login(struct directory *d, const char *user, const char *password,
    struct directory_user *out, struct atr_err *err)
{
	struct dconf *c = conf_get(d);
	char reasons[ATR_ERR_MSG_MAX] = "";
	struct groups *g = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (c == NULL || c->nservers == 0) {
		atr_err_set(err, ATR_E_CONFIG, "directory sign-in is not configured (directory_urls)");
		goto out;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	for (size_t i = 0; i < c->nservers; i++) {
		const struct server_url *s = &c->servers[i];
		struct atr_err e;
		LDAP *ld;
		int brc, mapped;
		enum role_rank rank;

		g->n = 0;
		if ((ld = server_connect(d, c, s, NULL, &e)) == NULL || service_bind(ld, c, s, &e) == -1 ||
		    find_user(ld, c, s, user, out, g, &e) == -1) {
			if (ld != NULL)
				ldap_unbind_ext_s(ld, NULL, NULL);
			if (e.code != ATR_E_DIRECTORY) {
				/* An answer: the directory has no such user. */
				*err = e;
				snprintf(out->server, sizeof(out->server), "%s", s->url);
				goto out;
			}
			atr_warn("directory: %s", atr_err_msg(&e));
			snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons), "%s%s",
			    reasons[0] ? "; " : "", atr_err_msg(&e));
			continue;
		}
		snprintf(out->server, sizeof(out->server), "%s", s->url);
		rank = map_groups(c, g, &mapped);
		/* No password: a verified client certificate vouched for the
		 * user (clientcert.c); the entry and its groups still decide. */
		brc = password != NULL ? simple_bind(ld, out->dn, password) : LDAP_SUCCESS;
		ldap_unbind_ext_s(ld, NULL, NULL);
		if (brc == LDAP_INVALID_CREDENTIALS) {
			atr_err_set(err, ATR_E_BAD_LOGIN, "wrong user name or password");
			goto out;
		}
		if (brc != LDAP_SUCCESS) {
			/* A locked or disabled account (ppolicy, Active Directory)
			 * is refused here too. */
			atr_err_set(err, ATR_E_BAD_LOGIN, "the directory refused '%s': %s", user,
			    ldap_err2string(brc));
			goto out;
		}
		if (rank == RANK_NONE) {
			atr_err_set(err, ATR_E_FORBIDDEN,
			    "'%s' is in no directory group that directory_group_map gives a role, and "
			    "directory_default_role is none", user);
			goto out;
		}
		snprintf(out->role, sizeof(out->role), "%s", rank_name(rank));
		rc = 0;
		goto out;
	}
	atr_err_set(err, ATR_E_DIRECTORY, "no directory server answered: %s", reasons);
out:
	free(g);
	dconf_unref(c);
	return rc;
}

/* ---- the test that explains */

static json_t *
cert_json(X509 *x, const char *host)
{
	char subject[400], issuer[400], names[400], nb[40], na[40], fp[100];
	unsigned char md[32];
	unsigned int mdlen = 0;
	struct tm tm;

	name_line(X509_get_subject_name(x), subject, sizeof(subject));
	name_line(X509_get_issuer_name(x), issuer, sizeof(issuer));
	cert_names(x, names, sizeof(names));
	nb[0] = na[0] = '\0';
	if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) == 1)
		strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", &tm);
	X509_digest(x, EVP_sha256(), md, &mdlen);
	fp[0] = '\0';
	for (unsigned i = 0, o = 0; i < mdlen && o + 4 < sizeof(fp); i++)
		o += (unsigned)snprintf(fp + o, sizeof(fp) - o, "%s%02X", i ? ":" : "", md[i]);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "subject", subject, "issuer", issuer,
	    "names", names, "compared", host, "not_before", nb, "not_after", na, "sha256", fp);
}

static json_t *
test_server(struct directory *d, const struct dconf *c, const struct server_url *s,
    const char *user, json_t *ujson)
{
	struct tls_seen seen = {0};
	struct atr_err err;
	struct directory_user du;
	struct groups *g = NULL;
	json_t *j = json_pack("{s:s,s:s,s:s,s:i}", "url", s->url, "mode",
	    s->starttls ? "StartTLS" : "ldaps", "host", s->host, "port", s->port);
	LDAP *ld;

	if (j == NULL)
		return NULL;
	ld = server_connect(d, c, s, &seen, &err);
	if (seen.version[0])
		json_object_set_new(j, "tls_version", json_string(seen.version));
	if (seen.cipher[0])
		json_object_set_new(j, "cipher", json_string(seen.cipher));
	if (seen.leaf != NULL)
		json_object_set_new(j, "certificate", cert_json(seen.leaf, s->host));
	if (!s->starttls) {
		struct trust_fetch f = {0};
		struct atr_err ferr;
		if (truststore_fetch(d->ts, d->ob, s->host, s->port, NULL, NULL, &f, &ferr) == 0) {
			json_t *chain = json_array();
			for (size_t i = 0; chain != NULL && i < f.n; i++)
				json_array_append_new(chain, json_pack("{s:s,s:s,s:s}", "subject",
				    f.chain[i].subject, "issuer", f.chain[i].issuer, "sha256",
				    f.chain[i].sha256));
			json_object_set_new(j, "chain", chain);
		}
		truststore_fetch_clear(&f);
	}
	tls_seen_clear(&seen);
	if (ld == NULL) {
		json_object_set_new(j, "ok", json_false());
		json_object_set_new(j, "error", json_string(atr_err_msg(&err)));
		return j;
	}
	json_object_set_new(j, "verified", json_true());
	if (service_bind(ld, c, s, &err) == -1) {
		json_object_set_new(j, "ok", json_false());
		json_object_set_new(j, "bind", json_string("failed"));
		json_object_set_new(j, "error", json_string(atr_err_msg(&err)));
		ldap_unbind_ext_s(ld, NULL, NULL);
		return j;
	}
	json_object_set_new(j, "bind", json_string(c->bind_dn[0] ? c->bind_dn : "(anonymous)"));
	json_object_set_new(j, "ok", json_true());
	if (user != NULL && user[0] != '\0' && json_object_size(ujson) == 0 &&
	    (g = calloc(1, sizeof(*g))) != NULL) {
		memset(&du, 0, sizeof(du));
		if (find_user(ld, c, s, user, &du, g, &err) == -1) {
			json_object_set_new(ujson, "name", json_string(user));
			json_object_set_new(ujson, "error", json_string(atr_err_msg(&err)));
		} else {
			int mapped;
			enum role_rank rank = map_groups(c, g, &mapped);
			json_t *groups = json_array();
			for (size_t i = 0; groups != NULL && i < g->n; i++)
				json_array_append_new(groups, json_pack("{s:s,s:s}", "dn", g->dn[i],
				    "cn", g->cn[i]));
			json_object_set_new(ujson, "name", json_string(user));
			json_object_set_new(ujson, "dn", json_string(du.dn));
			json_object_set_new(ujson, "display_name", json_string(du.display_name));
			json_object_set_new(ujson, "email", json_string(du.email));
			json_object_set_new(ujson, "groups", groups);
			json_object_set_new(ujson, "role", json_string(rank_name(rank)));
			json_object_set_new(ujson, "role_from", json_string(mapped ?
			    "directory_group_map" : "directory_default_role"));
			json_object_set_new(ujson, "server", json_string(s->url));
		}
	}
	free(g);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return j;
}

json_t *
directory_test(struct directory *d, const char *user)
{
	struct dconf *c = conf_get(d);
	json_t *servers = json_array(), *ujson = json_object(), *out;
	int ok = 0;

	for (size_t i = 0; c != NULL && servers != NULL && ujson != NULL && i < c->nservers; i++) {
		json_t *s = test_server(d, c, &c->servers[i], user, ujson);
		ok |= s != NULL && json_is_true(json_object_get(s, "ok"));
		json_array_append_new(servers, s);
	}
	if (user != NULL && user[0] != '\0' && ujson != NULL && json_object_size(ujson) == 0) {
		json_object_set_new(ujson, "name", json_string(user));
		json_object_set_new(ujson, "error", json_string("no directory server could be asked"));
	}
	out = json_pack("{s:b,s:b,s:o}", "ok", ok, "configured", c != NULL && c->nservers > 0,
	    "servers", servers);
	if (out != NULL && user != NULL && user[0] != '\0')
		json_object_set_new(out, "user", ujson);
	else
		json_decref(ujson);
	dconf_unref(c);
	return out;
}
