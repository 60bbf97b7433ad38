/* Random bytes from OpenSSL's CSPRNG. */
#include <limits.h>

#include <openssl/rand.h>

#include "atrium/util.h"

int
atr_random_bytes(void *buf, size_t n)
{
	if (n > INT_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}
