/*
 * The admin API of the server's trust store (docs/admin-api.md, "Trusted
 * certificates"): list, import, remove, and fetch a server's chain to
 * trust one of its certificates by fingerprint. The store itself is
 * truststore.c; every change is logged here with who made it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "atrium/log.h"
#include "server/adminlog.h"
#include "server/api.h"
#include "server/runtime.h"
#include "server/truststore.h"

#define CERT_MAX (64 * 1024) /* one certificate, DER */

static json_t *
cert_json(const struct trust_cert *c)
{
	char nb[32], na[32];

	api_time(c->not_before, nb);
	api_time(c->not_after, na);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "subject", c->subject, "issuer",
	    c->issuer, "not_before", nb, "not_after", na, "sha256", c->sha256, "ca", c->is_ca,
	    "self_signed", c->self_signed);
}

/* An entry of the store: the certificate plus its alias (and kind). */
static json_t *
entry_json(const struct trust_cert *c)
{
	json_t *j = cert_json(c);

	if (j != NULL && (json_object_set_new(j, "alias", json_string(c->alias)) == -1 ||
	    (c->key_entry && json_object_set_new(j, "key_entry", json_true()) == -1))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* GET /admin/api/trust */
void
api_trust_list(struct req *r)
{
	struct truststore *ts = req_runtime(r)->trust;
	struct trust_cert *certs;
	struct atr_err err, problem;
	struct api_listing l = {json_array(), 0};
	json_t *body;
	size_t n;

	if (truststore_list(ts, &certs, &n, &problem, &err) == -1)
		return resp_err(r, &err);
	for (size_t i = 0; i < n; i++)
		if (api_listing_add(&l, entry_json(&certs[i])) == -1)
			break;
	free(certs);
	body = json_pack("{s:s,s:b,s:o}", "file", TRUSTSTORE_FILE, "system_roots",
	    truststore_system_roots(ts), "entries", api_listing_take(&l));
	/* The file as it is now cannot be read: the entries are those still in
	 * force, and the answer says why the file is not. */
	if (body != NULL && problem.code != ATR_E_OK)
		json_object_set_new(body, "problem",
		    resp_error_body(problem.code, atr_err_msg(&problem)));
	resp_json(r, 200, body);
}

/* Decodes standard base64 (padding allowed, no line breaks) into a new
 * buffer of at most CERT_MAX bytes. */
static unsigned char *
decode_b64(const char *b64, size_t *outlen, struct atr_err *err)
{
	size_t len = strlen(b64), pad = 0;
	unsigned char *out;
	int n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > CERT_MAX) {
		atr_err_set(err, ATR_E_BAD_REQUEST, "der_b64 is not base64 of one certificate "
		    "(at most %d KiB)", CERT_MAX / 1024);
		return NULL;
	}
	if ((out = malloc(len / 4 * 3 + 1)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len)) < 0) {
		free(out);
		atr_err_set(err, ATR_E_BAD_REQUEST, "der_b64 is not valid base64");
		return NULL;
	}
	/* EVP_DecodeBlock counts '=' padding as zero bytes. */
	while (pad < 2 && b64[len - 1 - pad] == '=')
		pad++;
	*outlen = (size_t)n - pad;
	return out;
}

/* The alias member: NULL when absent or empty; -1 when not a string. */
static int
alias_of(json_t *body, const char **alias)
{
	json_t *a = json_object_get(body, "alias");

	*alias = NULL;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_string(a))
		return -1;
	*alias = json_string_value(a);
	return 0;
}

/* POST /admin/api/trust {"pem" | "der_b64", "alias"} */
void
api_trust_import(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err);
	const char *pem, *b64, *alias;
	unsigned char *der = NULL;
	size_t len;
	struct trust_cert added;
	int rc;

	if (body == NULL)
		return resp_err(r, &err);
	pem = json_string_value(json_object_get(body, "pem"));
	b64 = json_string_value(json_object_get(body, "der_b64"));
	if ((pem == NULL) == (b64 == NULL) || alias_of(body, &alias) == -1)
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"pem\": \"-----BEGIN "
		    "CERTIFICATE-----...\"} or {\"der_b64\": \"...\"}, and optionally \"alias\"");
	if (pem != NULL) {
		if (strlen(pem) > CERT_MAX * 2)
			return resp_error(r, ATR_E_TOO_LARGE, "one certificate is at most %d KiB",
			    CERT_MAX / 1024);
		rc = truststore_import(req_runtime(r)->trust, (const unsigned char *)pem,
		    strlen(pem), alias, &added, &err);
	} else {
		if ((der = decode_b64(b64, &len, &err)) == NULL)
			return resp_err(r, &err);
		rc = truststore_import(req_runtime(r)->trust, der, len, alias, &added, &err);
		free(der);
	}
	if (rc == -1) {
		if (err.code == ATR_E_EXISTS || err.code == ATR_E_BAD_NAME)
			return resp_field_error(r, "alias", err.code, "%s", atr_err_msg(&err));
		return resp_err(r, &err);
	}
	log_admin(r, "trusted certificate '%s' for outbound TLS (%s, issuer %s, %s, SHA-256 %s)",
	    added.alias, added.subject, added.issuer, added.is_ca ? "a CA" : "not a CA",
	    added.sha256);
	resp_json(r, 201, entry_json(&added));
}

/* DELETE /admin/api/trust/ALIAS */
void
api_trust_remove(struct req *r)
{
	struct atr_err err;
	struct trust_cert removed;

	if (truststore_remove(req_runtime(r)->trust, req_param(r, 0), &removed, &err) == -1)
		return resp_err(r, &err);
	log_admin(r, "removed certificate '%s' from the outbound trust store (%s, SHA-256 %s)",
	    removed.alias, removed.subject, removed.sha256);
	resp_empty(r, 204);
}

/* The answer's chain: each certificate with its role. */
static json_t *
chain_json(const struct trust_fetch *f)
{
	json_t *chain = json_array();

	for (size_t i = 0; chain != NULL && i < f->n; i++) {
		const struct trust_cert *c = &f->chain[i];
		const char *role = i == 0 ? "leaf" : i + 1 < f->n ? "intermediate" :
		    c->self_signed ? "root" : "top";
		json_t *j = cert_json(c);

		/* The last is the root (self-signed) or the highest the server sent. */
		if (i == 0 && f->n == 1 && c->self_signed)
			role = "self-signed";
		if (j == NULL || json_object_set_new(j, "role", json_string(role)) == -1 ||
		    json_array_append_new(chain, j) == -1) {
			json_decref(chain);
			return NULL;
		}
	}
	return chain;
}

/* POST /admin/api/trust/fetch {"host", "port", "trust": SHA256, "alias"} */
void
api_trust_fetch(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *ans, *port_j;
	const char *host, *fp, *alias;
	char hostport[300];
	json_int_t port = 443;
	struct trust_fetch f;
	int rc;

	if (body == NULL)
		return resp_err(r, &err);
	host = json_string_value(json_object_get(body, "host"));
	port_j = json_object_get(body, "port");
	fp = json_string_value(json_object_get(body, "trust"));
	if (port_j != NULL)
		port = json_is_integer(port_j) ? json_integer_value(port_j) : -1;
	if (host == NULL || *host == '\0' || strlen(host) > 253 || port < 1 || port > 65535 ||
	    (json_object_get(body, "trust") != NULL && fp == NULL) ||
	    alias_of(body, &alias) == -1)
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"host\": \"NAME\", \"port\": N}, "
		    "and \"trust\": \"SHA-256\" to trust the certificate with that fingerprint");
	snprintf(hostport, sizeof(hostport), strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d",
	    host, (int)port);
	rc = truststore_fetch(req_runtime(r)->trust, req_runtime(r)->outbound, host, (int)port, fp,
	    alias, &f, &err);
	if (rc == -1 && f.n == 0) {
		truststore_fetch_clear(&f);
		/* Nothing was sent to a host the setting forbids; who tried is
		 * worth a line, and the answer names the setting. */
		if (err.code == ATR_E_OUTBOUND_DENIED)
			log_admin_warn(r, "fetch from %s refused: %s", hostport, atr_err_msg(&err));
		if (atr_err_field(&err)[0] != '\0')
			return resp_field_error(r, atr_err_field(&err), err.code, "%s",
			    atr_err_msg(&err));
		return resp_err(r, &err);
	}
	ans = rc == 0 ? json_object() : resp_error_body(err.code, atr_err_msg(&err));
	if (ans == NULL || json_object_set_new(ans, "host", json_string(host)) == -1 ||
	    json_object_set_new(ans, "port", json_integer(port)) == -1 ||
	    json_object_set_new(ans, "chain", chain_json(&f)) == -1 ||
	    json_object_set_new(ans, "sent", json_integer((json_int_t)f.sent)) == -1 ||
	    json_object_set_new(ans, "verified", json_boolean(f.verified)) == -1 ||
	    (f.trusted >= 0 && json_object_set_new(ans, "trusted",
	    entry_json(&f.chain[f.trusted])) == -1)) {
		json_decref(ans);
		ans = NULL;
	}
	if (rc == 0 && f.trusted >= 0)
		log_admin(r, "trusted certificate '%s' of %s for outbound TLS (%s, issuer %s, %s, "
		    "SHA-256 %s)", f.chain[f.trusted].alias, hostport, f.chain[f.trusted].subject,
		    f.chain[f.trusted].issuer, f.chain[f.trusted].is_ca ? "a CA" : "not a CA",
		    f.chain[f.trusted].sha256);
	else if (rc == -1)
		log_admin_warn(r, "trusting a certificate of %s refused: %s", hostport,
		    atr_err_msg(&err));
	resp_json(r, rc == 0 ? (f.trusted >= 0 ? 201 : 200) : atr_errcode_http(err.code), ans);
	truststore_fetch_clear(&f);
}
