/* cli/model.c - model: a GGUF model's family and shape; with a text, its
 * dense perplexity over the text's first tokens through sabench's
 * kernels, with where the forward pass spent its time; with a design, the
 * whole model with that G in the layers named against dense (KL,
 * perplexity, top-1 agreement, a planted passkey, prefill time, KV). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../model/eval.h"
#include "../../model/model.h"
#include "../config/experiment.h"
#include "../textfile.h"
#include "cli.h"

static void print_shape(const struct model *m, const char *path)
{
	int windowed = 0;

	for (int il = 0; il < m->n_layer; il++)
		windowed += m->layer[il].windowed;
	printf("model %s: %s (%s)\n", path, m->fam->arch, m->fam->summary);
	printf("layers %d (%d windowed, window %ld), d_model %d, heads %d on %d K/V heads, head_dim %d, "
	       "ffn %d, vocabulary %ld, context %ld\n", m->n_layer, windowed, m->window, m->d_model, m->heads,
	       m->kv_heads, m->head_dim, m->n_ff, m->n_vocab, m->n_ctx);
	printf("global layers:");
	for (int il = 0; il < m->n_layer; il++)
		if (!m->layer[il].windowed)
			printf(" %d", il);
	printf("\n");
}

static int perplexity(const struct model *m, const char *text_path, const char *text, size_t n_text, long want,
		      const struct kern_desc *kernel)
{
	char why[1024];
	size_t n_tok = 0;
	int32_t *tok = NULL;
	float *logits = NULL;
	struct model_run r = { .capture = -1, .last_layer = -1, .kernel = kernel };
	int rc = 1;

	if (tok_encode(&m->tok, text, n_text, &tok, &n_tok, why, sizeof why)) {
		fprintf(stderr, "sabench: %s\n", why);
		return 1;
	}
	if ((long)n_tok < want)
		fprintf(stderr, "sabench: warning: '%s' has %zu tokens, fewer than %ld: using them all\n", text_path,
			n_tok, want);
	n_tok = (long)n_tok < want ? n_tok : (size_t)want;
	logits = malloc(n_tok * (size_t)m->n_vocab * sizeof *logits);
	if (!logits) {
		fprintf(stderr, "sabench: out of memory for the logits of %zu tokens\n", n_tok);
		goto out;
	}
	r.logits = logits;
	if (model_forward(m, tok, (long)n_tok, &r, why, sizeof why)) {
		fprintf(stderr, "sabench: %s\n", why);
		goto out;
	}
	double nll = -model_logprob(logits, tok, m->n_vocab, 1, (long)n_tok - 1) / (double)(n_tok - 1);
	double tot = model_times_total(&r.t);
	printf("text %s: %zu tokens (BOS %s), dense perplexity %.4f (mean NLL %.5f nats)\n", text_path, n_tok,
	       m->tok.add_bos ? "first" : "none", exp(nll), nll);
	printf("forward pass %.3f s: projections %.1f%%, attention %.1f%%, FFN %.1f%%, output layer %.1f%%, "
	       "norms and residuals %.1f%%, RoPE and QK-norm %.1f%%, embeddings %.1f%%\n", tot,
	       100 * r.t.proj / tot, 100 * r.t.attn / tot, 100 * r.t.ffn / tot, 100 * r.t.out / tot,
	       100 * r.t.norms / tot, 100 * r.t.rope / tot, 100 * r.t.embed / tot);
	rc = 0;
out:
	free(logits);
	free(tok);
	return rc;
}

static int compare_design(const struct model *m, const char *text, size_t n_text, long want,
			  const struct kern_desc *kernel, const char *spec, const char *which, int needle)
{
	char why[1024];
	size_t n_tok = 0;
	int32_t *tok = NULL;
	float *ld = NULL, *ls = NULL;
	int *take = calloc((size_t)m->n_layer, sizeof *take), rc = 1;
	const struct pattern **pat = calloc((size_t)m->n_layer, sizeof *pat);
	const struct pattern **own = calloc((size_t)m->n_layer, sizeof *own);  /* all NULL: the model's */
	struct pattern design;
	struct model_compare c;
	struct err e;
	long at = 0, k = 0;

	if (!take || !pat || !own) {
		fprintf(stderr, "sabench: out of memory\n");
		free(take);
		free(pat);
		free(own);
		return 1;
	}
	if (exp_parse_spec(spec, 1, &design, &e)) {
		fprintf(stderr, "sabench: %s\n", e.msg);
		free(take);
		free(pat);
		free(own);
		return 2;
	}
	if (model_layers_named(m, which, take)) {
		fprintf(stderr, "sabench: --layers must be global, all or layers 0 to %d as a list (5,11,17), not '%s'\n",
			m->n_layer - 1, which);
		rc = 2;
		goto out;
	}
	for (int il = 0; il < m->n_layer; il++)
		pat[il] = take[il] ? &design : NULL;
	if (needle ? model_needle(m, text, n_text, want, &tok, &n_tok, &at, &k, why, sizeof why)
		   : tok_encode(&m->tok, text, n_text, &tok, &n_tok, why, sizeof why)) {
		fprintf(stderr, "sabench: %s\n", why);
		goto out;
	}
	n_tok = (long)n_tok < want ? n_tok : (size_t)want;
	ld = malloc(n_tok * (size_t)m->n_vocab * sizeof *ld);
	ls = malloc(n_tok * (size_t)m->n_vocab * sizeof *ls);
	if (!ld || !ls) {
		fprintf(stderr, "sabench: out of memory for the logits of %zu tokens\n", n_tok);
		goto out;
	}
	struct model_run dense = { .capture = -1, .last_layer = -1, .logits = ld, .kernel = kernel };
	struct model_run des = { .pat = pat, .capture = -1, .last_layer = -1, .logits = ls, .kernel = kernel };
	if (model_forward(m, tok, (long)n_tok, &dense, why, sizeof why) ||
	    model_forward(m, tok, (long)n_tok, &des, why, sizeof why) ||
	    model_compare(ld, ls, tok, (long)n_tok, m->n_vocab, &c)) {
		fprintf(stderr, "sabench: %s\n", why);
		goto out;
	}
	printf("design %s on layers %s over %zu tokens%s\n", design.label, which, n_tok, needle ? " (needle text)" : "");
	printf("KL(dense || design) mean %.5f, p99 %.5f nats; perplexity %.4f against dense %.4f (%+.2f%%); "
	       "top-1 agreement %.4f\n", c.kl_mean, c.kl_p99, c.ppl_design, c.ppl_dense,
	       100 * (c.ppl_design / c.ppl_dense - 1), c.top1);
	if (needle && at + k == (long)n_tok) {
		double pd = model_logprob(ld, tok, m->n_vocab, at, k), ps = model_logprob(ls, tok, m->n_vocab, at, k);
		printf("needle: the passkey's %ld tokens at log-probability %.4f against dense %.4f (probability ratio %.4f)\n",
		       k, ps, pd, exp(ps - pd));
	}
	if (des.layer_pairs)
		printf("selection overlap between adjacent designed layers: %.4f of a layer's keys kept by the "
		       "next (mean over %ld pairs)\n", des.layer_overlap, des.layer_pairs);
	printf("prefill %.3f s against the model's own %.3f s (attention %.3f s against %.3f s); KV %.1f MiB a "
	       "sequence against its own %.1f MiB (f16)\n", model_times_total(&des.t), model_times_total(&dense.t), des.t.attn,
	       dense.t.attn, model_kv_bytes(m, pat, (long)n_tok) / 1048576.0, model_kv_bytes(m, own, (long)n_tok) / 1048576.0);
	rc = 0;
out:
	pat_free(&design);
	free(ld);
	free(ls);
	free(tok);
	free(take);
	free(pat);
	free(own);
	return rc;
}

int cmd_model(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "text", required_argument, NULL, 't' },
		{ "tokens", required_argument, NULL, 'n' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "design", required_argument, NULL, 'd' },
		{ "layers", required_argument, NULL, 'l' },
		{ "needle", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = cli_find("model")->usage, *text = NULL, *kernel = NULL, *design = NULL;
	const char *layers = "global";
	int needle = 0;
	long tokens = 2048;
	const struct kern_desc *kd = NULL;
	char *body = NULL;
	size_t n_body = 0;
	struct model m;
	struct err e;
	char why[1024];
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			text = optarg;
		else if (c == 'k')
			kernel = optarg;
		else if (c == 'd')
			design = optarg;
		else if (c == 'l')
			layers = optarg;
		else if (c == 'N')
			needle = 1;
		else if (c == 'n' && (cli_parse_long(optarg, 2, &tokens) || tokens > (1L << 24)))
			return cli_usage(use, "--tokens must be an integer in [2, 16777216], not '%s'", optarg);
		else if (c != 'n')
			return cli_usage(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return cli_usage(use, "%s", "model takes one GGUF file");
	if ((design || needle) && !text)
		return cli_usage(use, "%s", "--design and --needle need --text");
	if (kernel && !(kd = kern_find(kernel))) {
		fprintf(stderr, "sabench: unknown kernel '%s'\n", kernel);
		return 2;
	}
	if (text && text_read(text, "text", "", &body, &n_body, &e)) {
		fprintf(stderr, "sabench: %s\n", e.msg);
		return 2;
	}
	if (model_load(&m, argv[optind], why, sizeof why)) {
		fprintf(stderr, "sabench: %s\n", why);
		free(body);
		return 2;
	}
	print_shape(&m, argv[optind]);
	if (design)
		rc = compare_design(&m, body, n_body, tokens < m.n_ctx ? tokens : m.n_ctx, kd, design, layers, needle);
	else if (text)
		rc = perplexity(&m, text, body, n_body, tokens < m.n_ctx ? tokens : m.n_ctx, kd);
	free(body);
	model_free(&m);
	return rc;
}
