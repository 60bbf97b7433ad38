/*
 * X.509: keys, names, certificates and certificate requests, made and shown
 * the way Java's keytool makes and shows them.
 *
 * The module generates RSA, EC and Ed25519 keys; parses Java distinguished
 * names ("CN=a, OU=b, O=c, L=d, ST=e, C=f") and prints names as Java's
 * X500Name does; builds and signs certificates and PKCS#10 requests with
 * keytool's -ext syntax and its automatic SubjectKeyIdentifier and
 * AuthorityKeyIdentifier; prints a certificate as keytool -printcert does;
 * computes fingerprints; reads certificates from DER, PEM and PKCS#7; and
 * writes PEM with keytool's exact bytes.
 *
 * keytool, the server's local certificate authority and the client's
 * certificate tools all use it, so what one makes the others read.
 *
 * Ownership: a returned pointer (EVP_PKEY *, X509 *, X509_NAME *, char *,
 * ...) is the caller's, to be released with the matching OpenSSL free
 * function or free(). Arguments are borrowed; where a function keeps an
 * object it takes its own reference. The library never prints: text comes
 * back as strings for the caller to write.
 */
#ifndef ATRIUM_X509_H
#define ATRIUM_X509_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atrium/err.h"

/* Largest text atr_x509_describe() and friends produce, in bytes. */
#define ATR_X509_MAX_TEXT (4u * 1024 * 1024)

/* How Java 17 rates an algorithm: fine, "(weak)" or "(disabled)". */
enum atr_x509_strength {
	ATR_X509_STRONG = 0,
	ATR_X509_WEAK,     /* jdk.security.legacyAlgorithms: SHA1, RSA/DSA < 2048 */
	ATR_X509_DISABLED, /* jdk.certpath.disabledAlgorithms: MD2, MD5, RSA < 1024, EC < 224 */
};

/* ---------------------------------------------------------------- keys */

/*
 * Generates a key pair as keytool -genkeypair does. keyalg is Java's name,
 * matched without regard to case: "RSA", "EC", "Ed25519" or "EdDSA" (the
 * same as Ed25519). keysize -1 means the default (RSA 2048, EC 256); for EC
 * it picks secp256r1, secp384r1 or secp521r1. group is -groupname
 * ("secp256r1", "secp384r1", "secp521r1", or their NIST/X9.62 aliases) and
 * may be NULL; giving both keysize and group is an error, as in keytool.
 * Returns a new key, or NULL with err set (ATR_E_USAGE for a bad name or
 * size).
 */
EVP_PKEY *atr_x509_key_generate(const char *keyalg, int keysize, const char *group,
    struct atr_err *err);

/* Java's KeyUtil.getKeySize(): RSA/DSA modulus bits, EC order bits,
 * 255 for Ed25519, 448 for Ed448; -1 when unknown. */
int atr_x509_key_bits(EVP_PKEY *key);

/*
 * Java's display name of a key's algorithm into buf: "RSA", "EC
 * (secp256r1)", "Ed25519", "DSA", "RSASSA-PSS". Returns 0, or -1 when buf
 * is too small.
 */
int atr_x509_key_algname(EVP_PKEY *key, char *buf, size_t len);

/* "2048-bit RSA key", "256-bit EC (secp256r1) key", with " (weak)" or
 * " (disabled)" appended when mark is non-zero and Java 17 rates it so. */
int atr_x509_key_describe(EVP_PKEY *key, int mark, char *buf, size_t len);

/* How Java 17 rates the key (its type and size). */
enum atr_x509_strength atr_x509_key_strength(EVP_PKEY *key);

/* keytool's default signature algorithm for a key: "SHA256withRSA" (up to
 * 3072 bits), "SHA384withRSA", "SHA256withECDSA" (P-256), "SHA384withECDSA",
 * "SHA512withECDSA", "Ed25519", "SHA256withDSA"; NULL for other keys. */
const char *atr_x509_default_sigalg(EVP_PKEY *key);

/* ---------------------------------------------------------------- names */

/*
 * Parses a distinguished name in Java's X500Name(String) syntax: RDNs
 * separated by ',' or ';', most specific first; '+' joins AVAs; keywords
 * CN C L S ST O OU T IP STREET DC DNQUALIFIER DNQ SURNAME GIVENNAME INITIALS
 * GENERATION EMAIL EMAILADDRESS UID SERIALNUMBER or OID.n.n / n.n; values
 * quoted, backslash-escaped, or #hex. Values are stored as Java stores
 * them: PrintableString when possible, else UTF8String; EMAIL and DC as
 * IA5String. The empty string gives an empty name. On a syntax error
 * returns NULL with err set to ATR_E_USAGE and Java's message.
 */
X509_NAME *atr_x509_name_parse(const char *dname, struct atr_err *err);

/*
 * Java's X500Name(cn, ou, o, l, st, c): the name keytool builds from its
 * interactive questions. No argument may be NULL.
 */
X509_NAME *atr_x509_name_from_parts(const char *cn, const char *ou, const char *o,
    const char *l, const char *st, const char *c, struct atr_err *err);

/*
 * The name as Java's X500Name.toString() prints it: RDNs most specific
 * first joined by ", ", AVAs joined by " + ", keywords as above, values
 * quoted when Java quotes them, non-string values as #hex. UTF-8, new
 * string; NULL when out of memory.
 */
char *atr_x509_name_format(const X509_NAME *name);

/* ------------------------------------------------------- certificates */

/*
 * Parses keytool's -startdate: "+1y-2m+3d+4H-5M+6S" relative to now_ms, or
 * "yyyy/mm/dd HH:MM:SS", "yyyy/mm/dd", "HH:MM:SS" in the local time zone
 * (missing parts taken from now). NULL means now. Sets *out_s to seconds
 * since the epoch. Bad input: ATR_E_USAGE "Illegal startdate value".
 */
int atr_x509_parse_startdate(const char *s, int64_t now_ms, int64_t *out_s,
    struct atr_err *err);

/* A certificate being made; see atr_x509_builder_sign(). */
struct atr_x509_builder;

/*
 * A new builder with keytool's defaults: version 3, a random positive
 * 64-bit serial number, validity from now for 90 days, no extensions but
 * the SubjectKeyIdentifier that is always added.
 */
struct atr_x509_builder *atr_x509_builder_new(void);

/* Frees b. NULL-safe. */
void atr_x509_builder_free(struct atr_x509_builder *b);

/* The subject (copied); it is also the issuer unless one is set. */
int atr_x509_builder_set_subject(struct atr_x509_builder *b, const X509_NAME *subject,
    struct atr_err *err);

/* The certified public key (a reference is taken). */
int atr_x509_builder_set_pubkey(struct atr_x509_builder *b, EVP_PKEY *key, struct atr_err *err);

/*
 * The issuer's certificate (a reference is taken): its subject becomes the
 * issuer name and, unless it certifies the same public key, an
 * AuthorityKeyIdentifier is added from its SubjectKeyIdentifier (or from
 * its key when it has none), as keytool -gencert does.
 */
int atr_x509_builder_set_issuer(struct atr_x509_builder *b, X509 *issuer, struct atr_err *err);

/*
 * Validity from start_s (seconds since the epoch) for days days, as
 * keytool: the end is start + days * 86400 s. Fails with ATR_E_USAGE when
 * days is not positive ("Validity must be greater than zero"), with
 * ATR_E_CERT_VALIDITY when the end is after year 9999.
 */
int atr_x509_builder_set_validity(struct atr_x509_builder *b, int64_t start_s, int64_t days,
    struct atr_err *err);

/* A fixed serial number instead of a random one (copied). */
int atr_x509_builder_set_serial(struct atr_x509_builder *b, const ASN1_INTEGER *serial,
    struct atr_err *err);

/*
 * Checks one -ext value (see atr_x509_builder_add_ext()) without making
 * anything: 0, or -1 with err set to keytool's message. The code is
 * ATR_E_CERT_EXT_UNKNOWN for a name that is neither known nor an OID
 * ("Unknown extension type: SPEC"), ATR_E_CERT_NUMBER for a pathlen that is
 * not a number, ATR_E_USAGE for anything else wrong.
 */
int atr_x509_ext_check(const char *spec, struct atr_err *err);

/*
 * Adds one keytool -ext value: "SAN=dns:a,ip:1.2.3.4,email:..,uri:..,oid:..",
 * "IAN=...", "BC[:critical]=ca:true,pathlen:0" (or "bc", "bc=0"),
 * "KU[:c]=digitalSignature,keyCertSign,..", "EKU=serverAuth,clientAuth,..",
 * "SIA/AIA=ocsp:uri:..", "OID[:c]=hex", "honored=all,-ku,..". Names may be
 * abbreviated as keytool allows. A bad value fails here with keytool's
 * message ("honored=" is checked against the request when signing).
 */
int atr_x509_builder_add_ext(struct atr_x509_builder *b, const char *spec, struct atr_err *err);

/* Extensions requested in a PKCS#10 request, copied in for -ext honored=. */
int atr_x509_builder_set_requested(struct atr_x509_builder *b, const X509_REQ *req,
    struct atr_err *err);

/*
 * Takes the subject, the public key and the requested extensions (for
 * -ext honored=) from a PKCS#10 request, as keytool -gencert does. A later
 * atr_x509_builder_set_subject() overrides the subject (-dname).
 */
int atr_x509_builder_set_from_csr(struct atr_x509_builder *b, const X509_REQ *req,
    struct atr_err *err);

/*
 * Signs the certificate with signkey using sigalg (Java's name, e.g.
 * "SHA256withRSA", "SHA384withECDSA", "Ed25519"; NULL for the key's
 * default). Extensions are ordered by OID text as keytool orders them.
 * Returns a new certificate or NULL with err set: ATR_E_CERT_SIGALG for an
 * unknown sigalg ("NAME Signature not available"), ATR_E_CERT_SIGALG_KEY
 * for one that does not fit signkey.
 */
X509 *atr_x509_builder_sign(struct atr_x509_builder *b, EVP_PKEY *signkey, const char *sigalg,
    struct atr_err *err);

/*
 * A PKCS#10 request as keytool -certreq makes it: subject, public key of
 * key, an extensionRequest attribute holding a SubjectKeyIdentifier plus
 * the -ext values in ext_specs (n of them), signed with sigalg (NULL: the
 * key's default). Errors as for atr_x509_builder_sign() (checked first),
 * then as for atr_x509_ext_check() for the first bad -ext value.
 */
X509_REQ *atr_x509_csr_make(EVP_PKEY *key, const X509_NAME *subject, const char *sigalg,
    const char *const *ext_specs, size_t n, struct atr_err *err);

/*
 * Reads a request as keytool -gencert does: the base64 between a
 * "-----BEGIN ...REQUEST" line and an "-----END ...REQUEST" line; also raw
 * DER. Returns NULL with err set (ATR_E_CERT_INVALID) when it is not one.
 */
X509_REQ *atr_x509_csr_read(const unsigned char *buf, size_t len, struct atr_err *err);

/* Whether the request's signature verifies with its own key (1) or not (0). */
int atr_x509_csr_verify(X509_REQ *req);

/*
 * Reads every certificate in buf: one DER certificate, a DER or PEM PKCS#7
 * bundle, or any number of PEM blocks (other text is ignored). Returns a
 * stack (empty when buf holds no certificate and nothing else) or NULL with
 * err set to ATR_E_CERT_INVALID when the input cannot be parsed.
 */
STACK_OF(X509) *atr_x509_read_certs(const unsigned char *buf, size_t len, struct atr_err *err);

/*
 * keytool's PEM: "-----BEGIN <label>-----\n", base64 in 64-column lines
 * joined by "\r\n", "\n-----END <label>-----\n". Returns a new
 * NUL-terminated string and its length in *outlen (if given), or NULL when
 * out of memory.
 */
char *atr_x509_pem_encode(const unsigned char *der, size_t len, const char *label,
    size_t *outlen);

/* The certificate as keytool -exportcert -rfc writes it. */
char *atr_x509_cert_pem(X509 *cert, size_t *outlen);

/* The request as keytool -certreq writes it ("NEW CERTIFICATE REQUEST"). */
char *atr_x509_csr_pem(X509_REQ *req, size_t *outlen);

/* The DER encoding of cert in a new buffer (free()). Returns 0 or -1. */
int atr_x509_cert_der(X509 *cert, unsigned char **der, size_t *len);

/*
 * The digest of the DER certificate as upper-case hex pairs joined by ':'.
 * mdname is Java's name: "SHA-1", "SHA-256" (also "SHA-384", "SHA-512",
 * "MD5"). Writes to buf (at least 3 * digest size bytes). Returns 0 or -1.
 */
int atr_x509_fingerprint(X509 *cert, const char *mdname, char *buf, size_t len);

/* Java's getSigAlgName(): "SHA256withRSA", "SHA256withECDSA", "Ed25519", or
 * the OID for algorithms Java does not name. Returns 0 or -1. */
int atr_x509_sigalg_name(const X509 *cert, char *buf, size_t len);

/* The same for a certificate request's signature algorithm. */
int atr_x509_csr_sigalg_name(const X509_REQ *req, char *buf, size_t len);

/* How Java 17 rates the certificate's signature algorithm. */
enum atr_x509_strength atr_x509_sig_strength(const X509 *cert);

/* Flags for atr_x509_describe(). */
#define ATR_X509_DESCRIBE_TRUSTED 0x1 /* no "(weak)" on the signature algorithm */

/*
 * The certificate as keytool -printcert and -list -v print it: Owner,
 * Issuer, Serial number, Valid from/until (Date.toString() in the local
 * time zone), fingerprints, signature and key algorithms (marked "(weak)"
 * or "(disabled)" as Java marks them), version, then every extension in
 * Java's order and Java's toString() wording. Ends with a newline. Returns
 * a new string, or NULL with err set.
 */
char *atr_x509_describe(X509 *cert, unsigned flags, struct atr_err *err);

/*
 * A request as keytool -printcertreq prints it: "PKCS #10 Certificate
 * Request (Version 1.0)", subject, key, signature algorithm, then the
 * requested extensions under "Extension Request:". New string or NULL.
 */
char *atr_x509_describe_csr(X509_REQ *req, struct atr_err *err);

/* Java's Date.toString() of t in the local time zone:
 * "Wed Jan 01 00:00:00 UTC 2025". Returns 0 or -1. */
int atr_x509_format_date(int64_t t, char *buf, size_t len);

/* Whether cert is self-signed as keytool decides it: subject equals issuer
 * and the signature verifies with its own key. */
int atr_x509_self_signed(X509 *cert);

/* Whether cert's issuer is issuer's subject and its signature verifies
 * with issuer's public key (Java's KeyStoreUtil.signedBy()). */
int atr_x509_signed_by(X509 *cert, X509 *issuer);

/* Whether cert's signature verifies with key (names not compared). */
int atr_x509_verifies(X509 *cert, EVP_PKEY *key);

/* Whether two certificates are the same (same DER). */
int atr_x509_equal(const X509 *a, const X509 *b);

/* Whether two keys have the same public part. */
int atr_x509_key_equal(const EVP_PKEY *a, const EVP_PKEY *b);

/*
 * Connects to host:port (port 443 when absent; "[v6addr]:port" allowed)
 * over TLS without verifying anything and returns the certificate chain
 * the server sent, leaf first, as keytool -printcert -sslserver shows it.
 * timeout_ms bounds the connect and the handshake. NULL with err set
 * (ATR_E_NETWORK, ATR_E_TLS) on failure.
 */
STACK_OF(X509) *atr_x509_fetch_chain(const char *hostport, int timeout_ms, struct atr_err *err);

/*
 * The same over fd, a TCP socket the caller connected (and set time-outs
 * on: SO_RCVTIMEO, SO_SNDTIMEO) to host:port, for callers that decide
 * themselves which address may be reached. host is sent as SNI when it is
 * a name and both name the peer in errors. fd stays the caller's, open.
 */
STACK_OF(X509) *atr_x509_fetch_chain_fd(int fd, const char *host, const char *port,
    struct atr_err *err);

#endif
