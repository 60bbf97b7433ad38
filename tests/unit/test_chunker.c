/* The content-defined chunker (chunker.c): boundaries that survive edits,
 * pinned output, any split of the input, size limits, tiny inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/chunker.h"

struct cut {
	uint64_t offset;
	size_t len;
	unsigned char hash[ATR_CHUNK_HASH_LEN];
};

struct cuts {
	struct cut *v;
	size_t n, cap;
};

static void
cuts_add(struct cuts *cs, const struct atr_chunk *ch, const unsigned char *input)
{
	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 64;
		cs->v = realloc(cs->v, cs->cap * sizeof(*cs->v));
		assert_non_null(cs->v);
	}
	/* The chunk's bytes are the input's bytes at its offset. */
	assert_memory_equal(ch->data, input + ch->offset, ch->len);
	cs->v[cs->n].offset = ch->offset;
	cs->v[cs->n].len = ch->len;
	memcpy(cs->v[cs->n].hash, ch->hash, ATR_CHUNK_HASH_LEN);
	cs->n++;
}

/*
 * Chunks input[0..len) fed in pieces: pieces[0], pieces[1], ... cycling
 * (NULL: all at once), with sizes min/avg/max (0: the defaults).
 */
static struct cuts
chunk_all(const unsigned char *input, size_t len, const size_t *pieces, size_t npieces,
    size_t min, size_t avg, size_t max)
{
	struct atr_chunker *c = atr_chunker_new();
	struct cuts cs = {0};
	struct atr_chunk ch;
	size_t off = 0, k = 0, expect = 0;

	assert_non_null(c);
	if (min != 0)
		assert_int_equal(atr_chunker_set_sizes(c, min, avg, max), 0);
	while (off < len) {
		size_t piece = pieces ? pieces[k++ % npieces] : len;
		size_t end = off + piece < len ? off + piece : len;
		while (off < end) {
			size_t used = 0;
			int r = atr_chunker_update(c, input + off, end - off, &used, &ch);
			assert_int_not_equal(r, -1);
			assert_true(used <= end - off);
			off += used;
			if (r == 1) {
				assert_int_equal(ch.offset, expect);
				expect += ch.len;
				cuts_add(&cs, &ch, input);
			} else {
				assert_int_equal(off, end);
				assert_int_equal(ch.len, 0);
			}
		}
	}
	if (atr_chunker_final(c, &ch) == 1) {
		assert_int_equal(ch.offset, expect);
		expect += ch.len;
		cuts_add(&cs, &ch, input);
	}
	assert_int_equal(expect, len);
	atr_chunker_free(c);
	return cs;
}

static uint64_t
rng(uint64_t *s)
{
	/* xorshift64*: the test's own fixed input, independent of the chunker */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/*
 * len bytes of XML like a model export: elements with ids, attributes,
 * text, in a fixed order from seed. The caller frees the buffer.
 */
static unsigned char *
make_xml(size_t len, uint64_t seed)
{
	static const char *kinds[] = {"uml:Class", "uml:Property", "uml:Association",
	    "uml:Operation", "sysml:Block", "sysml:Requirement"};
	static const char *words[] = {"shall", "the", "pump", "valve", "pressure", "sensor",
	    "controller", "within", "limit", "report", "state", "fault", "ms", "kPa"};
	unsigned char *b = malloc(len + 1024);
	size_t n = 0;
	uint64_t s = seed;

	assert_non_null(b);
	while (n < len) {
		uint64_t r = rng(&s);
		n += (size_t)snprintf((char *)b + n, 512,
		    "<packagedElement xmi:type=\"%s\" xmi:id=\"_%016llx\" name=\"E%llu\" "
		    "visibility=\"%s\">",
		    kinds[r % 6], (unsigned long long)rng(&s), (unsigned long long)(r >> 40),
		    (r & 64) ? "public" : "private");
		for (int w = (int)(r >> 8) % 12; w >= 0; w--)
			n += (size_t)snprintf((char *)b + n, 64, " %s", words[rng(&s) % 14]);
		n += (size_t)snprintf((char *)b + n, 64, "</packagedElement>\n");
	}
	return b;
}

static void
hex(const unsigned char *h, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* A fixed input's first boundaries and hashes, as this version cuts them.
 * A change of the gear table, the seed, the masks or the size rules fails
 * here: it must come with a new ATR_CHUNKER_VERSION. */
static void
test_pinned(void **state)
{
	static const struct {
		uint64_t offset;
		size_t len;
		const char *hash;
	} want[] = {
		{0, 22295, "419fd0399e6c8b2c3fa043f323b8de5cab7af290bb43445bf944322c252908d9"},
		{22295, 66080, "2460113fb28da7772c4052026409dbac7f0ff3f70eefb1328447906ec328a7c3"},
		{88375, 79984, "70fb703ceb45b8b55631917edc54ed53da99e1a28522b325ce4629e3932b73ac"},
		{168359, 93134, "7193b6bc303f7cd09e755907514d0b92f15ba8ff56f492e8052a684cb6808d19"},
		{261493, 111750, "ce96ca48b2fdb3c70228fc61730f38de5f8385556e6921545175d301d3b3009e"},
		{373243, 105413, "fadffe32619ccd96fd8ff62a01240b2afc71aadefbab31b47b1b69c165f6bf63"},
		{478656, 58942, "abfc95307c70062704e9b4b04257a3cb84bcf57e7732f3263cbd40f5518b01a3"},
		{537598, 62195, "9155d759fdefe0a9f6ceba9f2a5b4dc46a4cdf929e303debdb789b9736a52b31"},
	};
	size_t len = 2u << 20;
	unsigned char *in = make_xml(len, 20);
	struct cuts cs = chunk_all(in, len, NULL, 0, 0, 0, 0);
	char h[2 * ATR_CHUNK_HASH_LEN + 1];

	(void)state;
	assert_true(cs.n >= sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		hex(cs.v[i].hash, ATR_CHUNK_HASH_LEN, h);
		if (cs.v[i].offset != want[i].offset || cs.v[i].len != want[i].len ||
		    strcmp(h, want[i].hash) != 0)
			fail_msg("chunk %zu: %llu+%zu %s, pinned %llu+%zu %s", i,
			    (unsigned long long)cs.v[i].offset, cs.v[i].len, h,
			    (unsigned long long)want[i].offset, want[i].len, want[i].hash);
	}
	free(cs.v);
	free(in);
}

struct sizes {
	size_t min, avg, max;
};

static const struct sizes size_table[] = {
	{0, 0, 0}, /* the defaults: 16 KiB / 64 KiB / 256 KiB */
	{2048, 8192, 32768},
	{64, 256, 1024},
	{64 * 1024, 256 * 1024, 1024 * 1024},
};

static int
same_cuts(const struct cuts *a, const struct cuts *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].offset != b->v[i].offset || a->v[i].len != b->v[i].len ||
		    memcmp(a->v[i].hash, b->v[i].hash, ATR_CHUNK_HASH_LEN) != 0)
			return 0;
	return 1;
}

/* 1-byte, 7-byte, 1 MiB and irregular pieces cut exactly like one buffer. */
static void
test_any_split(void **state)
{
	static const size_t one[] = {1}, seven[] = {7}, mib[] = {1 << 20},
	    odd[] = {3, 65536, 1, 4093, 262147, 17, 100000};
	static const struct {
		const char *name;
		const size_t *p;
		size_t n;
	} splits[] = {
		{"1 byte", one, 1},
		{"7 bytes", seven, 1},
		{"1 MiB", mib, 1},
		{"irregular", odd, 7},
	};
	size_t len = 3u << 20;
	unsigned char *in = make_xml(len, 7);

	(void)state;
	for (size_t s = 0; s < sizeof(size_table) / sizeof(size_table[0]); s++) {
		const struct sizes *z = &size_table[s];
		struct cuts whole = chunk_all(in, len, NULL, 0, z->min, z->avg, z->max);
		assert_true(whole.n > 1);
		for (size_t k = 0; k < sizeof(splits) / sizeof(splits[0]); k++) {
			struct cuts got = chunk_all(in, len, splits[k].p, splits[k].n, z->min, z->avg,
			    z->max);
			if (!same_cuts(&whole, &got))
				fail_msg("sizes %zu: %s pieces: %zu chunks, whole buffer %zu", s,
				    splits[k].name, got.n, whole.n);
			free(got.v);
		}
		free(whole.v);
	}
	free(in);
}

/* Every chunk but the last is within [min, max]; the last within (0, max]. */
static void
check_limits(const struct cuts *cs, size_t min, size_t max)
{
	for (size_t i = 0; i < cs->n; i++) {
		if (cs->v[i].len > max || cs->v[i].len == 0 || (i + 1 < cs->n && cs->v[i].len < min))
			fail_msg("chunk %zu of %zu: %zu bytes, limits %zu..%zu", i, cs->n, cs->v[i].len,
			    min, max);
	}
}

static void
test_limits(void **state)
{
	size_t len = 4u << 20;
	unsigned char *xml = make_xml(len, 3);
	unsigned char *zeros = calloc(1, len);
	unsigned char *noise = malloc(len);
	uint64_t s = 99;

	(void)state;
	assert_non_null(zeros);
	assert_non_null(noise);
	for (size_t i = 0; i < len; i++)
		noise[i] = (unsigned char)(rng(&s) >> 56);
	for (size_t t = 0; t < sizeof(size_table) / sizeof(size_table[0]); t++) {
		struct sizes z = size_table[t];
		struct cuts cs;
		size_t total;
		if (z.min == 0)
			z = (struct sizes){ATR_CHUNK_MIN_DEFAULT, ATR_CHUNK_AVG_DEFAULT,
			    ATR_CHUNK_MAX_DEFAULT};
		cs = chunk_all(xml, len, NULL, 0, z.min, z.avg, z.max);
		check_limits(&cs, z.min, z.max);
		/* The mean stays near avg (normalized chunking): within 0.5..2 x. */
		if (cs.n < len / z.avg / 2 || cs.n > len / z.avg * 2)
			fail_msg("sizes %zu: %zu chunks for %zu bytes, avg %zu", t, cs.n, len, z.avg);
		free(cs.v);
		cs = chunk_all(noise, len, NULL, 0, z.min, z.avg, z.max);
		check_limits(&cs, z.min, z.max);
		free(cs.v);
		/* With this gear table zeros hold no boundary at these sizes: every
		 * cut is the forced one at max. */
		cs = chunk_all(zeros, len, NULL, 0, z.min, z.avg, z.max);
		check_limits(&cs, z.min, z.max);
		total = 0;
		for (size_t i = 0; i < cs.n; i++) {
			if (i + 1 < cs.n)
				assert_int_equal(cs.v[i].len, z.max);
			total += cs.v[i].len;
		}
		assert_int_equal(total, len);
		assert_int_equal(cs.n, (len + z.max - 1) / z.max);
		free(cs.v);
	}
	free(xml);
	free(zeros);
	free(noise);
}

static size_t
count_new(const struct cuts *a, const struct cuts *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++) {
		size_t j;
		for (j = 0; j < a->n; j++)
			if (memcmp(a->v[j].hash, b->v[i].hash, ATR_CHUNK_HASH_LEN) == 0)
				break;
		n += j == a->n;
	}
	return n;
}

/*
 * Insertions and deletions near the start, in the middle and near the
 * end: all chunks but the one or two around the edit keep their hashes
 * (plus one per avg bytes the edit itself spans, for the small sizes).
 */
static void
test_edits_stay_local(void **state)
{
	static const struct {
		const char *name;
		double where;   /* fraction of the input */
		long delta;     /* > 0: bytes inserted, < 0: bytes deleted */
	} edits[] = {
		{"insert 1 byte at the start", 0.0, 1},
		{"insert 100 bytes near the start", 0.001, 100},
		{"insert 5000 bytes near the start", 0.01, 5000},
		{"delete 1 byte at the start", 0.0, -1},
		{"delete 300 bytes near the start", 0.002, -300},
		{"insert 1 byte in the middle", 0.5, 1},
		{"insert 2 KiB in the middle", 0.5, 2048},
		{"delete 700 bytes in the middle", 0.47, -700},
		{"delete 8 KiB in the middle", 0.53, -8192},
		{"insert 40 bytes near the end", 0.999, 40},
		{"insert 3000 bytes at the end", 1.0, 3000},
		{"delete 100 bytes near the end", 0.998, -100},
		{"delete the last 10 bytes", 1.0, -10},
	};
	size_t len = 6u << 20;
	unsigned char *in = make_xml(len, 11);
	unsigned char *ed = malloc(len + 8192);
	unsigned char *ins = make_xml(8192, 12);

	(void)state;
	assert_non_null(ed);
	for (size_t t = 0; t < sizeof(size_table) / sizeof(size_table[0]); t++) {
		const struct sizes *z = &size_table[t];
		struct cuts base;
		/* 64/256/1024 is there for the split tests: its chunks are no
		 * longer than the edits and the elements of the XML. */
		if (z->avg != 0 && z->avg < 1024)
			continue;
		base = chunk_all(in, len, NULL, 0, z->min, z->avg, z->max);
		for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
			size_t at = (size_t)(edits[i].where * (double)len), elen;
			struct cuts got;
			size_t fresh, lost, allowed;
			if (edits[i].delta > 0) {
				memcpy(ed, in, at);
				memcpy(ed + at, ins, (size_t)edits[i].delta);
				memcpy(ed + at + edits[i].delta, in + at, len - at);
				elen = len + (size_t)edits[i].delta;
			} else {
				size_t d = (size_t)-edits[i].delta;
				if (at + d > len)
					at = len - d;
				memcpy(ed, in, at);
				memcpy(ed + at, in + at + d, len - at - d);
				elen = len - d;
			}
			got = chunk_all(ed, elen, NULL, 0, z->min, z->avg, z->max);
			fresh = count_new(&base, &got);
			lost = count_new(&got, &base);
			/* An edit as long as avg or longer spans chunks of its own. */
			allowed = 2 + (size_t)labs(edits[i].delta) / (z->avg ? z->avg : ATR_CHUNK_AVG_DEFAULT);
			if (fresh > allowed || lost > allowed || fresh == 0)
				fail_msg("sizes %zu, %s: %zu new chunks, %zu old ones gone (of %zu; "
				    "allowed %zu)", t, edits[i].name, fresh, lost, base.n, allowed);
			free(got.v);
		}
		free(base.v);
	}
	free(ins);
	free(ed);
	free(in);
}

/* Empty and tiny inputs: no chunk, or one chunk holding everything. */
static void
test_tiny(void **state)
{
	/* SHA-256 of "", "a" and "abc" (FIPS 180-2 for "abc"). */
	static const struct {
		const char *in;
		size_t len;
		const char *hash;
	} cases[] = {
		{"a", 1, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"},
		{"abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	};
	struct atr_chunker *c = atr_chunker_new();
	struct atr_chunk ch;
	char h[2 * ATR_CHUNK_HASH_LEN + 1];
	size_t used = 7;
	unsigned char *in;
	struct cuts cs;

	(void)state;
	assert_non_null(c);
	/* empty: final gives nothing, also after an update of 0 bytes */
	assert_int_equal(atr_chunker_update(c, "", 0, &used, &ch), 0);
	assert_int_equal(used, 0);
	assert_int_equal(atr_chunker_final(c, &ch), 0);
	assert_int_equal(ch.len, 0);
	/* no input after the end until reset */
	assert_int_equal(atr_chunker_update(c, "x", 1, &used, &ch), -1);
	assert_non_null(strstr(atr_chunker_error(c), "reset"));
	assert_int_equal(atr_chunker_final(c, &ch), -1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		atr_chunker_reset(c);
		assert_int_equal(atr_chunker_update(c, cases[i].in, cases[i].len, &used, &ch), 0);
		assert_int_equal(used, cases[i].len);
		assert_int_equal(atr_chunker_final(c, &ch), 1);
		assert_int_equal(ch.offset, 0);
		assert_int_equal(ch.len, cases[i].len);
		assert_memory_equal(ch.data, cases[i].in, cases[i].len);
		hex(ch.hash, ATR_CHUNK_HASH_LEN, h);
		assert_string_equal(h, cases[i].hash);
	}
	atr_chunker_free(c);

	/* min - 1, min and min + 1 bytes: one chunk each */
	in = make_xml(ATR_CHUNK_MIN_DEFAULT + 1, 5);
	for (size_t n = ATR_CHUNK_MIN_DEFAULT - 1; n <= ATR_CHUNK_MIN_DEFAULT + 1; n++) {
		cs = chunk_all(in, n, NULL, 0, 0, 0, 0);
		assert_int_equal(cs.n, 1);
		assert_int_equal(cs.v[0].len, n);
		free(cs.v);
	}
	free(in);
	atr_chunker_free(NULL);
}

/* Sizes are checked, kept when refused, and fixed once a stream started. */
static void
test_set_sizes(void **state)
{
	static const struct {
		size_t min, avg, max;
		int ok;
	} cases[] = {
		{16384, 65536, 262144, 0},
		{64, 128, 256, 0},
		{4096, 16384, 65536, 0},
		{63, 128, 256, -1},          /* min below the lowest */
		{1024, 1000, 4096, -1},      /* avg not a power of two */
		{4096, 4096, 8192, -1},      /* min == avg */
		{1024, 4096, 4096, -1},      /* avg == max */
		{8192, 4096, 16384, -1},     /* min > avg */
		{1 << 20, 1 << 25, 1 << 27, -1}, /* max above the highest */
		{0, 0, 0, -1},
	};
	struct atr_chunker *c = atr_chunker_new();
	struct atr_chunk ch;
	size_t mn, av, mx, used;

	(void)state;
	assert_non_null(c);
	atr_chunker_sizes(c, &mn, &av, &mx);
	assert_int_equal(mn, ATR_CHUNK_MIN_DEFAULT);
	assert_int_equal(av, ATR_CHUNK_AVG_DEFAULT);
	assert_int_equal(mx, ATR_CHUNK_MAX_DEFAULT);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t pmin, pavg, pmax;
		atr_chunker_sizes(c, &pmin, &pavg, &pmax);
		int r = atr_chunker_set_sizes(c, cases[i].min, cases[i].avg, cases[i].max);
		if (r != cases[i].ok)
			fail_msg("case %zu: %d, expected %d (%s)", i, r, cases[i].ok,
			    atr_chunker_error(c));
		atr_chunker_sizes(c, &mn, &av, &mx);
		if (r == 0) {
			assert_int_equal(mn, cases[i].min);
			assert_int_equal(av, cases[i].avg);
			assert_int_equal(mx, cases[i].max);
		} else {
			assert_non_null(strstr(atr_chunker_error(c), "chunk sizes"));
			assert_int_equal(mn, pmin);
			assert_int_equal(av, pavg);
			assert_int_equal(mx, pmax);
		}
	}
	/* once bytes went in, the sizes stay until the stream is reset */
	assert_int_equal(atr_chunker_update(c, "abc", 3, &used, &ch), 0);
	assert_int_equal(atr_chunker_set_sizes(c, 64, 128, 256), -1);
	assert_non_null(strstr(atr_chunker_error(c), "start of a stream"));
	atr_chunker_reset(c);
	assert_int_equal(atr_chunker_set_sizes(c, 64, 128, 256), 0);
	assert_string_equal(atr_chunker_error(c), "");
	atr_chunker_free(c);
}

/* Two chunkers over the same input agree (nothing depends on the run). */
static void
test_deterministic(void **state)
{
	size_t len = 2u << 20;
	unsigned char *in = make_xml(len, 20);
	struct cuts a = chunk_all(in, len, NULL, 0, 0, 0, 0);
	struct cuts b = chunk_all(in, len, NULL, 0, 0, 0, 0);

	(void)state;
	assert_true(same_cuts(&a, &b));
	free(a.v);
	free(b.v);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_any_split),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_edits_stay_local),
		cmocka_unit_test(test_tiny),
		cmocka_unit_test(test_set_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
