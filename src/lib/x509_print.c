/*
 * A certificate as keytool prints it (Main.printX509Cert and the
 * toString() of sun.security.x509's extension classes): the wording,
 * order, indentation and blank lines are Java's, so that a listing made by
 * atrium equals one made by Java on the same file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atrium/x509.h"
#include "lib/x509_int.h"

/* ------------------------------------------------------------- dates */

int
atr_x509_format_date(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char zone[64];

	if (localtime_r(&tt, &tm) == NULL)
		return -1;
	if (strftime(zone, sizeof(zone), "%Z", &tm) == 0)
		snprintf(zone, sizeof(zone), "GMT");
	/* Date.toString(): "EEE MMM dd HH:mm:ss zzz yyyy" in English. */
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec"};
	int n = snprintf(buf, len, "%s %s %02d %02d:%02d:%02d %s %d", days[tm.tm_wday],
	    mons[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, zone,
	    tm.tm_year + 1900);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
asn1_time_secs(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static void
put_time(struct atr_x509buf *b, const ASN1_TIME *t)
{
	char s[96];
	int64_t secs;

	if (asn1_time_secs(t, &secs) == -1 || atr_x509_format_date(secs, s, sizeof(s)) == -1)
		atr_x509buf_put(b, "(invalid date)");
	else
		atr_x509buf_put(b, s);
}

/* ------------------------------------------------------ general names */

static void
put_oid(struct atr_x509buf *b, const ASN1_OBJECT *o)
{
	char s[256];

	if (atr_x509i_oid_text(o, s, sizeof(s)) == -1)
		b->failed = 1;
	else
		atr_x509buf_put(b, s);
}

static void
put_ia5(struct atr_x509buf *b, const ASN1_STRING *s)
{
	const unsigned char *p = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s);

	for (int i = 0; i < n; i++)
		atr_x509buf_put_utf8(b, p[i] < 0x80 ? p[i] : 0xfffd);
}

/* Java's InetAddress.getHostAddress() of an IPv4 or IPv6 address. */
static void
put_ip(struct atr_x509buf *b, const unsigned char *a, size_t n)
{
	if (n == 4) {
		atr_x509buf_printf(b, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		return;
	}
	/* An IPv4-mapped IPv6 address comes back as IPv4. */
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, mapped, 12) == 0) {
		atr_x509buf_printf(b, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
		return;
	}
	for (int i = 0; i < 8; i++)
		atr_x509buf_printf(b, "%s%x", i ? ":" : "",
		    (unsigned)((a[2 * i] << 8) | a[2 * i + 1]));
}

static void put_general_name(struct atr_x509buf *b, const GENERAL_NAME *gn);

/* Java's List.toString() of GeneralNames: "[a, b]". */
static void
put_general_names(struct atr_x509buf *b, const GENERAL_NAMES *gns)
{
	atr_x509buf_putc(b, '[');
	for (int i = 0; i < sk_GENERAL_NAME_num(gns); i++) {
		if (i > 0)
			atr_x509buf_put(b, ", ");
		put_general_name(b, sk_GENERAL_NAME_value(gns, i));
	}
	atr_x509buf_putc(b, ']');
}

static void
put_general_name(struct atr_x509buf *b, const GENERAL_NAME *gn)
{
	char *dn;

	switch (gn->type) {
	case GEN_OTHERNAME:
		atr_x509buf_put(b, "Other-Name: Unrecognized ObjectIdentifier: ");
		put_oid(b, gn->d.otherName->type_id);
		break;
	case GEN_EMAIL:
		atr_x509buf_put(b, "RFC822Name: ");
		put_ia5(b, gn->d.rfc822Name);
		break;
	case GEN_DNS:
		atr_x509buf_put(b, "DNSName: ");
		put_ia5(b, gn->d.dNSName);
		break;
	case GEN_X400:
		atr_x509buf_put(b, "X400Address: <DER-encoded value>");
		break;
	case GEN_DIRNAME:
		if ((dn = atr_x509_name_format(gn->d.directoryName)) == NULL) {
			b->failed = 1;
			break;
		}
		atr_x509buf_put(b, dn);
		free(dn);
		break;
	case GEN_EDIPARTY:
		atr_x509buf_put(b, "EDIPartyName: ");
		if (gn->d.ediPartyName->nameAssigner != NULL) {
			atr_x509buf_put(b, "  nameAssigner = ");
			put_ia5(b, gn->d.ediPartyName->nameAssigner);
			atr_x509buf_putc(b, ',');
		}
		atr_x509buf_put(b, "  partyName = ");
		if (gn->d.ediPartyName->partyName != NULL)
			put_ia5(b, gn->d.ediPartyName->partyName);
		break;
	case GEN_URI:
		atr_x509buf_put(b, "URIName: ");
		put_ia5(b, gn->d.uniformResourceIdentifier);
		break;
	case GEN_IPADD: {
		const unsigned char *a = ASN1_STRING_get0_data(gn->d.iPAddress);
		int n = ASN1_STRING_length(gn->d.iPAddress);

		atr_x509buf_put(b, "IPAddress: ");
		if (n == 4 || n == 16) {
			put_ip(b, a, (size_t)n);
		} else if (n == 8 || n == 32) {
			put_ip(b, a, (size_t)n / 2);
			atr_x509buf_putc(b, '/');
			if (n == 8) {
				put_ip(b, a + 4, 4);
			} else {
				int bits = 0;
				for (int i = 16; i < 32; i++)
					for (int k = 7; k >= 0; k--) {
						if (!(a[i] >> k & 1))
							goto done;
						bits++;
					}
done:
				atr_x509buf_printf(b, "%d", bits);
			}
		} else {
			atr_x509i_hexdump(b, a, (size_t)n);
		}
		break;
	}
	case GEN_RID:
		atr_x509buf_put(b, "OIDName: ");
		put_oid(b, gn->d.registeredID);
		break;
	default:
		b->failed = 1;
		break;
	}
}

/* --------------------------------------------------------- extensions */

/* Java's KeyIdentifier.toString(). */
static void
put_keyid(struct atr_x509buf *b, const ASN1_OCTET_STRING *id)
{
	atr_x509buf_put(b, "KeyIdentifier [\n");
	atr_x509i_hexdump(b, ASN1_STRING_get0_data(id), (size_t)ASN1_STRING_length(id));
	atr_x509buf_put(b, "]\n");
}

static int
bit_set(const ASN1_BIT_STRING *bits, int n)
{
	return ASN1_BIT_STRING_get_bit(bits, n);
}

/* Each printer appends the text after the "ObjectId: ..." line, or
 * returns -1 when the value does not parse (Java: unparseable). */
typedef int (*ext_printer)(struct atr_x509buf *b, const unsigned char *p, long n);

/* d2i with the whole value consumed, or NULL. */
#define PARSE_ALL(type, var, p, n)                                              \
	do {                                                                    \
		const unsigned char *q_ = (p);                                  \
		var = d2i_##type(NULL, &q_, (n));                               \
		if (var != NULL && q_ != (p) + (n)) {                           \
			type##_free(var);                                       \
			var = NULL;                                             \
		}                                                               \
	} while (0)

static int
print_altname(struct atr_x509buf *b, const unsigned char *p, long n, const char *title)
{
	GENERAL_NAMES *gns;

	PARSE_ALL(GENERAL_NAMES, gns, p, n);
	if (gns == NULL)
		return -1;
	atr_x509buf_printf(b, "%s [\n", title);
	for (int i = 0; i < sk_GENERAL_NAME_num(gns); i++) {
		atr_x509buf_put(b, "  ");
		put_general_name(b, sk_GENERAL_NAME_value(gns, i));
		atr_x509buf_putc(b, '\n');
	}
	atr_x509buf_put(b, "]\n");
	GENERAL_NAMES_free(gns);
	return 0;
}

static int
print_san(struct atr_x509buf *b, const unsigned char *p, long n)
{
	return print_altname(b, p, n, "SubjectAlternativeName");
}

static int
print_ian(struct atr_x509buf *b, const unsigned char *p, long n)
{
	return print_altname(b, p, n, "IssuerAlternativeName");
}

static int
print_ski(struct atr_x509buf *b, const unsigned char *p, long n)
{
	ASN1_OCTET_STRING *id;

	PARSE_ALL(ASN1_OCTET_STRING, id, p, n);
	if (id == NULL)
		return -1;
	atr_x509buf_put(b, "SubjectKeyIdentifier [\n");
	put_keyid(b, id);
	atr_x509buf_put(b, "]\n");
	ASN1_OCTET_STRING_free(id);
	return 0;
}

static int
print_aki(struct atr_x509buf *b, const unsigned char *p, long n)
{
	AUTHORITY_KEYID *aki;

	PARSE_ALL(AUTHORITY_KEYID, aki, p, n);
	if (aki == NULL)
		return -1;
	atr_x509buf_put(b, "AuthorityKeyIdentifier [\n");
	if (aki->keyid != NULL)
		put_keyid(b, aki->keyid);
	if (aki->issuer != NULL) {
		put_general_names(b, aki->issuer);
		atr_x509buf_putc(b, '\n');
	}
	if (aki->serial != NULL) {
		/* Debug.toString(BigInteger.toByteArray()): the two's complement
		 * bytes, which are the content octets of the DER INTEGER. */
		unsigned char *der = NULL, *p2;
		int len = i2d_ASN1_INTEGER(aki->serial, &der);
		long clen;
		int tag, cls;
		const unsigned char *q = der;

		if (len <= 0 || (ASN1_get_object(&q, &clen, &tag, &cls, len) & 0x80)) {
			OPENSSL_free(der);
			AUTHORITY_KEYID_free(aki);
			return -1;
		}
		p2 = (unsigned char *)q;
		atr_x509buf_put(b, "SerialNumber: ");
		for (long i = 0; i < clen; i++)
			atr_x509buf_printf(b, "%s%02x", i ? ":" : "", p2[i]);
		atr_x509buf_putc(b, '\n');
		OPENSSL_free(der);
	}
	atr_x509buf_put(b, "]\n");
	AUTHORITY_KEYID_free(aki);
	return 0;
}

static int
print_bc(struct atr_x509buf *b, const unsigned char *p, long n)
{
	BASIC_CONSTRAINTS *bc;
	int64_t pathlen;
	long path = -1;

	PARSE_ALL(BASIC_CONSTRAINTS, bc, p, n);
	if (bc == NULL)
		return -1;
	if (bc->ca) {
		if (bc->pathlen == NULL)
			path = -2;
		else if (ASN1_INTEGER_get_int64(&pathlen, bc->pathlen) == 1 && pathlen >= 0)
			path = (long)pathlen;
	}
	atr_x509buf_printf(b, "BasicConstraints:[\n  CA:%s\n  PathLen:", bc->ca ? "true" : "false");
	if (path == -2)
		atr_x509buf_put(b, " no limit");
	else if (path < 0)
		atr_x509buf_put(b, " undefined");
	else
		atr_x509buf_printf(b, "%ld", path);
	atr_x509buf_put(b, "\n]\n");
	BASIC_CONSTRAINTS_free(bc);
	return 0;
}

static int
print_ku(struct atr_x509buf *b, const unsigned char *p, long n)
{
	static const char *const names[] = {"DigitalSignature", "Non_repudiation",
	    "Key_Encipherment", "Data_Encipherment", "Key_Agreement", "Key_CertSign",
	    "Crl_Sign", "Encipher_Only", "Decipher_Only"};
	ASN1_BIT_STRING *bits;

	PARSE_ALL(ASN1_BIT_STRING, bits, p, n);
	if (bits == NULL)
		return -1;
	atr_x509buf_put(b, "KeyUsage [\n");
	for (int i = 0; i < 9; i++)
		if (bit_set(bits, i))
			atr_x509buf_printf(b, "  %s\n", names[i]);
	atr_x509buf_put(b, "]\n");
	ASN1_BIT_STRING_free(bits);
	return 0;
}

static int
print_nscerttype(struct atr_x509buf *b, const unsigned char *p, long n)
{
	static const char *const names[] = {"   SSL client\n", "   SSL server\n", "   S/MIME\n",
	    "   Object Signing\n", NULL, "   SSL CA\n", "   S/MIME CA\n", "   Object Signing CA"};
	ASN1_BIT_STRING *bits;

	PARSE_ALL(ASN1_BIT_STRING, bits, p, n);
	if (bits == NULL)
		return -1;
	atr_x509buf_put(b, "NetscapeCertType [\n");
	for (int i = 0; i < 8; i++)
		if (names[i] != NULL && bit_set(bits, i))
			atr_x509buf_put(b, names[i]);
	atr_x509buf_put(b, "]\n");
	ASN1_BIT_STRING_free(bits);
	return 0;
}

/* Java's KnownOIDs names that EKU values print as. */
static const struct {
	const char *oid, *name;
} eku_names[] = {
	{"2.5.29.37.0", "anyExtendedKeyUsage"},
	{"1.3.6.1.5.5.7.3.1", "serverAuth"},
	{"1.3.6.1.5.5.7.3.2", "clientAuth"},
	{"1.3.6.1.5.5.7.3.3", "codeSigning"},
	{"1.3.6.1.5.5.7.3.4", "emailProtection"},
	{"1.3.6.1.5.5.7.3.5", "ipsecEndSystem"},
	{"1.3.6.1.5.5.7.3.6", "ipsecTunnel"},
	{"1.3.6.1.5.5.7.3.7", "ipsecUser"},
	{"1.3.6.1.5.5.7.3.8", "timeStamping"},
	{"1.3.6.1.5.5.7.3.9", "OCSPSigning"},
	{"2.16.840.1.113730.4.1", "NETSCAPE_ExportApproved"},
	{"1.3.6.1.4.1.311.10.3.3", "MICROSOFT_ExportApproved"},
};

static int
print_eku(struct atr_x509buf *b, const unsigned char *p, long n)
{
	EXTENDED_KEY_USAGE *eku;

	PARSE_ALL(EXTENDED_KEY_USAGE, eku, p, n);
	if (eku == NULL)
		return -1;
	atr_x509buf_put(b, "ExtendedKeyUsages [\n  ");
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		char oid[256];
		const char *name = NULL;

		if (i > 0)
			atr_x509buf_put(b, "\n  ");
		if (atr_x509i_oid_text(sk_ASN1_OBJECT_value(eku, i), oid, sizeof(oid)) == -1) {
			b->failed = 1;
			break;
		}
		for (size_t k = 0; k < sizeof(eku_names) / sizeof(eku_names[0]); k++)
			if (strcmp(oid, eku_names[k].oid) == 0)
				name = eku_names[k].name;
		atr_x509buf_put(b, name ? name : oid);
	}
	atr_x509buf_put(b, "\n]\n");
	EXTENDED_KEY_USAGE_free(eku);
	return 0;
}

static int
print_info_access(struct atr_x509buf *b, const unsigned char *p, long n, const char *title)
{
	AUTHORITY_INFO_ACCESS *aia;

	PARSE_ALL(AUTHORITY_INFO_ACCESS, aia, p, n);
	if (aia == NULL)
		return -1;
	atr_x509buf_printf(b, "%s [\n  [", title);
	for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		char oid[256];
		const char *method = NULL;

		if (i > 0)
			atr_x509buf_put(b, ", ");
		if (atr_x509i_oid_text(ad->method, oid, sizeof(oid)) == -1) {
			b->failed = 1;
			break;
		}
		if (strcmp(oid, "1.3.6.1.5.5.7.48.2") == 0)
			method = "caIssuers";
		else if (strcmp(oid, "1.3.6.1.5.5.7.48.5") == 0)
			method = "caRepository";
		else if (strcmp(oid, "1.3.6.1.5.5.7.48.3") == 0)
			method = "timeStamping";
		else if (strcmp(oid, "1.3.6.1.5.5.7.48.1") == 0)
			method = "ocsp";
		atr_x509buf_printf(b, "\n   accessMethod: %s\n   accessLocation: ",
		    method ? method : oid);
		put_general_name(b, ad->location);
		atr_x509buf_putc(b, '\n');
	}
	atr_x509buf_put(b, "]\n]\n");
	AUTHORITY_INFO_ACCESS_free(aia);
	return 0;
}

static int
print_aia(struct atr_x509buf *b, const unsigned char *p, long n)
{
	return print_info_access(b, p, n, "AuthorityInfoAccess");
}

static int
print_sia(struct atr_x509buf *b, const unsigned char *p, long n)
{
	return print_info_access(b, p, n, "SubjectInfoAccess");
}

static void
put_rdn_name(struct atr_x509buf *b, const STACK_OF(X509_NAME_ENTRY) *rdn)
{
	X509_NAME *tmp = X509_NAME_new();
	char *s;

	for (int i = 0; tmp != NULL && i < sk_X509_NAME_ENTRY_num(rdn); i++)
		X509_NAME_add_entry(tmp, sk_X509_NAME_ENTRY_value(rdn, i), -1, i ? -1 : 0);
	if (tmp == NULL || (s = atr_x509_name_format(tmp)) == NULL) {
		b->failed = 1;
	} else {
		atr_x509buf_put(b, s);
		free(s);
	}
	X509_NAME_free(tmp);
}

static int
print_crldp(struct atr_x509buf *b, const unsigned char *p, long n, const char *title)
{
	static const char *const reasons[] = {"Unknown reason 0", "key compromise",
	    "CA compromise", "affiliation changed", "superseded", "cessation of operation",
	    "certificate hold", "privilege withdrawn", "AA compromise"};
	CRL_DIST_POINTS *dps;

	PARSE_ALL(CRL_DIST_POINTS, dps, p, n);
	if (dps == NULL)
		return -1;
	atr_x509buf_printf(b, "%s [\n  [", title);
	for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (i > 0)
			atr_x509buf_put(b, ", ");
		atr_x509buf_put(b, "DistributionPoint:\n     ");
		if (dp->distpoint != NULL && dp->distpoint->type == 0)
			put_general_names(b, dp->distpoint->name.fullname);
		else if (dp->distpoint != NULL)
			put_rdn_name(b, dp->distpoint->name.relativename);
		atr_x509buf_putc(b, '\n');
		if (dp->reasons != NULL) {
			atr_x509buf_put(b, "   ReasonFlags:\n");
			for (int k = 0; k < 9; k++)
				if (bit_set(dp->reasons, k))
					atr_x509buf_printf(b, "    %s\n", reasons[k]);
		}
		if (dp->CRLissuer != NULL) {
			atr_x509buf_put(b, "   CRLIssuer:");
			put_general_names(b, dp->CRLissuer);
			atr_x509buf_putc(b, '\n');
		}
	}
	atr_x509buf_put(b, "]]\n");
	CRL_DIST_POINTS_free(dps);
	return 0;
}

static int
print_crldp_std(struct atr_x509buf *b, const unsigned char *p, long n)
{
	return print_crldp(b, p, n, "CRLDistributionPoints");
}

static int
print_freshest(struct atr_x509buf *b, const unsigned char *p, long n)
{
	return print_crldp(b, p, n, "FreshestCRL");
}

/* The DER of one policy qualifier's value, for Java's hex dump. */
static int
qualifier_der(const POLICYQUALINFO *q, unsigned char **der)
{
	switch (OBJ_obj2nid(q->pqualid)) {
	case NID_id_qt_cps:
		return i2d_ASN1_IA5STRING(q->d.cpsuri, der);
	case NID_id_qt_unotice:
		return i2d_USERNOTICE(q->d.usernotice, der);
	default:
		return i2d_ASN1_TYPE(q->d.other, der);
	}
}

static int
print_policies(struct atr_x509buf *b, const unsigned char *p, long n)
{
	CERTIFICATEPOLICIES *pols;

	PARSE_ALL(CERTIFICATEPOLICIES, pols, p, n);
	if (pols == NULL)
		return -1;
	atr_x509buf_put(b, "CertificatePolicies [\n");
	for (int i = 0; i < sk_POLICYINFO_num(pols); i++) {
		POLICYINFO *pi = sk_POLICYINFO_value(pols, i);

		atr_x509buf_put(b, "  [CertificatePolicyId: [");
		put_oid(b, pi->policyid);
		atr_x509buf_put(b, "]\n[");
		for (int k = 0; k < sk_POLICYQUALINFO_num(pi->qualifiers); k++) {
			POLICYQUALINFO *q = sk_POLICYQUALINFO_value(pi->qualifiers, k);
			unsigned char *der = NULL;
			int len;

			if (k > 0)
				atr_x509buf_put(b, ", ");
			atr_x509buf_put(b, "PolicyQualifierInfo: [\n  qualifierID: ");
			put_oid(b, q->pqualid);
			atr_x509buf_put(b, "\n  qualifier: ");
			if ((len = qualifier_der(q, &der)) > 0)
				atr_x509i_hexdump(b, der, (size_t)len);
			else
				atr_x509buf_put(b, "null");
			OPENSSL_free(der);
			atr_x509buf_put(b, "\n]");
		}
		atr_x509buf_put(b, "]  ]\n");
	}
	atr_x509buf_put(b, "]\n");
	CERTIFICATEPOLICIES_free(pols);
	return 0;
}

static void
put_subtrees(struct atr_x509buf *b, const STACK_OF(GENERAL_SUBTREE) *trees)
{
	atr_x509buf_put(b, "   GeneralSubtrees:\n[");
	for (int i = 0; i < sk_GENERAL_SUBTREE_num(trees); i++) {
		GENERAL_SUBTREE *t = sk_GENERAL_SUBTREE_value(trees, i);

		if (i > 0)
			atr_x509buf_put(b, ", ");
		atr_x509buf_put(b, "\n   GeneralSubtree: [\n    GeneralName: ");
		put_general_name(b, t->base);
		atr_x509buf_printf(b, "\n    Minimum: %ld\n    Maximum: ",
		    t->minimum ? ASN1_INTEGER_get(t->minimum) : 0L);
		if (t->maximum == NULL)
			atr_x509buf_put(b, "undefined");
		else
			atr_x509buf_printf(b, "%ld", ASN1_INTEGER_get(t->maximum));
		atr_x509buf_put(b, "    ]\n");
	}
	atr_x509buf_put(b, "]\n");
}

static int
print_name_constraints(struct atr_x509buf *b, const unsigned char *p, long n)
{
	NAME_CONSTRAINTS *nc;
	const unsigned char *q = p;

	nc = (NAME_CONSTRAINTS *)ASN1_item_d2i(NULL, &q, n, ASN1_ITEM_rptr(NAME_CONSTRAINTS));
	if (nc == NULL || q != p + n) {
		NAME_CONSTRAINTS_free(nc);
		return -1;
	}
	atr_x509buf_put(b, "NameConstraints: [");
	if (nc->permittedSubtrees != NULL) {
		atr_x509buf_put(b, "\n    Permitted:");
		put_subtrees(b, nc->permittedSubtrees);
	}
	if (nc->excludedSubtrees != NULL) {
		atr_x509buf_put(b, "\n    Excluded:");
		put_subtrees(b, nc->excludedSubtrees);
	}
	atr_x509buf_put(b, "   ]\n");
	NAME_CONSTRAINTS_free(nc);
	return 0;
}

static int
print_policy_constraints(struct atr_x509buf *b, const unsigned char *p, long n)
{
	POLICY_CONSTRAINTS *pc;
	const unsigned char *q = p;

	pc = (POLICY_CONSTRAINTS *)ASN1_item_d2i(NULL, &q, n, ASN1_ITEM_rptr(POLICY_CONSTRAINTS));
	if (pc == NULL || q != p + n) {
		POLICY_CONSTRAINTS_free(pc);
		return -1;
	}
	atr_x509buf_put(b, "PolicyConstraints: [  Require: ");
	if (pc->requireExplicitPolicy == NULL)
		atr_x509buf_put(b, "unspecified;");
	else
		atr_x509buf_printf(b, "%ld;", ASN1_INTEGER_get(pc->requireExplicitPolicy));
	atr_x509buf_put(b, "\tInhibit: ");
	if (pc->inhibitPolicyMapping == NULL)
		atr_x509buf_put(b, "unspecified");
	else
		atr_x509buf_printf(b, "%ld", ASN1_INTEGER_get(pc->inhibitPolicyMapping));
	atr_x509buf_put(b, " ]\n");
	POLICY_CONSTRAINTS_free(pc);
	return 0;
}

static int
print_inhibit(struct atr_x509buf *b, const unsigned char *p, long n)
{
	ASN1_INTEGER *i;

	PARSE_ALL(ASN1_INTEGER, i, p, n);
	if (i == NULL)
		return -1;
	atr_x509buf_printf(b, "InhibitAnyPolicy: %ld\n", ASN1_INTEGER_get(i));
	ASN1_INTEGER_free(i);
	return 0;
}

static int
print_pkey_usage(struct atr_x509buf *b, const unsigned char *p, long n)
{
	PKEY_USAGE_PERIOD *u;

	PARSE_ALL(PKEY_USAGE_PERIOD, u, p, n);
	if (u == NULL)
		return -1;
	atr_x509buf_put(b, "PrivateKeyUsage: [\n");
	if (u->notBefore != NULL) {
		atr_x509buf_put(b, "From: ");
		put_time(b, u->notBefore);
		if (u->notAfter != NULL)
			atr_x509buf_put(b, ", ");
	}
	if (u->notAfter != NULL) {
		atr_x509buf_put(b, "To: ");
		put_time(b, u->notAfter);
	}
	atr_x509buf_put(b, "]\n");
	PKEY_USAGE_PERIOD_free(u);
	return 0;
}

static int
print_policy_mappings(struct atr_x509buf *b, const unsigned char *p, long n)
{
	POLICY_MAPPINGS *maps;
	const unsigned char *q = p;

	maps = (POLICY_MAPPINGS *)ASN1_item_d2i(NULL, &q, n, ASN1_ITEM_rptr(POLICY_MAPPINGS));
	if (maps == NULL || q != p + n) {
		sk_POLICY_MAPPING_pop_free(maps, POLICY_MAPPING_free);
		return -1;
	}
	atr_x509buf_put(b, "PolicyMappings [\n[");
	for (int i = 0; i < sk_POLICY_MAPPING_num(maps); i++) {
		POLICY_MAPPING *m = sk_POLICY_MAPPING_value(maps, i);

		if (i > 0)
			atr_x509buf_put(b, ", ");
		atr_x509buf_put(b, "CertificatePolicyMap: [\nIssuerDomain:CertificatePolicyId: [");
		put_oid(b, m->issuerDomainPolicy);
		atr_x509buf_put(b, "]\nSubjectDomain:CertificatePolicyId: [");
		put_oid(b, m->subjectDomainPolicy);
		atr_x509buf_put(b, "]\n]\n");
	}
	atr_x509buf_put(b, "]]\n");
	sk_POLICY_MAPPING_pop_free(maps, POLICY_MAPPING_free);
	return 0;
}

static int
print_nothing(struct atr_x509buf *b, const unsigned char *p, long n)
{
	(void)b;
	(void)p;
	(void)n;
	return 0;
}

/* The extensions Java parses into classes (OIDMap), with the names that
 * order them (CertificateExtensions keeps a TreeMap by name). */
static const struct ext_kind {
	const char *oid;
	const char *name;
	ext_printer print;
} ext_kinds[] = {
	{"2.5.29.14", "SubjectKeyIdentifier", print_ski},
	{"2.5.29.15", "KeyUsage", print_ku},
	{"2.5.29.16", "PrivateKeyUsage", print_pkey_usage},
	{"2.5.29.17", "SubjectAlternativeName", print_san},
	{"2.5.29.18", "IssuerAlternativeName", print_ian},
	{"2.5.29.19", "BasicConstraints", print_bc},
	{"2.5.29.30", "NameConstraints", print_name_constraints},
	{"2.5.29.33", "PolicyMappings", print_policy_mappings},
	{"2.5.29.35", "AuthorityKeyIdentifier", print_aki},
	{"2.5.29.36", "PolicyConstraints", print_policy_constraints},
	{"2.16.840.1.113730.1.1", "NetscapeCertType", print_nscerttype},
	{"2.5.29.32", "CertificatePolicies", print_policies},
	{"2.5.29.37", "ExtendedKeyUsage", print_eku},
	{"2.5.29.54", "InhibitAnyPolicy", print_inhibit},
	{"2.5.29.31", "CRLDistributionPoints", print_crldp_std},
	{"2.5.29.46", "FreshestCRL", print_freshest},
	{"1.3.6.1.5.5.7.1.11", "SubjectInfoAccess", print_sia},
	{"1.3.6.1.5.5.7.1.1", "AuthorityInfoAccess", print_aia},
	{"1.3.6.1.5.5.7.48.1.5", "OCSPNoCheck", print_nothing},
};

/* One extension, rendered, with the key Java sorts it by. */
struct ext_text {
	char key[256];
	int unparseable;
	char *text;
};

static int
ext_cmp(const void *a, const void *b)
{
	const struct ext_text *x = a, *y = b;

	if (x->unparseable != y->unparseable)
		return x->unparseable - y->unparseable;
	return strcmp(x->key, y->key);
}

static int
render_ext(X509_EXTENSION *ext, struct ext_text *out)
{
	struct atr_x509buf b = {0};
	const ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(ext);
	const unsigned char *p = ASN1_STRING_get0_data(val);
	long n = ASN1_STRING_length(val);
	const struct ext_kind *kind = NULL;
	char oid[256];
	int crit = X509_EXTENSION_get_critical(ext) > 0;
	size_t mark;

	if (atr_x509i_oid_text(X509_EXTENSION_get_object(ext), oid, sizeof(oid)) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(ext_kinds) / sizeof(ext_kinds[0]); i++)
		if (strcmp(oid, ext_kinds[i].oid) == 0)
			kind = &ext_kinds[i];
	snprintf(out->key, sizeof(out->key), "%s", kind ? kind->name : oid);
	out->unparseable = 0;
	atr_x509buf_printf(&b, "ObjectId: %s Criticality=%s\n", oid, crit ? "true" : "false");
	mark = b.len;
	if (kind == NULL) {
		/* A bare Extension: keytool adds a hex dump and a newline. */
		if (n == 0)
			atr_x509buf_put(&b, "(Empty value)\n");
		else {
			atr_x509i_hexdump(&b, p, (size_t)n);
			atr_x509buf_putc(&b, '\n');
		}
	} else if ((strcmp(oid, "2.5.29.54") == 0 && !crit) || kind->print(&b, p, n) == -1) {
		/* Java keeps a non-critical extension it cannot parse aside. */
		b.len = mark;
		if (b.p != NULL)
			b.p[mark] = '\0';
		b.failed = 0;
		snprintf(out->key, sizeof(out->key), "%s", oid);
		out->unparseable = 1;
		atr_x509buf_printf(&b, "Unparseable %s extension due to\n%s\n\n", kind->name,
		    strcmp(oid, "2.5.29.54") == 0 && !crit ?
		    "java.io.IOException: Criticality cannot be false for InhibitAnyPolicy" :
		    "java.io.IOException: Invalid encoding");
		atr_x509i_hexdump(&b, p, (size_t)n);
	}
	ERR_clear_error();
	if ((out->text = atr_x509buf_take(&b)) == NULL)
		return -1;
	return 0;
}

/* Java's Main.printExtensions(): nothing for an empty list. */
static void
put_extensions(struct atr_x509buf *b, const STACK_OF(X509_EXTENSION) *list, const char *title)
{
	int count = sk_X509_EXTENSION_num(list);
	struct ext_text *exts;

	if (count <= 0)
		return;
	if ((exts = calloc((size_t)count, sizeof(*exts))) == NULL) {
		b->failed = 1;
		return;
	}
	for (int i = 0; i < count; i++)
		if (render_ext(sk_X509_EXTENSION_value(list, i), &exts[i]) == -1)
			b->failed = 1;
	if (!b->failed) {
		qsort(exts, (size_t)count, sizeof(*exts), ext_cmp);
		atr_x509buf_printf(b, "\n%s\n\n", title);
		for (int i = 0; i < count; i++)
			atr_x509buf_printf(b, "#%d: %s\n", i + 1, exts[i].text);
	}
	for (int i = 0; i < count; i++)
		free(exts[i].text);
	free(exts);
}

/* BigInteger.toString(16) of the serial number. */
static void
put_serial(struct atr_x509buf *b, const X509 *cert)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(cert);
	BIGNUM *bn = ASN1_INTEGER_to_BN(s, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL, *p;

	if (hex == NULL) {
		b->failed = 1;
		BN_free(bn);
		return;
	}
	p = hex;
	if (*p == '-') {
		atr_x509buf_putc(b, '-');
		p++;
	}
	while (p[0] == '0' && p[1] != '\0')
		p++;
	for (; *p; p++)
		atr_x509buf_putc(b, (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p));
	OPENSSL_free(hex);
	BN_free(bn);
}

char *
atr_x509_describe(X509 *cert, unsigned flags, struct atr_err *err)
{
	static const char *const marks[] = {"", " (weak)", " (disabled)"};
	struct atr_x509buf b = {0};
	char *subject = NULL, *issuer = NULL, *text;
	char fp1[128], fp256[128], sig[128], key[160];
	EVP_PKEY *pkey = X509_get0_pubkey(cert);
	enum atr_x509_strength s = ATR_X509_STRONG;

	ERR_clear_error();
	subject = atr_x509_name_format(X509_get_subject_name(cert));
	issuer = atr_x509_name_format(X509_get_issuer_name(cert));
	if (subject == NULL || issuer == NULL)
		goto nomem;
	if (atr_x509_fingerprint(cert, "SHA-1", fp1, sizeof(fp1)) == -1 ||
	    atr_x509_fingerprint(cert, "SHA-256", fp256, sizeof(fp256)) == -1 ||
	    atr_x509_sigalg_name(cert, sig, sizeof(sig)) == -1)
		goto bad;
	if (pkey == NULL)
		snprintf(key, sizeof(key), "unknown key");
	else if (atr_x509_key_describe(pkey, 1, key, sizeof(key)) == -1)
		goto bad;
	if (!(flags & ATR_X509_DESCRIBE_TRUSTED))
		s = atr_x509_sig_strength(cert);
	atr_x509buf_printf(&b, "Owner: %s\nIssuer: %s\nSerial number: ", subject, issuer);
	put_serial(&b, cert);
	atr_x509buf_put(&b, "\nValid from: ");
	put_time(&b, X509_get0_notBefore(cert));
	atr_x509buf_put(&b, " until: ");
	put_time(&b, X509_get0_notAfter(cert));
	atr_x509buf_printf(&b, "\nCertificate fingerprints:\n\t SHA1: %s\n\t SHA256: %s\n"
	    "Signature algorithm name: %s%s\nSubject Public Key Algorithm: %s\nVersion: %ld\n",
	    fp1, fp256, sig, marks[s], key, X509_get_version(cert) + 1);
	if (X509_get_version(cert) == X509_VERSION_3)
		put_extensions(&b, X509_get0_extensions(cert), "Extensions: ");
	free(subject);
	free(issuer);
	if ((text = atr_x509buf_take(&b)) == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
	ERR_clear_error();
	return text;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
	goto out;
bad:
	atr_err_set(err, ATR_E_CERT_INVALID, "the certificate cannot be printed");
out:
	free(subject);
	free(issuer);
	atr_x509buf_free(&b);
	ERR_clear_error();
	return NULL;
}

char *
atr_x509_describe_csr(X509_REQ *req, struct atr_err *err)
{
	static const char *const marks[] = {"", " (weak)", " (disabled)"};
	struct atr_x509buf b = {0};
	STACK_OF(X509_EXTENSION) *exts;
	EVP_PKEY *pkey = X509_REQ_get0_pubkey(req);
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	char *subject, key[160], oid[128], *text;
	const char *sig = NULL;
	enum atr_x509_strength s = ATR_X509_STRONG;

	ERR_clear_error();
	X509_REQ_get0_signature(req, NULL, &alg);
	if (alg != NULL)
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
	if (obj == NULL || atr_x509i_oid_text(obj, oid, sizeof(oid)) == -1 || pkey == NULL ||
	    atr_x509_key_describe(pkey, 1, key, sizeof(key)) == -1) {
		atr_err_set(err, ATR_E_CERT_INVALID, "the request cannot be printed");
		return NULL;
	}
	sig = atr_x509i_sigalg_oid_name(oid);
	if (sig == NULL)
		sig = oid;
	if (strncmp(sig, "MD2with", 7) == 0 || strncmp(sig, "MD5with", 7) == 0)
		s = ATR_X509_DISABLED;
	else if (strncmp(sig, "SHA1with", 8) == 0)
		s = ATR_X509_WEAK;
	if ((subject = atr_x509_name_format(X509_REQ_get_subject_name(req))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	atr_x509buf_printf(&b, "PKCS #10 Certificate Request (Version 1.0)\nSubject: %s\n"
	    "Format: X.509\nPublic Key: %s\nSignature algorithm: %s%s\n", subject, key, sig,
	    marks[s]);
	free(subject);
	exts = X509_REQ_get_extensions(req);
	put_extensions(&b, exts, "Extension Request:");
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	if ((text = atr_x509buf_take(&b)) == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
	return text;
}
