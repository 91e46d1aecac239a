/* model.h - what a cell costs by the models: useful and executed FLOPs,
 * compulsory and gather bytes, KV-cache bytes to keep for decoding, and
 * the buffers a kernel holds. Conventions in REFERENCES.md section 2. */
#ifndef SABENCH_MODEL_H
#define SABENCH_MODEL_H

#include "../../kernels/kernel.h"
#include "../../patterns/pattern.h"

struct cell_model {
	double flops;           /* useful: 4 d nnz, all heads and sequences */
	double flops_exec;      /* what the kernel executes */
	double bytes_min;       /* Q, O once; each referenced K/V row once */
	double bytes_gather;    /* Q, O once; k_j, v_j for every pair */
	double kv_cache_bytes;  /* K/V kept to decode the next token exactly */
	double score_bytes;     /* largest score buffer materialised */
	double pattern_bytes;   /* the gset's storage */
	double workspace_bytes; /* the kernel's workspace */
};

/* Fills m for kernel k on problem p (p->g built) with threads threads;
 * kv_rows is the pattern's K/V rows to keep at n_kv. */
void model_cell(const struct problem *p, const struct kern_desc *k,
		int threads, long kv_rows, struct cell_model *m);

#endif
