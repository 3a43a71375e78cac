/* Minimal TAP for the C unit tests. */
#ifndef MSP_TAP_H
#define MSP_TAP_H

#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

/* cond is evaluated once: it may have side effects */
#define ok(cond, ...) do { \
	int tap_ok_ = (cond) ? 1 : 0; \
	tap_n++; \
	if (tap_ok_) { printf("ok %d - ", tap_n); } \
	else { tap_failed++; printf("not ok %d - ", tap_n); } \
	printf(__VA_ARGS__); printf("\n"); \
	if (!tap_ok_) printf("#   failed at %s:%d\n", __FILE__, __LINE__); \
} while (0)

#define done_testing() do { printf("1..%d\n", tap_n); \
	return tap_failed ? 1 : 0; } while (0)

#endif
