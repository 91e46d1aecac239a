/* ops.h - the arithmetic of a forward pass, shared by the whole-sequence
 * pass (model.c) and the decode step (decode.c): projections through
 * sgemm, RMSNorm, RoPE at any positions, the head layouts, activations
 * and the clock. Internal to model/. */
#ifndef SABENCH_MODEL_OPS_H
#define SABENCH_MODEL_OPS_H

#include <stddef.h>

#include "family.h"

/* why (room len) set from fmt; returns -1 (a failure's message). */
int ops_why(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Monotonic seconds. */
double ops_now(void);

/* y[n][out] = x[n][in] w^T, w [out][in]. */
void ops_matmul(const float *x, long n, int in, const float *w, long out, float *y);

/* Each of rows rows of width d: x / rms(x) w (out may be x). */
void ops_rms_norm(const float *x, long rows, int d, const float *w, double eps, float *out);

/* RoPE on x[heads][n][d] at positions pos0 .. pos0 + n - 1. 0, or -1
 * out of memory (the angles' table). */
int ops_rope(float *x, int heads, long n, int d, double base, enum model_rope form, long pos0);

/* [n][heads * d] -> [heads][n][d], and back. */
void ops_split_heads(const float *x, long n, int heads, int d, float *out);
void ops_join_heads(const float *x, long n, int heads, int d, float *out);

/* x = act(x) * y over n values (the gated FFN's middle). */
void ops_gate(float *x, const float *y, long n, enum model_act a);

/* x += y over n values. */
void ops_add(float *x, const float *y, long n);

#endif
