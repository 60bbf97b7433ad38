/*
 * The admin API of integrations (docs/admin-api.md, "Integrations"):
 * where events are delivered, checked here before the store keeps them.
 * Every change is logged with who made it; the signing secret appears in
 * the answers of create and rotate-secret only, never in a log.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "atrium/keystore.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "server/adminlog.h"
#include "server/api.h"
#include "server/event.h"
#include "server/webhook.h"

#define PEM_MAX (1024 * 1024)     /* a CA bundle */
#define KEYSTORE_MAX (1024 * 1024) /* a client keystore, decoded */
#define LOG_LIMIT 100
#define LOG_LIMIT_MAX 1000
#define OVERLAP_HOURS_MAX (24 * 30)

/* ---- answers */

/* Every certificate of pem, in order; NULL (with err) when pem holds none
 * or something that is not a certificate. The stack is the caller's. */
static STACK_OF(X509) *
pem_certs(const char *pem, const char *field, struct atr_err *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509 *c;

	if (bio == NULL || certs == NULL) {
		BIO_free(bio);
		sk_X509_free(certs);
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(certs, c) == 0) {
			X509_free(c);
			break;
		}
	}
	BIO_free(bio);
	/* Stopped by the end of the text, or by something else. */
	if (sk_X509_num(certs) == 0 ||
	    ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		ERR_clear_error();
		sk_X509_pop_free(certs, X509_free);
		atr_err_set(err, ATR_E_CERT_INVALID,
		    "%s must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)", field);
		atr_err_set_field(err, field);
		return NULL;
	}
	ERR_clear_error();
	return certs;
}

/* Lower-case hex SHA-256 of the certificate's DER into out (65 bytes). */
static void
cert_sha256(X509 *c, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (X509_digest(c, EVP_sha256(), md, &len) != 1 || len != 32) {
		out[0] = '\0';
		return;
	}
	atr_hex(md, len, out);
}

static json_t *
subject_json(X509 *c)
{
	char *s = atr_x509_name_format(X509_get_subject_name(c));
	json_t *j = s != NULL ? json_string(s) : NULL;

	free(s);
	return j;
}

static json_t *
ca_subjects_json(const char *pem)
{
	json_t *arr = json_array();
	STACK_OF(X509) *certs;

	if (arr == NULL || pem == NULL)
		return arr;
	if ((certs = pem_certs(pem, "ca_pem", NULL)) == NULL)
		return arr;
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (json_array_append_new(arr, subject_json(sk_X509_value(certs, i))) == -1) {
			json_decref(arr);
			arr = NULL;
			break;
		}
	sk_X509_pop_free(certs, X509_free);
	return arr;
}

/* {"subject", "not_after", "sha256"} of the client certificate (the first
 * in client_pem), or null. */
static json_t *
client_json(const char *pem)
{
	STACK_OF(X509) *certs;
	X509 *c;
	char sha[65], na[32] = "";
	json_t *j;
	int64_t t = 0;
	const ASN1_TIME *end;
	struct tm tm;

	if (pem == NULL)
		return json_null();
	if ((certs = pem_certs(pem, "client_keystore", NULL)) == NULL)
		return json_null();
	c = sk_X509_value(certs, 0);
	cert_sha256(c, sha);
	end = X509_get0_notAfter(c);
	if (end != NULL && ASN1_TIME_to_tm(end, &tm) == 1)
		t = (int64_t)timegm(&tm);
	api_time(t, na);
	j = json_pack("{s:o,s:s,s:s}", "subject", subject_json(c), "not_after", na, "sha256", sha);
	sk_X509_pop_free(certs, X509_free);
	return j;
}

static json_t *
events_json(const char *kinds)
{
	json_t *arr = json_array();

	for (const char *p = kinds; arr != NULL && *p;) {
		size_t n = strcspn(p, ",");
		if (json_array_append_new(arr, json_stringn(p, n)) == -1) {
			json_decref(arr);
			return NULL;
		}
		p += n + (p[n] == ',');
	}
	return arr;
}

static const char *
trust_of(const struct store_integration *in)
{
	if (in->pin[0] != '\0')
		return "pin";
	if (in->ca_pem != NULL)
		return "ca";
	return "store";
}

static json_t *
integration_json(const struct store_integration *in)
{
	char created[32], updated[32];

	api_time(in->created / 1000, created);
	api_time(in->updated / 1000, updated);
	return json_pack("{s:s,s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:b,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s}",
	    "name", in->name, "url", in->url, "events", events_json(in->events), "project",
	    in->project[0] ? json_string(in->project) : json_null(), "trust", trust_of(in), "pin",
	    in->pin[0] ? json_string(in->pin) : json_null(), "ca_subjects",
	    ca_subjects_json(in->ca_pem), "client_certificate", client_json(in->client_pem),
	    "allow_plain", in->allow_plain, "state", in->state, "state_reason", in->state_reason,
	    "pending", (json_int_t)in->pending, "last_seq", (json_int_t)in->last_seq, "created",
	    created, "created_by", in->created_by, "updated", updated, "updated_by",
	    in->updated_by);
}

/* ---- checks of a body */

static int field_error(struct atr_err *err, const char *field, enum atr_errcode code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* err set to code with the sentence, about field. Returns -1. */
static int
field_error(struct atr_err *err, const char *field, enum atr_errcode code, const char *fmt, ...)
{
	char msg[ATR_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atr_err_set(err, code, "%s", msg);
	return atr_err_set_field(err, field);
}

/* Whether host (no brackets, no port) is this machine's loopback. */
static int
loopback_host(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/*
 * Checks url: http:// or https://, a host, an optional port, no user
 * name or password in it (the URL is shown and logged). *https tells the
 * scheme; *loopback whether the host is this machine.
 */
static int
check_url(const char *url, int *https, int *loopback, struct atr_err *err)
{
	const char *p, *end, *colon;
	char host[256];
	size_t hlen;
	const char *problem;

	if ((problem = atr_text_problem(url, strlen(url), NULL, NULL)) != NULL)
		return field_error(err, "url", ATR_E_BAD_TEXT, "the url %s", problem);
	/* Sent as it is in the request line: ASCII, nothing to escape. */
	for (const unsigned char *q = (const unsigned char *)url; *q; q++)
		if (*q <= ' ' || *q >= 0x7f)
			return field_error(err, "url", ATR_E_BAD_REQUEST,
			    "the url must be ASCII without spaces (percent-encode the rest, e.g. "
			    "%%20 for a space)");
	if (strlen(url) > STORE_URL_MAX)
		return field_error(err, "url", ATR_E_BAD_REQUEST, "the url is longer than %s bytes",
		    "2048");
	if (strncasecmp(url, "https://", 8) == 0) {
		*https = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		*https = 0;
		p = url + 7;
	} else {
		return field_error(err, "url", ATR_E_BAD_REQUEST,
		    "the url must start with https:// (or http:// to this machine)");
	}
	end = p + strcspn(p, "/?#");
	for (const char *q = p; q < end; q++)
		if (*q == '@' || *q == ' ' || *q == '\\')
			return field_error(err, "url", ATR_E_BAD_REQUEST,
			    "the url must not hold a user name, a password or spaces before its "
			    "host");
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (close == NULL)
			return field_error(err, "url", ATR_E_BAD_REQUEST,
			    "the url's IPv6 address lacks its ']'");
		hlen = (size_t)(close - p - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return field_error(err, "url", ATR_E_BAD_REQUEST, "the url has no host");
		memcpy(host, p + 1, hlen);
		host[hlen] = '\0';
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		if (close + 1 < end && colon == NULL)
			return field_error(err, "url", ATR_E_BAD_REQUEST,
			    "the url has something after its IPv6 address");
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hlen = (size_t)((colon != NULL ? colon : end) - p);
		if (hlen == 0 || hlen >= sizeof(host))
			return field_error(err, "url", ATR_E_BAD_REQUEST, "the url has no host");
		memcpy(host, p, hlen);
		host[hlen] = '\0';
	}
	if (colon != NULL) {
		long port = 0;
		const char *q = colon + 1;
		if (q == end)
			return field_error(err, "url", ATR_E_BAD_REQUEST,
			    "the url's port is empty");
		for (; q < end; q++) {
			if (!isdigit((unsigned char)*q) || (port = port * 10 + (*q - '0')) > 65535)
				break;
		}
		if (q != end || port < 1)
			return field_error(err, "url", ATR_E_BAD_REQUEST,
			    "the url's port must be a number from 1 to 65535");
	}
	*loopback = loopback_host(host);
	return 0;
}

/* Normalises a pin: 64 hex digits, colons allowed, to lower case. */
static int
check_pin(const char *pin, char out[65], struct atr_err *err)
{
	size_t n = 0;

	for (const char *p = pin; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == 64) {
			n = 65;
			break;
		}
		out[n++] = (char)tolower((unsigned char)*p);
	}
	if (n != 64)
		return field_error(err, "pin", ATR_E_BAD_REQUEST,
		    "pin must be the SHA-256 fingerprint of a certificate: 64 hex digits "
		    "(colons allowed)");
	out[64] = '\0';
	return 0;
}

/* events: an array of kinds (or ["*"]) into out as event_kinds_parse()
 * writes them. */
static int
check_events(json_t *events, char *out, size_t size, struct atr_err *err)
{
	char list[STORE_EVENTS_MAX * 2];
	size_t used = 0, i;
	json_t *v;

	if (!json_is_array(events) || json_array_size(events) == 0)
		return field_error(err, "events", ATR_E_BAD_REQUEST,
		    "events must be a list of kinds of event, or [\"*\"] for every kind");
	json_array_foreach(events, i, v) {
		const char *s = json_string_value(v);
		size_t n = s != NULL ? strlen(s) : 0;
		if (s == NULL || n == 0 || strchr(s, ',') != NULL || used + n + 2 > sizeof(list))
			return field_error(err, "events", ATR_E_BAD_REQUEST,
			    "events must be a list of kinds of event, or [\"*\"] for every kind");
		if (used > 0)
			list[used++] = ',';
		memcpy(list + used, s, n + 1);
		used += n;
	}
	return event_kinds_parse(list, out, size, err);
}

static int
decode_b64(const char *b64, unsigned char **out, size_t *outlen, struct atr_err *err)
{
	size_t len = strlen(b64);
	int n;

	*out = NULL;
	if (len == 0 || len % 4 != 0 || len / 4 * 3 > KEYSTORE_MAX)
		return field_error(err, "client_keystore", ATR_E_BAD_REQUEST,
		    "client_keystore.data must be the base64 of a keystore of at most 1 MiB");
	if ((*out = malloc(len / 4 * 3 + 1)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if ((n = EVP_DecodeBlock(*out, (const unsigned char *)b64, (int)len)) < 0) {
		free(*out);
		*out = NULL;
		return field_error(err, "client_keystore", ATR_E_BAD_REQUEST,
		    "client_keystore.data is not valid base64");
	}
	while (n > 0 && len > 0 && b64[len - 1] == '=') {
		n--;
		len--;
	}
	*outlen = (size_t)n;
	return 0;
}

/* PEM text of the chain and then the private key (unencrypted PKCS#8):
 * what libcurl takes as a client certificate. The caller's, to be freed
 * with atr_free_secret(). */
static char *
key_and_chain_pem(EVP_PKEY *key, const STACK_OF(X509) *chain, struct atr_err *err)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *out = NULL, *data;
	long len;

	if (bio == NULL)
		bio = BIO_new(BIO_s_mem());
	if (bio == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) != 1)
			goto fail;
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto fail;
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0 || (out = malloc((size_t)len + 1)) == NULL)
		goto fail;
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	BIO_free(bio);
	return out;
fail:
	BIO_free(bio);
	atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot write the client certificate as PEM");
	return NULL;
}

/*
 * client_keystore {"data": base64, "password", "alias"}: the key entry
 * (alias, or the only/first one) as PEM into *pem. Keystore errors keep
 * their codes (wrong password, not a keystore) with the field named.
 */
static int
check_keystore(json_t *ksj, char **pem, struct atr_err *err)
{
	const char *data = json_string_value(json_object_get(ksj, "data"));
	json_t *pwj = json_object_get(ksj, "password"), *aliasj = json_object_get(ksj, "alias");
	const char *alias = json_string_value(aliasj);
	const char *password = json_string_value(pwj);
	const struct atr_ks_entry *e = NULL;
	unsigned char *buf = NULL;
	struct atr_ks *ks = NULL;
	EVP_PKEY *key = NULL;
	const STACK_OF(X509) *chain;
	size_t len = 0;
	int rc = -1;

	*pem = NULL;
	if (!json_is_object(ksj) || data == NULL || (pwj != NULL && !json_is_null(pwj) &&
	    password == NULL) || (aliasj != NULL && !json_is_null(aliasj) && alias == NULL))
		return field_error(err, "client_keystore", ATR_E_BAD_REQUEST,
		    "client_keystore must be {\"data\": BASE64, \"password\": \"...\", "
		    "\"alias\": \"...\" (optional)}");
	if (decode_b64(data, &buf, &len, err) == -1)
		return -1;
	if ((ks = atr_ks_load_mem(buf, len, password != NULL && *password ? password : NULL,
		 err)) == NULL)
		goto out;
	if (alias != NULL && *alias) {
		e = atr_ks_find(ks, alias);
		if (e == NULL || atr_ks_entry_kind(e) != ATR_KS_PRIVATE_KEY) {
			atr_err_set(err, ATR_E_KS_NO_ENTRY, "the keystore has no key entry '%s'",
			    alias);
			goto out;
		}
	}
	for (size_t i = 0; e == NULL && i < atr_ks_count(ks); i++)
		if (atr_ks_entry_kind(atr_ks_entry_at(ks, i)) == ATR_KS_PRIVATE_KEY)
			e = atr_ks_entry_at(ks, i);
	if (e == NULL) {
		atr_err_set(err, ATR_E_KS_NO_ENTRY,
		    "the keystore holds no private key entry (a client certificate needs one)");
		goto out;
	}
	chain = atr_ks_entry_chain(e);
	if (chain == NULL || sk_X509_num(chain) == 0) {
		atr_err_set(err, ATR_E_KS_UNSUPPORTED, "the key entry '%s' has no certificate",
		    atr_ks_entry_alias(e));
		goto out;
	}
	if ((key = atr_ks_entry_key(ks, e, NULL, err)) == NULL)
		goto out;
	if ((*pem = key_and_chain_pem(key, chain, err)) != NULL)
		rc = 0;
out:
	if (rc == -1)
		atr_err_set_field(err, "client_keystore");
	EVP_PKEY_free(key);
	atr_ks_free(ks);
	if (buf != NULL) {
		atr_wipe(buf, len);
		free(buf);
	}
	return rc;
}

/* The members a body may have; anything else is refused by name (a typo
 * would otherwise be ignored silently). */
static const char *const members[] = {"name", "url", "events", "project", "ca_pem", "pin",
	"client_keystore", "allow_plain"};

/* Whether member m is present and not null. */
static int
given(json_t *body, const char *m)
{
	json_t *v = json_object_get(body, m);

	return v != NULL && !json_is_null(v);
}

/*
 * Applies the body to in (create: a zeroed in with its name to be set;
 * update: the integration as stored) and checks the result as a whole.
 */
static int
apply_body(json_t *body, struct store_integration *in, int creating, struct atr_err *err)
{
	const char *key, *s;
	json_t *v;
	int https = 0, loopback = 0;

	json_object_foreach(body, key, v) {
		size_t i;
		for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
			if (strcmp(members[i], key) == 0)
				break;
		if (i == sizeof(members) / sizeof(members[0]) || (!creating && strcmp(key, "name") == 0))
			return field_error(err, strlen(key) < ATR_ERR_FIELD_MAX ? key : "",
			    ATR_E_BAD_REQUEST, "'%.40s' is not a setting of an integration", key);
	}
	if (creating) {
		const char *problem;
		s = json_string_value(json_object_get(body, "name"));
		if (s == NULL)
			return field_error(err, "name", ATR_E_BAD_REQUEST,
			    "send {\"name\": \"NAME\", \"url\": \"https://...\"}");
		if ((problem = api_name_problem(s)) != NULL)
			return field_error(err, "name", ATR_E_BAD_NAME, "bad integration name: %s",
			    problem);
		snprintf(in->name, sizeof(in->name), "%s", s);
		snprintf(in->events, sizeof(in->events), "*");
		if (!given(body, "url"))
			return field_error(err, "url", ATR_E_BAD_REQUEST,
			    "an integration needs a url (https://...)");
	}
	if ((v = json_object_get(body, "url")) != NULL) {
		if ((s = json_string_value(v)) == NULL)
			return field_error(err, "url", ATR_E_BAD_REQUEST, "url must be a string");
		snprintf(in->url, sizeof(in->url), "%s", s);
		if (strlen(s) > STORE_URL_MAX)
			in->url[0] = '\0';
		if (check_url(s, &https, &loopback, err) == -1)
			return -1;
	}
	if ((v = json_object_get(body, "events")) != NULL &&
	    check_events(v, in->events, sizeof(in->events), err) == -1)
		return -1;
	if ((v = json_object_get(body, "project")) != NULL) {
		const char *problem;
		if (json_is_null(v)) {
			in->project[0] = '\0';
		} else if ((s = json_string_value(v)) == NULL) {
			return field_error(err, "project", ATR_E_BAD_REQUEST,
			    "project must be a project's name or null (every project)");
		} else if ((problem = api_name_problem(s)) != NULL) {
			return field_error(err, "project", ATR_E_BAD_NAME, "bad project name: %s",
			    problem);
		} else {
			snprintf(in->project, sizeof(in->project), "%s", s);
		}
	}
	if ((v = json_object_get(body, "allow_plain")) != NULL) {
		if (!json_is_boolean(v))
			return field_error(err, "allow_plain", ATR_E_BAD_REQUEST,
			    "allow_plain must be true or false");
		in->allow_plain = json_is_true(v);
	}
	if ((v = json_object_get(body, "pin")) != NULL) {
		if (json_is_null(v))
			in->pin[0] = '\0';
		else if (check_pin(json_is_string(v) ? json_string_value(v) : "", in->pin, err) ==
		    -1)
			return -1;
	}
	if ((v = json_object_get(body, "ca_pem")) != NULL) {
		STACK_OF(X509) *certs;
		free(in->ca_pem);
		in->ca_pem = NULL;
		if (!json_is_null(v)) {
			if ((s = json_string_value(v)) == NULL || strlen(s) > PEM_MAX)
				return field_error(err, "ca_pem", ATR_E_BAD_REQUEST,
				    "ca_pem must be PEM certificates, at most 1 MiB");
			/* PEM readers skip other blocks: a key pasted along with the
			 * certificates would be kept without anyone noticing. */
			if (strstr(s, "PRIVATE KEY-----") != NULL)
				return field_error(err, "ca_pem", ATR_E_BAD_REQUEST,
				    "ca_pem holds a private key: send only the CA's certificates "
				    "(and keep that key secret)");
			if ((certs = pem_certs(s, "ca_pem", err)) == NULL)
				return -1;
			sk_X509_pop_free(certs, X509_free);
			if ((in->ca_pem = strdup(s)) == NULL)
				return atr_err_set(err, ATR_E_NOMEM, NULL);
		}
	}
	if ((v = json_object_get(body, "client_keystore")) != NULL) {
		char *pem = NULL;
		if (!json_is_null(v) && check_keystore(v, &pem, err) == -1)
			return -1;
		if (in->client_pem != NULL)
			atr_free_secret(in->client_pem);
		in->client_pem = pem;
	}

	/* The whole, as it will be. */
	if (check_url(in->url, &https, &loopback, err) == -1)
		return -1;
	if (in->ca_pem != NULL && in->pin[0] != '\0')
		return field_error(err, given(body, "pin") ? "pin" : "ca_pem", ATR_E_BAD_REQUEST,
		    "ca_pem and pin cannot both be set: trust a CA or pin one certificate");
	if (!https) {
		const char *tls_only = in->pin[0] != '\0' ? "pin"
		    : in->ca_pem != NULL		   ? "ca_pem"
		    : in->client_pem != NULL	   ? "client_keystore"
						   : NULL;
		if (tls_only != NULL)
			return field_error(err, given(body, tls_only) ? tls_only : "url",
			    ATR_E_BAD_REQUEST, "%s is only for https:// urls", tls_only);
		if (!loopback && !in->allow_plain)
			return field_error(err, given(body, "url") ? "url" : "allow_plain",
			    ATR_E_BAD_REQUEST,
			    "an http:// url may only point at this machine (127.0.0.1, ::1, "
			    "localhost): use https://, or set allow_plain to true to send events "
			    "unencrypted");
	}
	return 0;
}

/* ---- handlers */

static int
add_integration(const struct store_integration *in, void *arg)
{
	return api_listing_add(arg, integration_json(in));
}

/* GET /admin/api/integrations */
void
api_integrations_list(struct req *r)
{
	struct atr_err err;
	struct api_listing l = {json_array(), 0};

	if (store_integration_list(req_store(r), add_integration, &l, &err) == -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "integrations", api_listing_take(&l)));
}

/* Answers {"integration": obj} for name as stored now. */
static void
answer_integration(struct req *r, int status, const char *name)
{
	struct store_integration in;
	struct atr_err err;

	if (store_integration_get(req_store(r), name, &in, &err) == -1)
		return resp_err(r, &err);
	resp_json(r, status, json_pack("{s:o}", "integration", integration_json(&in)));
	store_integration_clear(&in);
}

static const char *
name_param(struct req *r)
{
	const char *name = req_param(r, 0), *problem;

	if ((problem = api_name_problem(name)) != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad integration name: %s", problem);
		return NULL;
	}
	return name;
}

/* The words of the log line about in's settings (no secret in them). */
static void
describe(const struct store_integration *in, char *out, size_t size)
{
	snprintf(out, size, "url %.600s, events %.300s, project %s, trust %s%s%s", in->url,
	    in->events, in->project[0] ? in->project : "(every)", trust_of(in),
	    in->client_pem != NULL ? ", with a client certificate" : "",
	    in->allow_plain ? ", allow_plain" : "");
}

/* POST /admin/api/integrations */
void
api_integration_create(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err);
	struct store_integration in;
	char words[1200];

	if (body == NULL)
		return resp_err(r, &err);
	memset(&in, 0, sizeof(in));
	if (!json_is_object(body) || apply_body(body, &in, 1, &err) == -1) {
		if (!json_is_object(body))
			atr_err_set(&err, ATR_E_BAD_REQUEST,
			    "send {\"name\": \"NAME\", \"url\": \"https://...\"}");
		log_admin_warn(r, "integration refused: %s", atr_err_msg(&err));
		store_integration_clear(&in);
		return resp_err(r, &err);
	}
	snprintf(in.created_by, sizeof(in.created_by), "%s", req_user(r)->name);
	if (webhook_secret_new(in.secret, sizeof(in.secret), &err) == -1 ||
	    store_integration_create(req_store(r), &in, &err) == -1) {
		store_integration_clear(&in);
		if (err.code == ATR_E_EXISTS)
			atr_err_set_field(&err, "name");
		return resp_err(r, &err);
	}
	describe(&in, words, sizeof(words));
	log_admin(r, "added integration '%s' (%s)", in.name, words);
	resp_json(r, 201, json_pack("{s:o,s:s}", "integration", integration_json(&in), "secret",
	    in.secret));
	store_integration_clear(&in);
}

/* GET /admin/api/integrations/NAME */
void
api_integration_get(struct req *r)
{
	const char *name = name_param(r);

	if (name != NULL)
		answer_integration(r, 200, name);
}

/* PUT /admin/api/integrations/NAME */
void
api_integration_update(struct req *r)
{
	struct atr_err err;
	const char *name = name_param(r);
	json_t *body;
	struct store_integration in;
	char words[1200];

	if (name == NULL)
		return;
	if ((body = req_json(r, &err)) == NULL)
		return resp_err(r, &err);
	if (store_integration_get(req_store(r), name, &in, &err) == -1)
		return resp_err(r, &err);
	if (!json_is_object(body) || apply_body(body, &in, 0, &err) == -1) {
		if (!json_is_object(body))
			atr_err_set(&err, ATR_E_BAD_REQUEST, "send the settings to change as an object");
		log_admin_warn(r, "change of integration '%s' refused: %s", name, atr_err_msg(&err));
		store_integration_clear(&in);
		return resp_err(r, &err);
	}
	in.updated = atr_now_ms();
	snprintf(in.updated_by, sizeof(in.updated_by), "%s", req_user(r)->name);
	if (store_integration_update(req_store(r), &in, &err) == -1) {
		store_integration_clear(&in);
		return resp_err(r, &err);
	}
	describe(&in, words, sizeof(words));
	log_admin(r, "changed integration '%s' (%s)", name, words);
	store_integration_clear(&in);
	answer_integration(r, 200, name);
}

/* DELETE /admin/api/integrations/NAME */
void
api_integration_delete(struct req *r)
{
	struct atr_err err;
	const char *name = name_param(r);

	if (name == NULL)
		return;
	if (store_integration_delete(req_store(r), name, &err) == -1)
		return resp_err(r, &err);
	log_admin(r, "removed integration '%s' with its deliveries and log", name);
	resp_empty(r, 204);
}

static void
set_state(struct req *r, const char *state, const char *verb)
{
	struct atr_err err;
	const char *name = name_param(r);
	char reason[200] = "";

	if (name == NULL)
		return;
	if (strcmp(state, "paused") == 0)
		snprintf(reason, sizeof(reason), "paused by %s", req_user(r)->name);
	if (store_integration_set_state(req_store(r), name, state, reason, req_user(r)->name,
		atr_now_ms(), &err) == -1)
		return resp_err(r, &err);
	log_admin(r, "%s integration '%s'", verb, name);
	answer_integration(r, 200, name);
}

/* POST /admin/api/integrations/NAME/pause */
void
api_integration_pause(struct req *r)
{
	set_state(r, "paused", "paused");
}

/* POST /admin/api/integrations/NAME/resume */
void
api_integration_resume(struct req *r)
{
	set_state(r, "active", "resumed");
}

/* POST /admin/api/integrations/NAME/rotate-secret {"overlap_hours": 24} */
void
api_integration_rotate(struct req *r)
{
	struct atr_err err;
	const char *name = name_param(r);
	json_t *body, *hours;
	json_int_t h = 24;
	char secret[STORE_SECRET_MAX + 1], until[32];
	int64_t now = atr_now_ms(), old_until;

	if (name == NULL)
		return;
	/* The body is optional. */
	body = req_content_length(r) > 0 ? req_json(r, &err) : NULL;
	if (req_content_length(r) > 0 && body == NULL)
		return resp_err(r, &err);
	if (body != NULL && (hours = json_object_get(body, "overlap_hours")) != NULL) {
		if (!json_is_integer(hours) || json_integer_value(hours) < 0 ||
		    json_integer_value(hours) > OVERLAP_HOURS_MAX)
			return resp_field_error(r, "overlap_hours", ATR_E_BAD_REQUEST,
			    "overlap_hours must be a whole number of hours from 0 to %d",
			    OVERLAP_HOURS_MAX);
		h = json_integer_value(hours);
	}
	old_until = now + (int64_t)h * 3600 * 1000;
	if (webhook_secret_new(secret, sizeof(secret), &err) == -1 ||
	    store_integration_rotate(req_store(r), name, secret, old_until, req_user(r)->name, now,
		&err) == -1) {
		atr_wipe(secret, sizeof(secret));
		return resp_err(r, &err);
	}
	api_time(old_until / 1000, until);
	log_admin(r, "rotated the signing secret of integration '%s' (the old one signs too "
		     "until %s)", name, until);
	resp_json(r, 200, json_pack("{s:s,s:s}", "secret", secret, "old_secret_valid_until",
	    until));
	atr_wipe(secret, sizeof(secret));
}

/* POST /admin/api/integrations/NAME/test */
void
api_integration_test(struct req *r)
{
	struct atr_err err;
	const char *name = name_param(r);
	int64_t id = 0;

	if (name == NULL)
		return;
	if (store_delivery_add_test(req_store(r), name, req_user(r)->name, atr_now_ms(), &id,
		&err) == -1)
		return resp_err(r, &err);
	log_admin(r, "queued a test event for integration '%s' (delivery %lld)", name,
	    (long long)id);
	resp_json(r, 202, json_pack("{s:I}", "delivery", (json_int_t)id));
}

static json_t *
attempt_json(const struct store_attempt *a)
{
	char t[32], next[32];
	int retry = strcmp(a->outcome, "retry") == 0;

	api_time(a->time / 1000, t);
	api_time(a->next_attempt / 1000, next);
	return json_pack("{s:I,s:I,s:s,s:s,s:o,s:I,s:s,s:s,s:o}", "delivery",
	    (json_int_t)a->delivery_id, "seq", (json_int_t)a->seq, "event", a->event_type, "time",
	    t, "status", a->status > 0 ? json_integer(a->status) : json_null(), "duration_ms",
	    (json_int_t)a->duration_ms, "error", a->error, "outcome", a->outcome, "next_attempt",
	    retry ? json_string(next) : json_null());
}

static int
add_attempt(const struct store_attempt *a, void *arg)
{
	return api_listing_add(arg, attempt_json(a));
}

/* A query parameter that must be a whole number in [min, max]; def when
 * absent. -1 after answering 400. */
static int
query_number(struct req *r, const char *key, int64_t min, int64_t max, int64_t def, int64_t *out)
{
	const char *s = req_query(r, key);
	char *end;
	long long v;

	*out = def;
	if (s == NULL)
		return 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || !isdigit((unsigned char)*s) || v < min || v > max) {
		resp_field_error(r, key, ATR_E_BAD_REQUEST, "%s must be a whole number from %lld to "
		    "%lld", key, (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

/* GET /admin/api/integrations/NAME/log?limit=N&before=ID */
void
api_integration_log(struct req *r)
{
	struct atr_err err;
	const char *name = name_param(r);
	struct api_listing l = {json_array(), 0};
	int64_t limit, before;

	if (name == NULL || query_number(r, "limit", 1, LOG_LIMIT_MAX, LOG_LIMIT, &limit) == -1 ||
	    query_number(r, "before", 0, INT64_MAX, 0, &before) == -1) {
		json_decref(api_listing_take(&l));
		return;
	}
	if (store_delivery_log(req_store(r), name, before, (int)limit, add_attempt, &l, &err) ==
	    -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "attempts", api_listing_take(&l)));
}

/* POST /admin/api/integrations/NAME/deliveries/ID/redeliver */
void
api_integration_redeliver(struct req *r)
{
	struct atr_err err;
	const char *name = name_param(r), *ids = req_param(r, 1);
	char *end;
	long long id;

	if (name == NULL)
		return;
	id = strtoll(ids, &end, 10);
	if (!isdigit((unsigned char)ids[0]) || *end != '\0' || id < 1)
		return resp_error(r, ATR_E_NOT_FOUND, "integration '%s' has no delivery '%.40s'",
		    name, ids);
	if (store_delivery_redeliver(req_store(r), name, id, atr_now_ms(), &err) == -1)
		return resp_err(r, &err);
	log_admin(r, "queued delivery %lld of integration '%s' again", id, name);
	resp_json(r, 202, json_pack("{s:I}", "delivery", (json_int_t)id));
}
