/* kvpack.h - a problem's K and V packed into the bf16 paths' layouts
 * (struct kv_pack of isa/bf16.h): made from struct problem here, in
 * kernels/, so that the ISA layer sees only its own types. */
#ifndef SABENCH_KVPACK_H
#define SABENCH_KVPACK_H

#include "isa/bf16.h"
#include "kernel.h"

int kv_pack_alloc(struct kv_pack *kp, const struct problem *p);
void kv_pack_free(struct kv_pack *kp);

/* Before a run, outside its parallel region: nothing packed yet. */
void kv_pack_reset(const struct kv_pack *kp);

/* Makes sure the blocks of K/V head i that hold keys [j0, j1) are packed
 * (and the keys a tile of the bf16 micro-kernels reads past j1): each is
 * packed once per run, by the first thread that needs it, while the
 * others that need it wait. */
void kv_pack_need(const struct kv_pack *kp, const struct problem *p, size_t i, long j0,
		  long j1);

/* Bytes kv_pack_alloc takes for p. */
double kv_pack_bytes(const struct problem *p);

#endif
