/* ops.c - the arithmetic of a forward pass (ops.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef SABENCH_HAVE_CBLAS
#include <cblas.h>
#endif

#include "ops.h"

int ops_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

double ops_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void ops_matmul(const float *x, long n, int in, const float *w, long out, float *y)
{
#ifdef SABENCH_HAVE_CBLAS
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, in, 1.0f, x, in, w, in,
		    0.0f, y, (int)out);
#else
#pragma omp parallel for collapse(2) schedule(static)
	for (long i = 0; i < n; i++)
		for (long o = 0; o < out; o++) {
			float s = 0.0f;
			for (int c = 0; c < in; c++)
				s += x[(size_t)i * in + c] * w[(size_t)o * in + c];
			y[(size_t)i * out + o] = s;
		}
#endif
}

void ops_rms_norm(const float *x, long rows, int d, const float *w, double eps, float *out)
{
#pragma omp parallel for schedule(static)
	for (long r = 0; r < rows; r++) {
		const float *a = x + (size_t)r * d;
		float *b = out + (size_t)r * d;
		double ss = 0.0;
		for (int c = 0; c < d; c++)
			ss += (double)a[c] * a[c];
		const float scale = (float)(1.0 / sqrt(ss / d + eps));
		for (int c = 0; c < d; c++)
			b[c] = a[c] * scale * w[c];
	}
}

/* The angles' cosines and sines are made once (in double) for every
 * head. */
int ops_rope(float *x, int heads, long n, int d, double base, enum model_rope form, long pos0)
{
	const int half = d / 2;
	float *cs = malloc((size_t)n * (size_t)half * 2 * sizeof *cs);

	if (!cs)
		return -1;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < n; p++)
		for (int i = 0; i < half; i++) {
			double theta = (double)(pos0 + p) * pow(base, -2.0 * i / d);
			cs[((size_t)p * half + i) * 2] = (float)cos(theta);
			cs[((size_t)p * half + i) * 2 + 1] = (float)sin(theta);
		}
#pragma omp parallel for collapse(2) schedule(static)
	for (int h = 0; h < heads; h++)
		for (long p = 0; p < n; p++) {
			float *r = x + ((size_t)h * n + p) * d;
			for (int i = 0; i < half; i++) {
				float c = cs[((size_t)p * half + i) * 2], s = cs[((size_t)p * half + i) * 2 + 1];
				int a = form == ROPE_NEOX ? i : 2 * i, b = form == ROPE_NEOX ? i + half : 2 * i + 1;
				float x0 = r[a], x1 = r[b];
				r[a] = x0 * c - x1 * s;
				r[b] = x0 * s + x1 * c;
			}
		}
	free(cs);
	return 0;
}

void ops_split_heads(const float *x, long n, int heads, int d, float *out)
{
#pragma omp parallel for collapse(2) schedule(static)
	for (int h = 0; h < heads; h++)
		for (long p = 0; p < n; p++)
			memcpy(out + ((size_t)h * n + p) * d, x + ((size_t)p * heads + h) * d, (size_t)d * sizeof *x);
}

void ops_join_heads(const float *x, long n, int heads, int d, float *out)
{
#pragma omp parallel for collapse(2) schedule(static)
	for (int h = 0; h < heads; h++)
		for (long p = 0; p < n; p++)
			memcpy(out + ((size_t)p * heads + h) * d, x + ((size_t)h * n + p) * d, (size_t)d * sizeof *x);
}

static float act(float x, enum model_act a)
{
	if (a == ACT_SILU)
		return x / (1.0f + expf(-x));
	return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

void ops_gate(float *x, const float *y, long n, enum model_act a)
{
#pragma omp parallel for schedule(static)
	for (long i = 0; i < n; i++)
		x[i] = act(x[i], a) * y[i];
}

void ops_add(float *x, const float *y, long n)
{
#pragma omp parallel for schedule(static)
	for (long i = 0; i < n; i++)
		x[i] += y[i];
}
