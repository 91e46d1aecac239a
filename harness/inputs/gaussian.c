/* gaussian.c - the inputs sabench always had: every element of Q, K and V
 * a seeded value in [-1, 1) (the name is historical: uniform noise, with
 * no structure, on which every pattern keeps about its density). */
#include "inputs.h"

enum { GAUSS_SEED };

static const struct pat_param gaussian_params[] = {
	[GAUSS_SEED] = { "seed", PAT_INT, 0, -1, -1, 9007199254740991.0,
		"seed of the values; -1: the run's seed", NULL, NULL },
};

/* Fills x[0, n) of tensor t, in parallel (first touch). */
static void fill_uniform(float *x, size_t n, unsigned long long seed, int t)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		x[i] = inp_uniform(seed, t, i);
}

static int gaussian_fill(const struct exp_input *in, const struct problem *p,
			 float *q, float *k, float *v, unsigned long long seed)
{
	size_t nq = (size_t)p->batch * p->heads * p->n_q * p->d;
	size_t nkv = (size_t)p->batch * p->kv_heads * p->n_kv * p->d;
	size_t nv = (size_t)p->batch * p->kv_heads * p->n_kv * kern_dv(p);

	if (in->val[GAUSS_SEED].i >= 0)
		seed = (unsigned long long)in->val[GAUSS_SEED].i;
	fill_uniform(q, nq, seed, 1);
	fill_uniform(k, nkv, seed, 2);
	fill_uniform(v, nv, seed, 3);
	return 0;
}

const struct inp_kind inp_gaussian = {
	.name = "gaussian",                     /* YAML key */
	.summary = "seeded noise in [-1, 1): no structure (the default)",
	.params = gaussian_params,              /* seed */
	.n_params = 1,
	.open = NULL,                           /* nothing to check */
	.close = NULL,
	.fill = gaussian_fill,                  /* pure function of the index */
	.head_type = NULL,                      /* heads are alike */
	.is_default = 1,                        /* seeded noise, as sabench always had */
	.label_file = -1,                       /* no files */
};
