/* synthetic.c - seeded inputs whose heads behave like the head types
 * reported for real LLMs: attention sinks (StreamingLLM), local and
 * A-shape heads, vertical-slash heads (MInference), retrieval heads, and
 * diffuse ones. The README states the formula; in short, for query i and
 * key j of a head of type t (temperature T):
 *
 *   s_ij = (L_t K_t(i - j) + H_t j / n + sigma_t e_ij) / T + A_s(i) [j sink]
 *        + (A_v(i) + b_j) [j vertical] + A_r(i) [j = needle(i)]
 *
 * K_t comes out of RoPE (base 10000, rotate-half pairs) on the first three
 * quarters of the channels: q and k carry constant pre-rotation vectors, so q.k
 * depends on i - j alone and peaks at the type's offsets (0 for local
 * heads, a few diagonals for slash lines). The last quarter of the
 * channels is not rotated (partial rotary, as GPT-NeoX and Phi): one channel marks
 * the sinks, one the vertical keys, one their log-weights b_j, one per
 * needle key, and the rest carry noise e_ij ~ N(0, 1). A_s, A_v and A_r are
 * set per query from the expected partition function of the positional
 * and noise parts, so that sinks, verticals and the needle each take their
 * stated share of the query's attention mass whatever i and n are. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "inputs.h"

enum {
	SYN_SEED, SYN_HEADS, SYN_TEMPERATURE, SYN_SINKS, SYN_SINK_MASS,
	SYN_LOCAL_SPAN, SYN_VERTICALS, SYN_VERTICAL_MASS, SYN_NEEDLES,
	SYN_RETRIEVAL_MASS, SYN_OUTLIERS, SYN_OUTLIER_SCALE, SYN_N_PARAMS
};

enum head_type { SINK_LOCAL, LOCAL, VERTICAL_SLASH, RETRIEVAL, DIFFUSE, HEAD_TYPES };

static const char *const head_type_names[] = {
	[SINK_LOCAL] = "sink_local", [LOCAL] = "local",
	[VERTICAL_SLASH] = "vertical_slash", [RETRIEVAL] = "retrieval",
	[DIFFUSE] = "diffuse", NULL,
};
static_assert(sizeof head_type_names / sizeof *head_type_names == HEAD_TYPES + 1,
	      "head_type_names: one per enum head_type, then NULL");

static const int default_heads[] = {
	SINK_LOCAL, LOCAL, VERTICAL_SLASH, RETRIEVAL, DIFFUSE, -1
};

#define MAX_OFFSETS 4

/* What each head type is made of: the positional kernel's strength L (in
 * nats at T = 1), its span as a multiple of local_span, the diagonals it
 * peaks on (offsets as multiples of local_span, plus 0 and 1 verbatim),
 * the noise sigma, and which stated shares it takes. */
struct type_desc {
	double strength;        /* L */
	double span_factor;     /* span = local_span x this (min 2) */
	int n_offsets;
	double offsets[MAX_OFFSETS];    /* >= 2: x local_span; 0 and 1 as is */
	double recency;         /* H: logit ramp over the sequence, nats */
	double sigma;           /* noise, nats */
	double sink_share;      /* x sink_mass */
	int verticals;          /* takes vertical_mass */
	int retrieval;          /* takes retrieval_mass */
};

static const struct type_desc types[] = {
	[SINK_LOCAL]     = { 6.0, 1.0,   1, { 0 },          24.0, 1.0, 1.0, 0, 0 },
	[LOCAL]          = { 8.0, 0.25,  1, { 0 },          40.0, 1.0, 0.0, 0, 0 },
	[VERTICAL_SLASH] = { 9.0, 0.125, 4, { 0, 1, 2, 8 }, 24.0, 1.0, 0.2, 1, 0 },
	[RETRIEVAL]      = { 3.0, 1.0,   1, { 0 },          16.0, 1.0, 0.0, 0, 1 },
	[DIFFUSE]        = { 0.0, 1.0,   1, { 0 },           0.0, 0.3, 0.0, 0, 0 },
};
static_assert(sizeof types / sizeof *types == HEAD_TYPES, "types: one per enum head_type");

static const struct pat_param synthetic_params[] = {
	[SYN_SEED] = { "seed", PAT_INT, 0, -1, -1, 9007199254740991.0,
		"seed of positions and noise; -1: the run's seed", NULL, NULL },
	[SYN_HEADS] = { "heads", PAT_WORDS, 0, 0, 0, 0,
		"head types, cycled over the query heads", head_type_names, default_heads },
	[SYN_TEMPERATURE] = { "temperature", PAT_FLOAT, 0, 1, 0.05, 100,
		"divides the positional and noise logits: higher is flatter", NULL, NULL },
	[SYN_SINKS] = { "sinks", PAT_INT, 0, 4, 1, 1024,
		"sink tokens at the start of the sequence", NULL, NULL },
	[SYN_SINK_MASS] = { "sink_mass", PAT_FLOAT, 0, 0.5, 0, 0.95,
		"share of a sink_local query's mass on the sinks (vertical_slash: a fifth)", NULL, NULL },
	[SYN_LOCAL_SPAN] = { "local_span", PAT_INT, 0, 64, 2, 1 << 20,
		"tokens over which the positional kernel decays", NULL, NULL },
	[SYN_VERTICALS] = { "verticals", PAT_INT, 0, 16, 0, 4096,
		"heavy-hitter keys at seeded positions (vertical_slash heads)", NULL, NULL },
	[SYN_VERTICAL_MASS] = { "vertical_mass", PAT_FLOAT, 0, 0.3, 0, 0.95,
		"share of a vertical_slash query's mass on the visible verticals", NULL, NULL },
	[SYN_NEEDLES] = { "needles", PAT_INT, 0, 8, 1, 64,
		"far keys retrieval queries look up (one each)", NULL, NULL },
	[SYN_RETRIEVAL_MASS] = { "retrieval_mass", PAT_FLOAT, 0, 0.6, 0, 0.95,
		"share of a retrieval query's mass on its needle", NULL, NULL },
	[SYN_OUTLIERS] = { "outlier_channels", PAT_INT, 0, 0, 0, 4096,
		"key channels (seeded, the same in every head) scaled up by outlier_scale, "
		"their query channels down by it: scores unchanged, K with outlier channels "
		"as real K caches have (KIVI, KVQuant)", NULL, NULL },
	[SYN_OUTLIER_SCALE] = { "outlier_scale", PAT_FLOAT, 0, 16, 1, 1e4,
		"the factor of outlier_channels", NULL, NULL },
};

/* What one (sequence, K/V head) shares across its query heads. */
struct kv_plan {
	long *vert;             /* vertical key positions, ascending */
	double *vert_w;         /* their weights w_j (b_j = log w_j) */
	int n_vert;
	long needle[64];        /* needle key positions */
	int n_needle;
};

/* The geometry of a head_dim: rotary pairs and content channels. */
struct layout {
	int d, rot, pairs;      /* channels, rotary channels, pairs */
	int ch_ramp, ch_sink, ch_vert, ch_bias, ch_needle;      /* content channels */
	int n_needle;           /* needle channels */
	int ch_noise, n_noise;  /* noise channels */
};

/* Rotary pairs on 3/4 of the channels, but at most d - 7: the content
 * part needs 3 recency channels, the sink, vertical and weight marks and
 * a noise channel (head_dim 16 and up), then up to `needles` needles. */
static void layout_of(int d, long needles, struct layout *l)
{
	l->d = d;
	l->rot = (3 * d / 4) & ~1;
	if (l->rot > d - 7)
		l->rot = (d - 7) & ~1;
	l->pairs = l->rot / 2;
	l->ch_ramp = l->rot;                    /* 3 channels: 1, x, x^2 */
	l->ch_sink = l->rot + 3;
	l->ch_vert = l->rot + 4;
	l->ch_bias = l->rot + 5;
	l->ch_needle = l->rot + 6;
	l->n_needle = (int)needles;
	if (l->n_needle > d - l->ch_needle - 1)
		l->n_needle = d - l->ch_needle - 1;     /* keep a noise channel */
	if (l->n_needle < 0)
		l->n_needle = 0;
	l->ch_noise = l->ch_needle + l->n_needle;
	l->n_noise = d - l->ch_noise;
}

static double theta(const struct layout *l, int p)
{
	return pow(10000.0, -2.0 * p / (double)l->rot);
}

static double uniform01(unsigned long long seed, unsigned long long a,
			unsigned long long b, unsigned long long c)
{
	unsigned long long x = inp_mix64(seed ^ inp_mix64(a * 0x100000001b3ULL ^
							  inp_mix64(b * 31 + c)));
	return ((double)(x >> 11) + 0.5) * 0x1.0p-53;
}

/* Standard normal from two seeded uniforms (Box-Muller). */
static double normal(unsigned long long seed, unsigned long long a,
		     unsigned long long b, unsigned long long c)
{
	double u = uniform01(seed, a, b, 2 * c), v = uniform01(seed, a, b, 2 * c + 1);

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static unsigned long long seed_of(const struct exp_input *in, unsigned long long run_seed)
{
	return in->val[SYN_SEED].i >= 0 ? (unsigned long long)in->val[SYN_SEED].i : run_seed;
}

static enum head_type type_of(const struct exp_input *in, int h)
{
	const struct pat_words *w = &in->val[SYN_HEADS].words;

	return (enum head_type)w->v[(size_t)h % w->n];
}

/* Per-pair weights of a type's positional kernel: equal over the pairs
 * that turn at least once per span (theta >= 1/span), summing to 1. */
static void kernel_weights(const struct layout *l, double span, double *w)
{
	double sum = 0.0;

	for (int p = 0; p < l->pairs; p++) {
		w[p] = p == 0 || theta(l, p) >= 1.0 / span ? 1.0 : 0.0;
		sum += w[p];
	}
	for (int p = 0; p < l->pairs; p++)
		w[p] /= sum;
}

static double type_offset(const struct type_desc *t, int o, long span)
{
	return t->offsets[o] >= 2 ? t->offsets[o] * (double)span : t->offsets[o];
}

/* The positional logit at distance delta = i - j (before temperature). */
static double kernel_at(const struct layout *l, const struct type_desc *t,
			const double *w, long span, double delta)
{
	double s = 0.0;

	for (int o = 0; o < t->n_offsets; o++)
		for (int p = 0; p < l->pairs; p++)
			if (w[p] > 0)
				s += w[p] * cos(theta(l, p) * (delta - type_offset(t, o, span)));
	return t->strength * s;
}

/* Seeded distinct positions in [lo, n), ascending; returns how many. */
static int pick_positions(unsigned long long seed, unsigned long long tag,
			  long lo, long n, int want, long *out)
{
	int have = 0;

	if (n - lo < want)
		want = (int)(n - lo > 0 ? n - lo : 0);
	for (unsigned long long a = 0; have < want; a++) {
		long j = lo + (long)(uniform01(seed, tag, a, 0) * (double)(n - lo));
		int k;
		for (k = 0; k < have && out[k] != j; k++)
			;
		if (k == have)
			out[have++] = j;
	}
	for (int a = 1; a < have; a++)          /* insertion sort: few items */
		for (int b = a; b > 0 && out[b] < out[b - 1]; b--) {
			long t = out[b];
			out[b] = out[b - 1];
			out[b - 1] = t;
		}
	return have;
}

static int plan_kv(const struct exp_input *in, unsigned long long seed, int b,
		   int kvh, long n, const struct layout *l, struct kv_plan *kp)
{
	long sinks = in->val[SYN_SINKS].i;
	unsigned long long tag = ((unsigned long long)b << 32) | (unsigned)kvh;

	memset(kp, 0, sizeof *kp);
	kp->vert = malloc(((size_t)in->val[SYN_VERTICALS].i + 1) * sizeof *kp->vert);
	kp->vert_w = malloc(((size_t)in->val[SYN_VERTICALS].i + 1) * sizeof *kp->vert_w);
	if (!kp->vert || !kp->vert_w)
		return -1;
	kp->n_vert = pick_positions(seed, tag * 4 + 1, sinks, n, (int)in->val[SYN_VERTICALS].i,
				    kp->vert);
	for (int a = 0; a < kp->n_vert; a++)
		kp->vert_w[a] = exp(2.0 * uniform01(seed, tag * 4 + 2, (unsigned long long)a, 0) - 1.0);
	kp->n_needle = pick_positions(seed, tag * 4 + 3, sinks, n, l->n_needle, kp->needle);
	return 0;
}

static void free_kv(struct kv_plan *kp)
{
	free(kp->vert);
	free(kp->vert_w);
}

static int is_vertical(const struct kv_plan *kp, long j, double *w)
{
	int lo = 0, hi = kp->n_vert;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (kp->vert[mid] < j)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < kp->n_vert && kp->vert[lo] == j) {
		*w = kp->vert_w[lo];
		return 1;
	}
	return 0;
}

/* Key j of one K/V head: unit rotary pairs at angle theta_p j, the
 * content marks, and noise scaled so q.k's noise part has the query's
 * sigma. */
static void make_key(const struct exp_input *in, unsigned long long seed,
		     unsigned long long tag, const struct layout *l,
		     const struct kv_plan *kp, long j, long n_kv, float *k)
{
	double w, inv = 1.0 / sqrt((double)l->n_noise);

	for (int p = 0; p < l->pairs; p++) {
		k[p] = (float)cos(theta(l, p) * (double)j);
		k[p + l->pairs] = (float)sin(theta(l, p) * (double)j);
	}
	for (int c = l->rot; c < l->d; c++)
		k[c] = 0.0f;
	k[l->ch_ramp] = 1.0f;                   /* x = j / n: [1, x, x^2] */
	k[l->ch_ramp + 1] = (float)((double)j / (double)n_kv);
	k[l->ch_ramp + 2] = (float)((double)j / (double)n_kv * (double)j / (double)n_kv);
	k[l->ch_sink] = j < in->val[SYN_SINKS].i ? 1.0f : 0.0f;
	if (is_vertical(kp, j, &w)) {
		k[l->ch_vert] = 1.0f;
		k[l->ch_bias] = (float)log(w);
	}
	for (int r = 0; r < kp->n_needle; r++)
		if (kp->needle[r] == j)
			k[l->ch_needle + r] = 1.0f;
	for (int c = 0; c < l->n_noise; c++)
		k[l->ch_noise + c] = (float)(inv * normal(seed, tag * 2 + 1, (unsigned long long)j,
							  (unsigned long long)c));
}

/* One query head's positional kernel, tabulated over distances. */
struct head_kernel {
	const struct type_desc *t;
	double w[512];          /* pair weights */
	long span;
	double scale;           /* 1 / T */
	double recency;         /* the type's H */
	int bidirectional;      /* keys on both sides: a quadratic decay */
	double *e;              /* exp(L K(delta) / T) at delta + n - 1 */
	double *cum;            /* suffix sums of e: cum[x] = sum e[x, 2n) */
	long n;
};

/* The recency logit at x = (i - j) / n: causal, -H x (a softmax over
 * H j / n: exponential decay with distance); bidirectional, -4 H x^2 (a
 * ramp over j would pull every query to the sequence's end). */
static double recency_logit(const struct head_kernel *hk, double x)
{
	return hk->bidirectional ? -4.0 * hk->recency * x * x : -hk->recency * x;
}

/* The query's part of the recency logit against k = [1, x_j, x_j^2]
 * (scale included): [0, H, 0], or -4H [x_i^2, -2 x_i, 1]. */
static void recency_query(const struct head_kernel *hk, double xi, double scale,
			  float *q)
{
	double h = hk->recency * scale;

	if (!hk->bidirectional) {
		q[0] = 0.0f;
		q[1] = (float)h;
		q[2] = 0.0f;
		return;
	}
	q[0] = (float)(-4.0 * h * xi * xi);
	q[1] = (float)(8.0 * h * xi);
	q[2] = (float)(-4.0 * h);
}

static int tabulate(struct head_kernel *hk, const struct layout *l, long n)
{
	size_t m = 2 * (size_t)n;

	hk->n = n;
	hk->e = malloc(m * sizeof *hk->e);
	hk->cum = malloc((m + 1) * sizeof *hk->cum);
	if (!hk->e || !hk->cum)
		return -1;
	for (size_t x = 0; x < m - 1; x++) {
		double delta = (double)x - (double)(n - 1);
		hk->e[x] = exp(hk->scale * (kernel_at(l, hk->t, hk->w, hk->span, delta) +
					    recency_logit(hk, delta / (double)n)));
	}
	hk->e[m - 1] = 0.0;
	/* suffix sums from the far past, where weights are smallest, so a
	 * difference over a few far keys (the sinks) does not cancel */
	hk->cum[m] = 0.0;
	for (size_t x = m; x-- > 0;)
		hk->cum[x] = hk->cum[x + 1] + hk->e[x];
	return 0;
}

/* exp of the positional logit between query i and key j. */
static double pos_weight(const struct head_kernel *hk, long i, long j)
{
	return hk->e[i - j + hk->n - 1];
}

/* Sum of pos_weight over keys [lo, hi). */
static double pos_sum(const struct head_kernel *hk, long i, long lo, long hi)
{
	/* keys j in [lo, hi) sit at x = i - j + n - 1 in [i - hi + n, i - lo + n) */
	return hk->cum[i - hi + hk->n] - hk->cum[i - lo + hk->n];
}

/* The needle a query at i looks up: one of those at least 2 spans back. */
static long needle_of(const struct kv_plan *kp, unsigned long long seed,
		      unsigned long long tag, long i, long span)
{
	int ok = 0, pick;

	for (int r = 0; r < kp->n_needle; r++)
		ok += kp->needle[r] <= i - 2 * span;
	if (!ok)
		return -1;
	pick = (int)(uniform01(seed, tag * 2 + 1, (unsigned long long)i, 7) * ok);
	for (int r = 0; r < kp->n_needle; r++)
		if (kp->needle[r] <= i - 2 * span && pick-- == 0)
			return r;
	return -1;
}

/* exp(positional + noise logit) of key j for query i, from the key's
 * stored noise channels (kh: this K/V head's keys). */
static double key_weight(const struct head_kernel *hk, const struct layout *l,
			 const float *kh, const double *noise, double sigma,
			 long i, long j)
{
	const float *k = kh + (size_t)j * (size_t)l->d + (size_t)l->ch_noise;
	double e = 0.0;

	for (int c = 0; c < l->n_noise; c++)
		e += noise[c] * (double)k[c];
	return pos_weight(hk, i, j) * exp(sigma * e);
}

/* The weights a query's marks must beat: the positional and noise parts
 * of every key (exact near the diagonal, where few keys carry most of it,
 * the expectation beyond), and of the marked keys themselves. */
struct query_weights {
	double base;            /* all keys visible to the query */
	double sinks, verticals, needle;        /* the marked keys */
};

static void weigh_query(const struct exp_input *in, const struct layout *l,
			const struct kv_plan *kp, const struct head_kernel *hk,
			const float *kh, const double *noise, double sigma,
			double g2, long i, long hi, long needle,
			struct query_weights *w)
{
	const struct type_desc *t = hk->t;
	double far = exp(0.5 * sigma * sigma * g2 / l->n_noise);  /* E exp(noise) */
	long reach = 4 * hk->span + 1, sinks = in->val[SYN_SINKS].i;
	long lo_near, hi_near;

	for (int o = 0; o < t->n_offsets; o++)
		if (type_offset(t, o, hk->span) + 4 * hk->span + 1 > reach)
			reach = (long)type_offset(t, o, hk->span) + 4 * hk->span + 1;
	lo_near = i - reach > 0 ? i - reach : 0;
	hi_near = i + reach < hi ? i + reach : hi;
	memset(w, 0, sizeof *w);
	for (long j = lo_near; j < hi_near; j++)
		w->base += key_weight(hk, l, kh, noise, sigma, i, j);
	w->base += far * (pos_sum(hk, i, 0, lo_near) + pos_sum(hk, i, hi_near, hi));
	for (long j = 0; j < sinks && j < hi; j++)
		w->sinks += key_weight(hk, l, kh, noise, sigma, i, j);
	for (int a = 0; t->verticals && a < kp->n_vert && kp->vert[a] < hi; a++)
		w->verticals += kp->vert_w[a] * key_weight(hk, l, kh, noise, sigma, i, kp->vert[a]);
	if (needle >= 0)
		w->needle = key_weight(hk, l, kh, noise, sigma, i, kp->needle[needle]);
}

/* The stated shares of query i's mass: sinks, verticals, needle. */
static void query_shares(const struct exp_input *in, const struct type_desc *t,
			 const struct query_weights *w, double m[3])
{
	double sum;

	m[0] = w->sinks > 0 ? t->sink_share * in->val[SYN_SINK_MASS].f : 0.0;
	m[1] = w->verticals > 0 ? in->val[SYN_VERTICAL_MASS].f : 0.0;
	m[2] = w->needle > 0 ? in->val[SYN_RETRIEVAL_MASS].f : 0.0;
	sum = m[0] + m[1] + m[2];
	if (sum > 0.95)                         /* keep some mass for the rest */
		for (int c = 0; c < 3; c++)
			m[c] *= 0.95 / sum;
}

/* The rotary half of a query: constant pre-rotation vectors at the
 * type's offsets, rotated to position i. */
static void rotary_query(const struct layout *l, const struct head_kernel *hk,
			 long i, double scale, float *q)
{
	const struct type_desc *t = hk->t;

	for (int p = 0; p < l->pairs; p++) {
		double a = 0.0, b = 0.0, amp = t->strength * hk->w[p] * hk->scale;
		for (int o = 0; o < t->n_offsets && amp > 0; o++) {
			double ang = theta(l, p) * ((double)i - type_offset(t, o, hk->span));
			a += amp * cos(ang);
			b += amp * sin(ang);
		}
		q[p] = (float)(a * scale);
		q[p + l->pairs] = (float)(b * scale);
	}
}

/* Query i (absolute position) of one head into q (d channels); kh holds
 * the K/V head's keys, already made. */
static void make_query(const struct exp_input *in, unsigned long long seed,
		       unsigned long long tag, const struct layout *l,
		       const struct kv_plan *kp, const struct head_kernel *hk,
		       const float *kh, long i, long n_kv, int causal_keys, float *q)
{
	const struct type_desc *t = hk->t;
	double sigma = t->sigma * hk->scale, g2 = 0.0, noise[4096], m[3], rest, total;
	double rot_scale = sqrt((double)l->d);   /* kernels divide q.k by sqrt(d) */
	long hi = causal_keys ? i + 1 : n_kv, needle = -1;
	struct query_weights w;

	for (int c = 0; c < l->n_noise; c++) {
		noise[c] = normal(seed, tag * 2, (unsigned long long)i, (unsigned long long)c);
		g2 += noise[c] * noise[c];
	}
	if (t->retrieval)
		needle = needle_of(kp, seed, tag, i, hk->span);
	weigh_query(in, l, kp, hk, kh, noise, sigma, g2, i, hi, needle, &w);
	query_shares(in, t, &w, m);
	/* the unmarked keys keep 1 - sum m of the mass; marked keys' own
	 * positional weight is replaced by their mark's */
	rest = w.base - (m[0] > 0 ? w.sinks : 0) - (m[1] > 0 ? w.verticals : 0) -
	       (m[2] > 0 ? w.needle : 0);
	if (rest < 1e-300)
		rest = 1e-300;
	total = rest / (1.0 - m[0] - m[1] - m[2]);
	for (int c = 0; c < l->d; c++)
		q[c] = 0.0f;
	rotary_query(l, hk, i, rot_scale, q);
	/* each mark's logit gives its keys their share: log(m total / weight) */
	if (m[0] > 0)
		q[l->ch_sink] = (float)(rot_scale * log(m[0] * total / w.sinks));
	if (m[1] > 0) {
		q[l->ch_vert] = (float)(rot_scale * log(m[1] * total / w.verticals));
		q[l->ch_bias] = (float)rot_scale;
	}
	if (m[2] > 0)
		q[l->ch_needle + needle] = (float)(rot_scale * log(m[2] * total / w.needle));
	recency_query(hk, (double)i / (double)n_kv, rot_scale * hk->scale, q + l->ch_ramp);
	for (int c = 0; c < l->n_noise; c++)
		q[l->ch_noise + c] = (float)(rot_scale * sigma * noise[c]);
}

/* The seed tag of a query head's draws (noise, needle choice). */
static unsigned long long query_tag(int b, int h)
{
	return ((unsigned long long)b << 32) | (unsigned)h | (1ULL << 31);
}

/* outlier_channels seeded channels of every K row times outlier_scale,
 * and of every Q row over it: each q . k is kept (up to rounding), the
 * K cache gains the outlier channels per-token quantisers suffer from. */
static void add_outliers(const struct exp_input *in, const struct problem *p,
			 unsigned long long seed, float *q, float *k)
{
	long n = in->val[SYN_OUTLIERS].i < p->d ? in->val[SYN_OUTLIERS].i : p->d;
	float a = (float)in->val[SYN_OUTLIER_SCALE].f;
	size_t rows_k = (size_t)p->batch * p->kv_heads * (size_t)p->n_kv;
	size_t rows_q = (size_t)p->batch * p->heads * (size_t)p->n_q;
	int *ch = malloc((size_t)p->d * sizeof *ch);

	if (!ch || n <= 0) {
		free(ch);
		return;
	}
	for (int c = 0; c < p->d; c++)
		ch[c] = c;
	for (int c = p->d - 1; c > 0; c--) {    /* seeded shuffle; the first n */
		int j = (int)(uniform01(seed, 91, (unsigned long long)c, 0) * (c + 1));
		int t = ch[c];
		ch[c] = ch[j > c ? c : j];
		ch[j > c ? c : j] = t;
	}
#pragma omp parallel for schedule(static)
	for (size_t r = 0; r < rows_k; r++)
		for (long i = 0; i < n; i++)
			k[r * (size_t)p->d + (size_t)ch[i]] *= a;
#pragma omp parallel for schedule(static)
	for (size_t r = 0; r < rows_q; r++)
		for (long i = 0; i < n; i++)
			q[r * (size_t)p->d + (size_t)ch[i]] /= a;
	free(ch);
}

static int synthetic_fill(const struct exp_input *in, const struct problem *p,
			  float *q, float *k, float *v, unsigned long long run_seed)
{
	unsigned long long seed = seed_of(in, run_seed);
	struct layout l;
	size_t nv = (size_t)p->batch * p->kv_heads * p->n_kv * kern_dv(p);
	int bkv = p->batch * p->kv_heads, failed = 0, causal = p->g ? p->g->causal : 1;

	layout_of(p->d, in->val[SYN_NEEDLES].i, &l);
	if (p->d < 8 || l.n_noise < 1 || l.pairs > 512)
		return -1;
#pragma omp parallel for schedule(static)
	for (size_t x = 0; x < nv; x++)         /* values carry no structure */
		v[x] = inp_uniform(seed, 3, x);
#pragma omp parallel for schedule(dynamic, 1) reduction(|:failed)
	for (int t = 0; t < bkv; t++) {
		int b = t / p->kv_heads, kvh = t % p->kv_heads, group = p->heads / p->kv_heads;
		unsigned long long tag = ((unsigned long long)b << 32) | (unsigned)kvh;
		struct kv_plan kp;
		if (plan_kv(in, seed, b, kvh, p->n_kv, &l, &kp)) {
			failed = 1;
			free_kv(&kp);
			continue;
		}
		for (long j = 0; j < p->n_kv; j++)
			make_key(in, seed, tag, &l, &kp, j, p->n_kv,
				 k + ((size_t)t * (size_t)p->n_kv + (size_t)j) * (size_t)p->d);
		for (int hh = 0; hh < group && !failed; hh++) {
			int h = kvh * group + hh;
			unsigned long long qtag = query_tag(b, h);
			struct head_kernel hk = { .t = &types[type_of(in, h)] };
			float *qh = q + kern_q_off(p, b, h);
			hk.span = (long)(in->val[SYN_LOCAL_SPAN].i * hk.t->span_factor);
			hk.span = hk.span < 2 ? 2 : hk.span;
			hk.scale = 1.0 / in->val[SYN_TEMPERATURE].f;
			hk.recency = hk.t->recency;
			hk.bidirectional = !causal;
			kernel_weights(&l, (double)hk.span, hk.w);
			if (tabulate(&hk, &l, p->n_kv)) {
				failed = 1;
			} else {
				for (long r = 0; r < p->n_q; r++)
					make_query(in, seed, qtag, &l, &kp, &hk,
						   k + (size_t)t * (size_t)p->n_kv * (size_t)p->d, p->n_kv - p->n_q + r,
						   p->n_kv, causal, qh + (size_t)r * (size_t)p->d);
			}
			free(hk.e);
			free(hk.cum);
		}
		free_kv(&kp);
	}
	if (!failed)
		add_outliers(in, p, seed, q, k);
	return failed ? -1 : 0;
}

int inp_synthetic_marks(const struct exp_input *in, const struct problem *p,
			unsigned long long run_seed, int b, int h, long i,
			unsigned char *mark)
{
	unsigned long long seed = seed_of(in, run_seed);
	int kvh = h / (p->heads / p->kv_heads);
	const struct type_desc *t = &types[type_of(in, h)];
	struct head_kernel hk = { .t = t };
	struct layout l;
	struct kv_plan kp;
	long needle;

	layout_of(p->d, in->val[SYN_NEEDLES].i, &l);
	if (plan_kv(in, seed, b, kvh, p->n_kv, &l, &kp)) {
		free_kv(&kp);
		return -1;
	}
	hk.span = (long)(in->val[SYN_LOCAL_SPAN].i * t->span_factor);
	hk.span = hk.span < 2 ? 2 : hk.span;
	memset(mark, INP_MARK_NONE, (size_t)p->n_kv);
	for (long j = 0; t->sink_share > 0 && j < in->val[SYN_SINKS].i && j < p->n_kv; j++)
		mark[j] = INP_MARK_SINK;
	for (int a = 0; t->verticals && a < kp.n_vert; a++)
		mark[kp.vert[a]] = INP_MARK_VERTICAL;
	needle = t->retrieval ? needle_of(&kp, seed, query_tag(b, h), i, hk.span) : -1;
	if (needle >= 0)
		mark[kp.needle[needle]] = INP_MARK_NEEDLE;
	free_kv(&kp);
	return 0;
}

static const char *synthetic_head_type(const struct exp_input *in, int h)
{
	return head_type_names[type_of(in, h)];
}

const struct inp_kind inp_synthetic = {
	.name = "synthetic",                    /* YAML key */
	.summary = "seeded heads shaped like real LLM heads: sinks, local, vertical-slash, retrieval, diffuse (RoPE)",
	.params = synthetic_params,             /* seed, heads, shares, ... */
	.n_params = SYN_N_PARAMS,
	.open = NULL,                           /* parameters say it all */
	.close = NULL,
	.fill = synthetic_fill,                 /* K/V heads in parallel */
	.head_type = synthetic_head_type,       /* the cycled list */
	.min_head_dim = 16,                     /* rotary pairs + marks + noise */
	.label_file = -1,                       /* no files */
};
