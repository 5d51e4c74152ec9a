/* SipHash-c-d over a stream (Aumasson and Bernstein): CPython keys its
 * hash-based .pyc files with SipHash-1-3 (3.11 and later) or SipHash-2-4
 * (3.7 to 3.10) of the source, k0 the raw magic number, k1 0 (see
 * check_python.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct dos_siphash {
	uint64_t v0, v1, v2, v3;
	uint64_t len;                  /* bytes fed */
	uint8_t tail[8];               /* the last incomplete word */
	uint8_t c, d;                  /* compression and finalization rounds */
};

void dos_siphash_init(struct dos_siphash *s, uint64_t k0, uint64_t k1, int c, int d);
void dos_siphash_feed(struct dos_siphash *s, const void *buf, size_t n);
/* The hash; s is spent after. */
uint64_t dos_siphash_final(struct dos_siphash *s);
