/* peak.c - the loops `sabench machine` times to find this machine's
 * ceilings, the way likwid-bench and ERT do: fp32 FMA with many
 * independent accumulators (no memory traffic) per ISA, the bf16 dot
 * products of AVX512-BF16 (VDPBF16PS) and of AMX (TDPBF16PS on four
 * accumulator tiles, 2 x 2 as the kernels run them), and STREAM-style
 * triad and read sweeps. The harness owns the clock and the threads. */
#include <immintrin.h> /* before any target pragma: its intrinsics keep their own targets */
#include <omp.h>
#include <stddef.h>
#include <stdint.h>

#include "bf16.h"
#include "peak.h"

#pragma GCC push_options
#pragma GCC target("avx512f,fma")

static double fma_avx512(long iters)
{
	__m512 a[24], x = _mm512_set1_ps(0.9999999f), y = _mm512_set1_ps(1e-7f);
	float sum = 0.0f;

	for (int i = 0; i < 24; i++)
		a[i] = _mm512_set1_ps(1.0f + (float)i * 1e-3f);
	for (long k = 0; k < iters; k++) {
#pragma GCC unroll 24
		for (int i = 0; i < 24; i++)
			a[i] = _mm512_fmadd_ps(a[i], x, y);
	}
	for (int i = 0; i < 24; i++)
		sum += _mm512_reduce_add_ps(a[i]);
	peak_sink = sum;
	return (double)iters * 24.0 * 32.0;
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
static double fma_avx2(long iters)
{
	__m256 a[12], x = _mm256_set1_ps(0.9999999f), y = _mm256_set1_ps(1e-7f);
	float sum = 0.0f, lanes[8];

	for (int i = 0; i < 12; i++)
		a[i] = _mm256_set1_ps(1.0f + (float)i * 1e-3f);
	for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
		for (int i = 0; i < 12; i++)
			a[i] = _mm256_fmadd_ps(a[i], x, y);
	}
	for (int i = 0; i < 12; i++) {
		_mm256_storeu_ps(lanes, a[i]);
		for (int j = 0; j < 8; j++)
			sum += lanes[j];
	}
	peak_sink = sum;
	return (double)iters * 12.0 * 16.0;
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512bf16")
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512bf16"))), apply_to = function)
#endif
/* 24 chains of VDPBF16PS: 64 FLOPs each (16 lanes x 2 products x 2). */
static double dp_avx512bf16(long iters)
{
	__m512 a[24];
	__m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x38003800);
	float sum = 0.0f;

	for (int i = 0; i < 24; i++)
		a[i] = _mm512_set1_ps((float)i);
	for (long k = 0; k < iters; k++) {
#pragma GCC unroll 24
		for (int i = 0; i < 24; i++)
			a[i] = _mm512_dpbf16_ps(a[i], x, y);
	}
	for (int i = 0; i < 24; i++)
		sum += _mm512_reduce_add_ps(a[i]);
	peak_sink = sum;
	return (double)iters * 24.0 * 64.0;
}
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("amx-tile,amx-bf16")
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("amx-tile,amx-bf16"))), apply_to = function)
#endif
/* Four accumulator tiles fed by two A and two B tiles, as the kernels'
 * 2 x 2 blocks: 16 x 16 x 32 x 2 FLOPs a TDPBF16PS. */
static double dp_amx(long iters)
{
	_Alignas(64) uint16_t ab[512];          /* 16 rows of 64 bytes, bf16 2^-8 */
	_Alignas(64) float c[256];

	for (int i = 0; i < 512; i++)
		ab[i] = 0x3b80;
	__asm__ volatile("" ::: "memory");      /* GCC's tileloadd does not say it reads ab */
	bf16_amx.begin();
	_tile_zero(0);
	_tile_zero(1);
	_tile_zero(2);
	_tile_zero(3);
	_tile_loadd(4, ab, 64);
	_tile_loadd(5, ab, 64);
	_tile_loadd(6, ab, 64);
	_tile_loadd(7, ab, 64);
	for (long k = 0; k < iters; k++) {
		_tile_dpbf16ps(0, 4, 6);
		_tile_dpbf16ps(1, 4, 7);
		_tile_dpbf16ps(2, 5, 6);
		_tile_dpbf16ps(3, 5, 7);
	}
	_tile_stored(0, c, 64);
	bf16_amx.end();
	peak_sink = c[0];
	return (double)iters * 4.0 * 16384.0;
}
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

volatile float peak_sink;

double peak_fma(enum kern_isa isa, long iters)
{
	if (isa == KERN_AMX)
		return dp_amx(iters);
	if (isa == KERN_AVX512BF16)
		return dp_avx512bf16(iters);
	if (isa == KERN_AVX512)
		return fma_avx512(iters);
	if (isa == KERN_AVX2)
		return fma_avx2(iters);
	return 0.0;
}

double peak_triad(float *a, const float *b, const float *c, size_t n)
{
#pragma omp for schedule(static)
	for (size_t i = 0; i < n; i++)
		a[i] = b[i] + 3.0f * c[i];
	return 3.0 * (double)n * sizeof(float);
}

/* The sum of a[0, n) over 64 independent lanes: eight (AVX2) or four
 * (AVX-512) vector chains, so that loads, not the adds' latency, bound it
 * (one chain read an L2-resident buffer at 60 GB/s where this reads 138;
 * from DRAM 5-15% slower). With prefetch, each line is asked for
 * PEAK_PREFETCH_FLOATS ahead. */
#define PEAK_LANES 64
#define PEAK_PREFETCH_FLOATS 512

static float sum_wide(const float *a, size_t n, int prefetch)
{
	float acc[PEAK_LANES] = { 0 }, s = 0.0f;
	size_t i = 0;

	for (; i + PEAK_LANES <= n; i += PEAK_LANES) {
		if (prefetch)
			__builtin_prefetch(a + i + PEAK_PREFETCH_FLOATS, 0, 0);
		for (int k = 0; k < PEAK_LANES; k++)
			acc[k] += a[i + k];
	}
	for (; i < n; i++)
		s += a[i];
	for (int k = 0; k < PEAK_LANES; k++)
		s += acc[k];
	return s;
}

double peak_read_as(const float *a, size_t n, int prefetch, float *sum)
{
	int t = omp_get_thread_num(), nt = omp_get_num_threads();
	size_t lo = n / (size_t)nt * (size_t)t, hi = t == nt - 1 ? n : lo + n / (size_t)nt;

	*sum += sum_wide(a + lo, hi - lo, prefetch);
	return (double)n * sizeof(float);
}

double peak_read(const float *a, size_t n, float *sum)
{
	return peak_read_as(a, n, 0, sum);
}

double peak_read_one(const float *a, size_t n, float *sum)
{
	*sum += sum_wide(a, n, 0);
	return (double)n * sizeof(float);
}
