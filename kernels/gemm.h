/* gemm.h - the framework of the library-based kernels (blas, onednn):
 * blocked attention as a careful engineer writes it on a GEMM library.
 * Per head and block of query rows (64 to 512, chosen from the shape in
 * prepare: large blocks pack K and V less often), S = Q K^T over only the
 * runs of 64-key blocks the pattern touches (one contiguous run where the
 * pattern allows), the score function, -inf only on the gaps of G,
 * softmax, O = P V and 1/sum applied to O's rows. The library runs
 * single-threaded inside sabench's OpenMP team (one head-block per thread)
 * and supplies the two products through a gemm_lib; buffers are per
 * thread. A bf16 problem hands the library bf16 Q, K, V and P. */
#ifndef SABENCH_GEMM_H
#define SABENCH_GEMM_H

#include "kernel.h"

/* A GEMM library's side: its products on row-major operands in the
 * problem's dtype (fp32, or bf16 for q, k, p, v: P rounded to bf16 for
 * P V), s and o in fp32. */
struct gemm_lib {
	/* once per problem, untimed: state for `threads` threads whose
	 * products scale S by `scale` (*ctx, freed by close); 0 or -1 */
	int (*open)(const struct problem *p, int threads, float scale, void **ctx);
	void (*close)(void *ctx);
	/* s[r lds + c] = scale q_r . k_c, r < m, c < n (q, k rows d apart) */
	void (*qk)(void *ctx, int thread, int m, int n, int d, const void *q,
		   const void *k, float *s, long lds);
	/* o[r d + c] += sum_j p[r ldp + j] v[j d + c], r < m, j < n (here d
	 * is head_dim_v: V's and O's width) */
	void (*pv)(void *ctx, int thread, int m, int n, int d, const void *p, long ldp,
		   const void *v, float *o);
};

/* The kern_desc slots of a library kernel, given its gemm_lib. */
int gemm_prepare(const struct problem *p, int threads, const struct gemm_lib *lib, void **ws);
int gemm_index(const struct problem *p, void *ws);
void gemm_run(const struct problem *p, void *ws);
void gemm_release(void *ws);
void gemm_cost(const struct problem *p, int threads, struct kern_cost *c);

#endif
