/* test_inputs.c - where Q, K and V come from: the synthetic generator is
 * the same at any thread count and keeps the structure it promises per head
 * type (README, "Inputs"); .npy tensors and CSR G-sets written by numpy are
 * read exactly (f16 widened exactly), run and dumped back; every kernel
 * agrees with the oracle on a G read from CSR files. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/npy.h"
#include "../harness/run/runner.h"
#include "helpers.h"

/* A synthetic input with the default head types, and a problem over it. */
struct synth {
	struct experiment x;
	struct problem p;
	struct gset g;
	struct pattern pat;
	float *q, *k, *v;
};

static void synth_make_dir(struct synth *s, long n, int heads, int kv_heads, int d,
			   int threads, int causal);

static void synth_make(struct synth *s, long n, int heads, int kv_heads, int d, int threads)
{
	synth_make_dir(s, n, heads, kv_heads, d, threads, 1);
}

static void synth_make_dir(struct synth *s, long n, int heads, int kv_heads, int d,
			   int threads, int causal)
{
	struct err e;
	char why[256];
	size_t nq = (size_t)heads * n * d, nkv = (size_t)kv_heads * n * d;
	const char *yaml = "name: t\nsweep: {seq_len: [64]}\ninputs: [synthetic]\npatterns: [dense]\nkernels: [naive]\n";

	memset(s, 0, sizeof *s);
	cr_assert_eq(exp_load_string("<t>", yaml, &s->x, &e), 0, "%s", e.msg);
	cr_assert_eq(exp_parse_spec("dense", causal, &s->pat, &e), 0);
	cr_assert_eq(gset_build(&s->g, &s->pat, n, n, heads, why, sizeof why), 0);
	s->q = malloc(nq * sizeof *s->q);
	s->k = malloc(nkv * sizeof *s->k);
	s->v = malloc(nkv * sizeof *s->v);
	s->p = (struct problem){ .batch = 1, .heads = heads, .kv_heads = kv_heads, .n_q = n,
				 .n_kv = n, .d = d, .q = s->q, .k = s->k, .v = s->v, .g = &s->g };
	omp_set_num_threads(threads);
	cr_assert_eq(s->x.inputs[0].kind->fill(&s->x.inputs[0], &s->p, s->q, s->k, s->v, 42), 0);
}

static void synth_free(struct synth *s)
{
	free(s->q);
	free(s->k);
	free(s->v);
	gset_free(&s->g);
	pat_free(&s->pat);
	exp_free(&s->x);
}

Test(inputs, synthetic_same_at_any_thread_count)
{
	struct synth a, b;

	synth_make(&a, 300, 6, 3, 32, 1);
	synth_make(&b, 300, 6, 3, 32, 2);
	cr_assert(!memcmp(a.q, b.q, 6 * 300 * 32 * sizeof(float)), "q differs");
	cr_assert(!memcmp(a.k, b.k, 3 * 300 * 32 * sizeof(float)), "k differs");
	cr_assert(!memcmp(a.v, b.v, 3 * 300 * 32 * sizeof(float)), "v differs");
	synth_free(&a);
	synth_free(&b);
}

/* Dense softmax of row i of head h into p[0, i]. */
static void dense_row(const struct problem *pr, int h, long i, double *p)
{
	const float *q = pr->q + kern_q_off(pr, 0, h) + (size_t)i * pr->d;
	const float *k = pr->k + kern_kv_off(pr, 0, h);
	double mx = -INFINITY, z = 0;

	for (long j = 0; j <= i; j++) {
		double s = 0;
		for (int c = 0; c < pr->d; c++)
			s += (double)q[c] * k[(size_t)j * pr->d + c];
		p[j] = s / sqrt((double)pr->d);
		mx = fmax(mx, p[j]);
	}
	for (long j = 0; j <= i; j++)
		z += (p[j] = exp(p[j] - mx));
	for (long j = 0; j <= i; j++)
		p[j] /= z;
}

/* What a head type keeps, averaged over rows i >= n / 4. */
struct head_mass {
	double mark[4];         /* share on sinks, verticals, needle (INP_MARK_*) */
	long rows, needle_rows; /* rows measured; rows with a needle */
	double near, far;       /* mass per key at distance < span/4, >= 4 span */
	double within4;         /* share within 4 spans */
	double flat;            /* largest p_ij (i + 1): 1 for uniform */
};

static void measure_head(struct synth *s, int h, long span, struct head_mass *m)
{
	long n = s->p.n_kv;
	double *p = malloc((size_t)n * sizeof *p), near = 0, far = 0, nn = 0, nf = 0;
	unsigned char *mark = malloc((size_t)n);

	memset(m, 0, sizeof *m);
	for (long i = n / 4; i < n; i += 7) {
		double rowmark[4] = { 0 };
		cr_assert_eq(inp_synthetic_marks(&s->x.inputs[0], &s->p, 42, 0, h, i, mark), 0);
		dense_row(&s->p, h, i, p);
		for (long j = 0; j <= i; j++) {
			long dist = i - j;
			rowmark[mark[j]] += p[j];
			if (dist < span / 4)
				near += p[j], nn++;
			if (dist >= 4 * span)
				far += p[j], nf++;
			if (dist < 4 * span)
				m->within4 += p[j];
			m->flat = fmax(m->flat, p[j] * (double)(i + 1));
		}
		for (int c = 1; c < 4; c++)
			m->mark[c] += rowmark[c];
		m->needle_rows += rowmark[INP_MARK_NEEDLE] > 0;
		m->rows++;
	}
	for (int c = 1; c < 3; c++)
		m->mark[c] /= (double)m->rows;
	m->mark[INP_MARK_NEEDLE] /= m->needle_rows ? (double)m->needle_rows : 1.0;
	m->within4 /= (double)m->rows;
	m->near = near / nn;
	m->far = far / nf;
	free(p);
	free(mark);
}

/* The promises of the README's head-type table, at the defaults (sinks 4,
 * sink_mass 0.5, local_span 64, vertical_mass 0.3, retrieval_mass 0.6). */
Test(inputs, synthetic_heads_keep_their_promises)
{
	static const int dims[][2] = { { 1024, 64 }, { 2048, 128 } };

	for (size_t c = 0; c < sizeof dims / sizeof *dims; c++) {
		struct synth s;
		struct head_mass m;
		synth_make(&s, dims[c][0], 5, 5, dims[c][1], 2);
		measure_head(&s, 0, 64, &m);            /* sink_local */
		cr_assert(fabs(m.mark[INP_MARK_SINK] - 0.5) < 0.02, "sink_local: sinks keep %g", m.mark[INP_MARK_SINK]);
		measure_head(&s, 1, 16, &m);            /* local: span 64 / 4 */
		cr_assert(m.near > 20 * m.far, "local: mass per key %g near, %g far", m.near, m.far);
		cr_assert(m.within4 > 0.8, "local: %g within 4 spans", m.within4);
		measure_head(&s, 2, 8, &m);             /* vertical_slash */
		cr_assert(fabs(m.mark[INP_MARK_SINK] - 0.1) < 0.02, "vertical_slash: sinks keep %g", m.mark[INP_MARK_SINK]);
		cr_assert(fabs(m.mark[INP_MARK_VERTICAL] - 0.3) < 0.03, "vertical_slash: verticals keep %g",
			  m.mark[INP_MARK_VERTICAL]);
		measure_head(&s, 3, 64, &m);            /* retrieval */
		cr_assert(m.needle_rows > m.rows / 2, "most retrieval rows have a needle");
		cr_assert(fabs(m.mark[INP_MARK_NEEDLE] - 0.6) < 0.03, "retrieval: the needle keeps %g",
			  m.mark[INP_MARK_NEEDLE]);
		measure_head(&s, 4, 64, &m);            /* diffuse */
		cr_assert(m.flat < 10, "diffuse: largest weight %g x uniform", m.flat);
		synth_free(&s);
	}
}

/* Bidirectional inputs: a local head still attends around its query (no
 * recency ramp there, which would pull every query to the end). */
Test(inputs, synthetic_bidirectional_local_head_stays_local)
{
	struct synth s;
	long n = 1024, i = 500;
	const float *q, *k;
	double *p = malloc((size_t)n * sizeof *p), mx = -INFINITY, z = 0, near = 0, tail = 0;

	synth_make_dir(&s, n, 2, 2, 64, 2, 0);
	q = s.q + kern_q_off(&s.p, 0, 1) + (size_t)i * 64;
	k = s.k + kern_kv_off(&s.p, 0, 1);
	for (long j = 0; j < n; j++) {
		double v = 0;
		for (int c = 0; c < 64; c++)
			v += (double)q[c] * k[(size_t)j * 64 + c];
		p[j] = v / 8.0;
		mx = fmax(mx, p[j]);
	}
	for (long j = 0; j < n; j++)
		z += (p[j] = exp(p[j] - mx));
	for (long j = 0; j < n; j++) {
		near += labs(i - j) < 64 ? p[j] / z : 0.0;
		tail += j >= n - 64 ? p[j] / z : 0.0;
	}
	cr_assert(near > 0.8, "mass within 64 keys of the query: %g", near);
	cr_assert(tail < 0.05, "mass on the last 64 keys: %g", tail);
	free(p);
	synth_free(&s);
}

/* ---- .npy files written by numpy ---- */

static int python_ok(const char *script)
{
	char cmd[8192];

	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c '%s'", script);
	return system(cmd) == 0;
}

Test(inputs, npy_round_trip_with_numpy)
{
	const char *dir = temp_dir();
	char script[4096], exp[300], out[300], dump[300];
	char *err = NULL;

	cr_assert(python_ok("import numpy"), "python3-numpy is needed (make test installs it)");
	/* q in float16 [batch, heads, n, d], k and v float32 with 2 K/V heads;
	 * per-head CSR: head h keeps a window of h + 2 keys */
	snprintf(script, sizeof script,
		 "import numpy as np\n"
		 "r = np.random.default_rng(3)\n"
		 "np.save(\"%s/q.npy\", r.standard_normal((1, 4, 48, 16)).astype(np.float16))\n"
		 "np.save(\"%s/k.npy\", r.standard_normal((1, 2, 48, 16)).astype(np.float32))\n"
		 "np.save(\"%s/v.npy\", r.standard_normal((1, 2, 48, 16)).astype(np.float32))\n"
		 "rows = [[list(range(max(0, i - h - 1), i + 1)) for i in range(48)] for h in range(4)]\n"
		 "ptr = np.array([np.concatenate([[0], np.cumsum([len(x) for x in rw])]) for rw in rows])\n"
		 "ptr += np.array([0] + list(np.cumsum(ptr[:, -1])[:-1]))[:, None]\n"
		 "np.save(\"%s/indptr.npy\", ptr.astype(np.int64))\n"
		 "np.save(\"%s/indices.npy\", np.array([j for rw in rows for x in rw for j in x], np.int32))\n",
		 dir, dir, dir, dir, dir);
	cr_assert(python_ok(script));
	snprintf(exp, sizeof exp, "%s/e.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(dump, sizeof dump, "%s/dump", dir);
	write_text(exp, "name: rt\nshape: {threads: 2}\nsweep: {seq_len: [40]}\n"
		   "inputs:\n  - npy: {q: q.npy, k: k.npy, v: v.npy}\n"
		   "patterns:\n  - csr: {indptr: indptr.npy, indices: indices.npy}\n  - dense\n"
		   "kernels: [naive, tiled]\nrun: {repeats: 1, min_time_ms: 0}\n");
	{
		char *argv[] = { "sabench", "run", exp, "-o", out, "--dump", dump, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
		free(err);
	}
	/* the dumped tensors are the files' first 40 tokens, f16 widened
	 * exactly; the dumped G holds every head's: head h its window of h + 2 */
	snprintf(script, sizeof script,
		 "import numpy as np, csv\n"
		 "d = \"%s\"\n"
		 "rows = list(csv.DictReader(open(d + \"/dump/index.csv\")))\n"
		 "assert len(rows) == 4, rows\n"
		 "r = [x for x in rows if x[\"cell\"].startswith(\"csr\")][0]\n"
		 "q = np.load(d + \"/q.npy\"); k = np.load(d + \"/k.npy\"); v = np.load(d + \"/v.npy\")\n"
		 "assert (np.load(d + \"/dump/\" + r[\"q\"]) == q[:, :, :40].astype(np.float32)).all()\n"
		 "assert (np.load(d + \"/dump/\" + r[\"k\"]) == k[:, :, :40]).all()\n"
		 "assert (np.load(d + \"/dump/\" + r[\"v\"]) == v[:, :, :40]).all()\n"
		 "ip = np.load(d + \"/dump/\" + r[\"indptr\"]); ix = np.load(d + \"/dump/\" + r[\"indices\"])\n"
		 "assert ip.dtype == np.int64 and ix.dtype == np.int32 and ip.shape == (4, 41), ip.shape\n"
		 "assert r[\"layouts\"] == \"4\" and r[\"layout_of\"] == \"h\", r\n"
		 "for h in range(4):\n"
		 "    want = [j for i in range(40) for j in range(max(0, i - h - 1), i + 1)]\n"
		 "    assert list(ix[ip[h, 0]:ip[h, -1]]) == want, (h, list(ix[ip[h, 0]:ip[h, -1]])[:10])\n"
		 "res = list(csv.DictReader(open(d + \"/out/results.csv\")))\n"
		 "assert all(x[\"verified\"] == \"yes\" for x in res), res\n"
		 "assert all(x[\"heads\"] == \"4\" and x[\"kv_heads\"] == \"2\" and x[\"head_dim\"] == \"16\" for x in res)\n",
		 dir);
	cr_assert(python_ok(script), "numpy disagrees with the dump");
	/* sabench's own dump is accepted back as a csr pattern */
	snprintf(exp, sizeof exp, "%s/back.yaml", dir);
	snprintf(out, sizeof out, "%s/back", dir);
	write_text(exp, "name: back\nshape: {heads: 4, head_dim: 16, threads: 2}\nsweep: {seq_len: [40]}\n"
		   "patterns:\n  - csr: {indptr: dump/g00000_indptr.npy, indices: dump/g00000_indices.npy}\n"
		   "kernels: [naive]\nrun: {repeats: 1, min_time_ms: 0}\n");
	{
		char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
		struct csv t;
		char path[400];
		cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
		free(err);
		snprintf(path, sizeof path, "%s/results.csv", out);
		csv_load(&t, path);
		cr_assert_str_eq(csv_get(&t, 0, "nnz"), "135",
				 "every head's window read back: (79 + 117 + 154 + 190) / 4 pairs a head");
		csv_free(&t);
	}
}

/* A G that differs by head (content-selected, GQA) dumps every head's
 * layout; numpy over each head's dumped G gives that head's dumped output,
 * and the dump read back through csr (with the dumped tensors as npy
 * inputs) gives the same outputs for every head. */
Test(inputs, a_per_head_dump_reads_back_exactly_through_csr)
{
	const char *dir = temp_dir();
	char script[4096], exp[300], out[300], d1[300], d2[300];
	char *err = NULL;

	cr_assert(python_ok("import numpy"), "python3-numpy is needed (make test installs it)");
	snprintf(d1, sizeof d1, "%s/d1", dir);
	snprintf(d2, sizeof d2, "%s/d2", dir);
	snprintf(exp, sizeof exp, "%s/vs.yaml", dir);
	snprintf(out, sizeof out, "%s/vs", dir);
	write_text(exp, "name: vs\nshape: {heads: 4, kv_heads: 2, head_dim: 16, threads: 2}\n"
		   "sweep: {seq_len: [150]}\ninputs: [synthetic]\npatterns:\n"
		   "  - vertical_slash: {last_q: 16, verticals: 9, slashes: 7, sink_keys: 2, local_offsets: 3}\n"
		   "kernels: [tiled]\nrun: {repeats: 1, min_time_ms: 0}\n");
	{
		char *argv[] = { "sabench", "run", exp, "-o", out, "--dump", d1, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
		free(err);
	}
	snprintf(exp, sizeof exp, "%s/back.yaml", dir);
	snprintf(out, sizeof out, "%s/back", dir);
	write_text(exp, "name: back\nshape: {threads: 2}\nsweep: {seq_len: [150]}\n"
		   "inputs:\n  - npy: {q: d1/g00000_q.npy, k: d1/g00000_k.npy, v: d1/g00000_v.npy}\n"
		   "patterns:\n  - csr: {indptr: d1/g00000_indptr.npy, indices: d1/g00000_indices.npy}\n"
		   "kernels: [tiled]\nrun: {repeats: 1, min_time_ms: 0}\n");
	{
		char *argv[] = { "sabench", "run", exp, "-o", out, "--dump", d2, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
		free(err);
	}
	snprintf(script, sizeof script,
		 "import numpy as np, csv\n"
		 "d = \"%s\"\n"
		 "def cell(x):\n"
		 "    r = list(csv.DictReader(open(d + \"/\" + x + \"/index.csv\")))[0]\n"
		 "    return {k: (np.load(d + \"/\" + x + \"/\" + f) if f.endswith(\".npy\") else f) for k, f in r.items()}\n"
		 "a, b = cell(\"d1\"), cell(\"d2\")\n"
		 "assert a[\"layouts\"] == b[\"layouts\"] == \"4\", (a[\"layouts\"], b[\"layouts\"])\n"
		 "assert a[\"indptr\"].shape == (4, 151) and (a[\"indptr\"] == b[\"indptr\"]).all()\n"
		 "assert (a[\"indices\"] == b[\"indices\"]).all()\n"
		 "q, k, v, ip, ix = (a[x].astype(np.float64) if x in \"qkv\" else a[x] for x in (\"q\", \"k\", \"v\", \"indptr\", \"indices\"))\n"
		 "heads = [list(ix[ip[h, 0]:ip[h, -1]]) for h in range(4)]\n"
		 "assert any(heads[h] != heads[0] for h in range(1, 4)), \"the heads should select differently\"\n"
		 "for h in range(4):\n"
		 "    err = 0.0\n"
		 "    for i in range(150):\n"
		 "        js = ix[ip[h, i]:ip[h, i + 1]]\n"
		 "        s = q[0, h, i] @ k[0, h // 2, js].T / 4.0\n"
		 "        p = np.exp(s - s.max()); p /= p.sum()\n"
		 "        err = max(err, np.abs(p @ v[0, h // 2, js] - a[\"out\"][0, h, i]).max())\n"
		 "    assert err < 1e-4, (h, err)\n"
		 "    assert np.abs(a[\"out\"][0, h] - b[\"out\"][0, h]).max() < 1e-5, h\n",
		 dir);
	cr_assert(python_ok(script), "numpy disagrees with the per-head dump");
}

Test(inputs, every_kernel_agrees_on_a_csr_g)
{
	const char *dir = temp_dir();
	char spec[600], path[300];
	long nnz = 0;
	int64_t ptr[2][46];
	int32_t idx[2 * 45 * 45];
	size_t shp[2] = { 2, 46 }, ish[1];
	struct err e;

	/* two heads: a seeded sparse causal G each, with empty rows */
	for (int h = 0; h < 2; h++) {
		ptr[h][0] = nnz;
		for (long i = 0; i < 45; i++) {
			for (long j = 0; j <= i; j++)
				if ((j * 7 + i * 3 + h) % 5 == 0 || j == i - h)
					idx[nnz++] = (int32_t)j;
			ptr[h][i + 1] = nnz;
		}
	}
	ish[0] = (size_t)nnz;
	snprintf(path, sizeof path, "%s/p.npy", dir);
	cr_assert_eq(npy_write(path, "<i8", shp, 2, ptr, 8, &e), 0);
	snprintf(path, sizeof path, "%s/i.npy", dir);
	cr_assert_eq(npy_write(path, "<i4", ish, 1, idx, 4, &e), 0);
	snprintf(spec, sizeof spec, "csr: {indptr: '%s/p.npy', indices: '%s/i.npy'}", dir, dir);
	for (int k = 0; k < kern_count; k++) {
		struct fixture fx;
		long bad;
		double err;
		if (kern_table[k]->decode)
			continue;
		fx_make(&fx, spec, 1, 45, 1, 2, 1, 16, 1.0f);
		cr_assert_eq(fx.g.n_layouts, 2, "per-head indptr: one layout per head");
		err = fx_max_err(&fx, kern_table[k], 2, &bad);
		cr_assert_eq(bad, 0);
		cr_assert(err <= VERIFY_MAX_ABS, "%s on csr: error %g", kern_table[k]->name, err);
		fx_free(&fx);
	}
}

/* dsa_topk reads the indexer npy inputs give (q_index, k_index,
 * index_weights): hand-built so that only keys 37 and 90 score, every
 * later query keeps exactly them; a pattern whose indexer differs from
 * the files' is refused with both shapes; the three files go together. */
Test(inputs, an_npy_indexer_chooses_dsa_keys, .timeout = 60)
{
	const char *dir = temp_dir();
	static float q[120 * 16], kv[120 * 16], qi[120 * 2 * 4], ki[120 * 4], wi[120 * 2];
	size_t s3[3] = { 1, 120, 16 }, sq[3] = { 120, 2, 4 }, sk[2] = { 120, 4 }, sw[2] = { 120, 2 };
	char files[1200], path[300], spec[1400], *out = NULL, *err = NULL;
	char *argv[] = { "sabench", "pattern", "dsa_topk: {k: 2, index_heads: 2, index_dim: 4}", "--n", "120",
			 "--query", "100", "--head-dim", "16", "--inputs", spec, NULL };
	struct err e;

	for (int i = 0; i < 120 * 16; i++) {
		q[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
		kv[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;
	}
	for (int t = 0; t < 120; t++) {
		qi[t * 8] = 1.0f;               /* head 0 looks along channel 0, head 1 nowhere */
		wi[t * 2] = wi[t * 2 + 1] = 1.0f;
	}
	ki[37 * 4] = ki[90 * 4] = 5.0f;
	snprintf(path, sizeof path, "%s/q.npy", dir);
	cr_assert_eq(npy_write(path, "<f4", s3, 3, q, 4, &e), 0);
	snprintf(path, sizeof path, "%s/kv.npy", dir);
	cr_assert_eq(npy_write(path, "<f4", s3, 3, kv, 4, &e), 0);
	snprintf(path, sizeof path, "%s/qi.npy", dir);
	cr_assert_eq(npy_write(path, "<f4", sq, 3, qi, 4, &e), 0);
	snprintf(path, sizeof path, "%s/ki.npy", dir);
	cr_assert_eq(npy_write(path, "<f4", sk, 2, ki, 4, &e), 0);
	snprintf(path, sizeof path, "%s/wi.npy", dir);
	cr_assert_eq(npy_write(path, "<f4", sw, 2, wi, 4, &e), 0);
	snprintf(files, sizeof files, "q: '%s/q.npy', k: '%s/kv.npy', v: '%s/kv.npy'", dir, dir, dir);
	snprintf(spec, sizeof spec, "npy: {%s, q_index: '%s/qi.npy', k_index: '%s/ki.npy', index_weights: '%s/wi.npy'}",
		 files, dir, dir, dir);
	cr_assert_eq(run_bin(argv, &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "G_100 = {37, 90}"), "%s", out);
	free(out);
	free(err);
	argv[2] = "dsa_topk: {k: 2, index_heads: 3, index_dim: 4}";
	cr_assert_eq(run_bin(argv, NULL, &err), 1);
	cr_assert_str_eq(err, "sabench: pattern 'dsa_topk(k=2 index_heads=3 index_dim=4)': the inputs' indexer "
			      "has 2 heads of 4, the pattern's 3 of 4\n");
	free(err);
	argv[2] = "dsa_topk: {k: 2, index_heads: 2, index_dim: 4}";
	snprintf(spec, sizeof spec, "npy: {%s, q_index: '%s/qi.npy'}", files, dir);
	cr_assert_eq(run_bin(argv, NULL, &err), 2);
	cr_assert(strstr(err, "an indexer needs q_index, k_index and index_weights together"), "%s", err);
	free(err);
}
