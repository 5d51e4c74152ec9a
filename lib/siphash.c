/* SipHash-c-d over a stream (see siphash.h). */
#include "siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(struct dos_siphash *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static void sip_word(struct dos_siphash *s, uint64_t m)
{
	s->v3 ^= m;
	for (int i = 0; i < s->c; i++)
		sip_round(s);
	s->v0 ^= m;
}

/* The message words are little-endian, whatever the host. */
static uint64_t le64(const uint8_t *p)
{
	uint64_t m = 0;

	for (int i = 7; i >= 0; i--)
		m = (m << 8) | p[i];
	return m;
}

void dos_siphash_init(struct dos_siphash *s, uint64_t k0, uint64_t k1, int c, int d)
{
	*s = (struct dos_siphash){
		.v0 = k0 ^ 0x736f6d6570736575ULL, .v1 = k1 ^ 0x646f72616e646f6dULL,
		.v2 = k0 ^ 0x6c7967656e657261ULL, .v3 = k1 ^ 0x7465646279746573ULL,
		.c = (uint8_t)c, .d = (uint8_t)d,
	};
}

void dos_siphash_feed(struct dos_siphash *s, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	size_t have = (size_t)(s->len & 7);

	s->len += n;
	if (have) {
		while (have < 8 && n) {
			s->tail[have++] = *p++;
			n--;
		}
		if (have < 8)
			return;
		sip_word(s, le64(s->tail));
	}
	for (; n >= 8; p += 8, n -= 8)
		sip_word(s, le64(p));
	for (size_t i = 0; i < n; i++)
		s->tail[i] = p[i];
}

uint64_t dos_siphash_final(struct dos_siphash *s)
{
	uint64_t b = s->len << 56;

	for (size_t i = 0; i < (size_t)(s->len & 7); i++)
		b |= (uint64_t)s->tail[i] << (8 * i);
	sip_word(s, b);
	s->v2 ^= 0xff;
	for (int i = 0; i < s->d; i++)
		sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}
