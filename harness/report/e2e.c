/* e2e.c - reading e2e.csv back, its fronts, its report section and the
 * picture's points (e2e.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

#define GET(t, i, c) res_table_get((t), (i), (c))

/* Columns that hold text; every other is a number, empty where not
 * measured. */
static int text_column(const char *name)
{
	static const char *const text[] = { "design", "pattern", "layers", "kernel", "status", "reason" };

	for (size_t i = 0; i < sizeof text / sizeof *text; i++)
		if (!strcmp(name, text[i]))
			return 1;
	return 0;
}

const char e2e_header[] =
	"design,pattern,layers,context,tokens,scored,kl_mean,kl_p99,ppl,ppl_own,ppl_change,top1,"
	"needle_logprob,needle_logprob_own,needle_ratio,kv_bytes_per_token,prefill_s,prefill_attn_s,"
	"decode_s,decode_attn_s,decode_tok_s,layer_overlap,step_overlap,model_layers,model_windowed,"
	"model_window,kv_heads,head_dim,head_dim_v,designed_layers,designed_windowed,kernel,threads,"
	"status,reason";

int e2e_header_matches(const struct res_table *t)
{
	const char *at = e2e_header;

	for (int i = 0; i < t->ncol; i++) {
		size_t n = strlen(t->head[i]);
		if (strncmp(at, t->head[i], n) || (at[n] != ',' && at[n] != 0))
			return 0;
		at += n + (at[n] == ',');
	}
	return !*at;
}

static int check_row(const struct res_table *t, size_t i, const char *path, struct err *e)
{
	const char *st = GET(t, i, res_table_col(t, "status"));

	if (t->nfield[i] != t->ncol)
		return err_set(e, "'%s' line %ld: %d fields, the header has %d", path, t->line[i], t->nfield[i],
			       t->ncol);
	if (strcmp(st, "ok") && strcmp(st, "failed") && strcmp(st, "skipped"))
		return err_set(e, "'%s' line %ld: status '%s' is not ok, failed or skipped", path, t->line[i], st);
	for (int c = 0; c < t->ncol; c++) {
		const char *v = GET(t, i, c);
		char *end;
		double x;
		if (text_column(t->head[c]) || !v[0])
			continue;
		x = strtod(v, &end);
		/* log-probabilities and perplexity's change may be negative */
		if (*end || !isfinite(x) ||
		    (x < 0 && strcmp(t->head[c], "ppl_change") && strncmp(t->head[c], "needle_logprob", 14)))
			return err_set(e, "'%s' line %ld: column '%s' is '%s', not a finite %snumber", path, t->line[i],
				       t->head[c], v, strcmp(t->head[c], "ppl_change") ? "non-negative " : "");
	}
	if (!strcmp(st, "ok") && (!GET(t, i, res_table_col(t, "kl_mean"))[0] ||
				  !GET(t, i, res_table_col(t, "kv_bytes_per_token"))[0]))
		return err_set(e, "'%s' line %ld: an ok row without kl_mean or kv_bytes_per_token", path, t->line[i]);
	return 0;
}

int e2e_read(const char *dir, struct res_table *t, struct err *e)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/e2e.csv", dir);
	if (access(path, F_OK))
		return 1;
	if (res_table_read(path, t, e))
		return -1;
	if (!e2e_header_matches(t)) {
		res_table_free(t);
		return err_set(e, "'%s' is not an e2e.csv of this sabench: its header differs", path);
	}
	for (size_t i = 0; i < t->nrow; i++)
		if (check_row(t, i, path, e)) {
			res_table_free(t);
			return -1;
		}
	return 0;
}

double e2e_num(const struct res_table *t, size_t i, const char *col)
{
	const char *v = GET(t, i, res_table_col(t, col));

	return v[0] ? atof(v) : NAN;
}

int e2e_ok(const struct res_table *t, size_t i)
{
	return !strcmp(GET(t, i, res_table_col(t, "status")), "ok");
}

int e2e_on_front(const struct res_table *t, size_t i)
{
	const char *ctx = GET(t, i, res_table_col(t, "context"));
	double kv = e2e_num(t, i, "kv_bytes_per_token"), kl = e2e_num(t, i, "kl_mean");

	if (!e2e_ok(t, i))
		return 0;
	for (size_t j = 0; j < t->nrow; j++) {
		double kv2 = e2e_num(t, j, "kv_bytes_per_token"), kl2 = e2e_num(t, j, "kl_mean");
		if (j == i || !e2e_ok(t, j) || strcmp(GET(t, j, res_table_col(t, "context")), ctx))
			continue;
		if ((kv2 <= kv && kl2 < kl) || (kv2 < kv && kl2 <= kl) || (kv2 == kv && kl2 == kl && j < i))
			return 0;
	}
	return 1;
}

size_t e2e_contexts(const struct res_table *t, int ran, long *ctx, size_t room)
{
	int c = res_table_col(t, "context");
	size_t n = 0;

	for (size_t i = 0; i < t->nrow; i++) {
		long v = atol(GET(t, i, c));
		size_t j = 0;
		if (ran && !e2e_ok(t, i))
			continue;
		while (j < n && ctx[j] != v)
			j++;
		if (j == n && n < room)
			ctx[n++] = v;
	}
	return n;
}

/* A number for the table: fmt, or "-" when not measured. */
static const char *cell(const struct res_table *t, size_t i, const char *col, const char *fmt, double scale,
			char *buf, size_t len)
{
	double v = e2e_num(t, i, col);

	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, v * scale);
	return buf;
}

static void write_context(FILE *f, const struct res_table *t, long ctx)
{
	int cc = res_table_col(t, "context");
	char b[11][64];

	for (size_t i = 0; i < t->nrow; i++)
		if (atol(GET(t, i, cc)) == ctx) {
			fprintf(f, "### %ld tokens (%s in the text, the last %s scored)\n\n", ctx,
				GET(t, i, res_table_col(t, "tokens")), GET(t, i, res_table_col(t, "scored")));
			break;
		}
	fputs("| design | KV B/token | KL mean | KL p99 | perplexity | change | top-1 | needle | prefill s |"
	      " decode tok/s | overlap: layers | overlap: steps |\n"
	      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", f);
	for (size_t i = 0; i < t->nrow; i++) {
		if (atol(GET(t, i, cc)) != ctx)
			continue;
		if (!e2e_ok(t, i)) {
			fprintf(f, "| %s | %s: %s |||||||||||\n", GET(t, i, 0), GET(t, i, res_table_col(t, "status")),
				GET(t, i, res_table_col(t, "reason")));
			continue;
		}
		fprintf(f, "| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", GET(t, i, 0),
			e2e_on_front(t, i) ? " *" : "",
			cell(t, i, "kv_bytes_per_token", "%.0f", 1, b[0], 64), cell(t, i, "kl_mean", "%.4f", 1, b[1], 64),
			cell(t, i, "kl_p99", "%.3f", 1, b[2], 64), cell(t, i, "ppl", "%.3f", 1, b[3], 64),
			cell(t, i, "ppl_change", "%+.1f%%", 100, b[4], 64), cell(t, i, "top1", "%.3f", 1, b[5], 64),
			cell(t, i, "needle_ratio", "%.3g", 1, b[6], 64), cell(t, i, "prefill_s", "%.2f", 1, b[7], 64),
			cell(t, i, "decode_tok_s", "%.2f", 1, b[8], 64), cell(t, i, "layer_overlap", "%.3f", 1, b[9], 64),
			cell(t, i, "step_overlap", "%.3f", 1, b[10], 64));
	}
	fputc('\n', f);
}

void e2e_write_md(FILE *f, const char *dir)
{
	struct res_table t;
	struct err e;
	char path[4200];
	long ctx[64];
	int rc = e2e_read(dir, &t, &e);
	size_t n;

	if (rc > 0)
		return;
	fputs("## The whole model: each design inside the real model (e2e.csv)\n\n", f);
	if (rc < 0) {
		fprintf(f, "e2e.csv cannot be read: %s.\n\n", e.msg);
		return;
	}
	fprintf(f, "Each design attends in the layers it names inside the model's forward pass, through sabench's "
		"%s kernel on %s threads, against the model's own attention over the same tokens: KL(own || design) "
		"of the next-token distribution (mean and 99th percentile over the scored positions, nats), the "
		"text's perplexity there and its change, how often the top token agrees, the passkey's probability "
		"against the own pass's (needle; 1: as the model, near 0: lost), the f16 K and V a sequence keeps per "
		"token, prefill (the whole prompt and the last position's logits: time to first token, one run) and "
		"decode (tokens a second, the median of the steps), and for selected designs the share of a layer's "
		"kept keys the next designed layer keeps, and of a step's the next step keeps. * marks the front: no "
		"other design of that context keeps fewer bytes and moves the model less.\n\n",
		t.nrow ? GET(&t, 0, res_table_col(&t, "kernel")) : "-", t.nrow ? GET(&t, 0, res_table_col(&t, "threads")) : "-");
	n = e2e_contexts(&t, 0, ctx, sizeof ctx / sizeof *ctx);
	for (size_t k = 0; k < n; k++)
		write_context(f, &t, ctx[k]);
	snprintf(path, sizeof path, "%s/plots/e2e.png", dir);
	if (!access(path, R_OK))
		fputs("![KV bytes per token against KL, per context](plots/e2e.png)\n\n", f);
	res_table_free(&t);
}

int e2e_write_points(const char *dir, struct err *e)
{
	struct res_table t;
	char path[4200];
	FILE *f;
	int rc = e2e_read(dir, &t, e);

	if (rc)
		return rc;
	snprintf(path, sizeof path, "%s/e2e_front.csv", dir);
	if (!(f = fopen(path, "w"))) {
		res_table_free(&t);
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	}
	/* KL 0 (the own pass, a design that keeps every key) is drawn at 1e-6:
	 * the axis is logarithmic */
	fputs("context,design,pattern,kv_bytes_per_token,kl_mean,front,needle_ratio\n", f);
	for (size_t i = 0; i < t.nrow; i++) {
		double kl = e2e_num(&t, i, "kl_mean"), nr = e2e_num(&t, i, "needle_ratio");
		if (!e2e_ok(&t, i))
			continue;
		fprintf(f, "%s,", GET(&t, i, res_table_col(&t, "context")));
		res_csv_field(f, GET(&t, i, 0));
		fputc(',', f);
		res_csv_field(f, GET(&t, i, 1)[0] ? GET(&t, i, 1) : "own");
		fprintf(f, ",%.6g,%.6g,%d,%s\n", e2e_num(&t, i, "kv_bytes_per_token"), kl > 1e-6 ? kl : 1e-6,
			e2e_on_front(&t, i), isnan(nr) ? "" : GET(&t, i, res_table_col(&t, "needle_ratio")));
	}
	res_table_free(&t);
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}
