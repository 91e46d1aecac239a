/* cli/model.c - model: a GGUF model's family and shape, and with a text,
 * its dense perplexity over the text's first tokens through sabench's
 * kernels, with where the forward pass spent its time. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../model/model.h"
#include "cli.h"

/* The file at path, NUL-terminated (malloc'ed), or NULL with why. */
static char *read_file(const char *path, size_t *n, char *why, size_t len)
{
	struct stat st;
	FILE *f;
	char *s;

	if (stat(path, &st) || !S_ISREG(st.st_mode) || !(f = fopen(path, "rb"))) {
		snprintf(why, len, "cannot read '%s': %s", path, S_ISREG(st.st_mode) ? "cannot open" : "not a regular file");
		return NULL;
	}
	s = malloc((size_t)st.st_size + 1);
	*n = s ? fread(s, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	if (!s) {
		snprintf(why, len, "out of memory reading '%s'", path);
		return NULL;
	}
	s[*n] = 0;
	return s;
}

/* Mean negative log-likelihood of tokens[1 .. n) under logits. */
static double mean_nll(const float *logits, const int32_t *tok, long n, long vocab)
{
	double sum = 0.0;

#pragma omp parallel for reduction(+ : sum) schedule(static)
	for (long i = 0; i < n - 1; i++) {
		const float *l = logits + (size_t)i * (size_t)vocab;
		double mx = l[0], z = 0.0;
		for (long v = 1; v < vocab; v++)
			mx = l[v] > mx ? l[v] : mx;
		for (long v = 0; v < vocab; v++)
			z += exp((double)l[v] - mx);
		sum += -((double)l[tok[i + 1]] - mx - log(z));
	}
	return sum / (double)(n - 1);
}

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

static int perplexity(const struct model *m, const char *text_path, long want, const char *kernel)
{
	char why[1024];
	size_t n_text = 0, n_tok = 0;
	char *text = read_file(text_path, &n_text, why, sizeof why);
	int32_t *tok = NULL;
	float *logits = NULL;
	struct model_run r = { .capture = -1, .last_layer = -1 };
	int rc = 1;

	if (!text || tok_encode(&m->tok, text, n_text, &tok, &n_tok, why, sizeof why)) {
		fprintf(stderr, "sabench: %s%s\n", text && !strncmp(why, "not UTF-8", 9) ? "the text is " : "", why);
		free(text);
		return text ? 2 : 1;
	}
	if ((long)n_tok < want)
		fprintf(stderr, "sabench: warning: '%s' has %zu tokens, fewer than %ld: using them all\n", text_path,
			n_tok, want);
	n_tok = (long)n_tok < want ? n_tok : (size_t)want;
	r.kernel = kernel ? kern_find(kernel) : NULL;
	if (kernel && !r.kernel) {
		fprintf(stderr, "sabench: unknown kernel '%s'\n", kernel);
		goto out;
	}
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
	double nll = mean_nll(logits, tok, (long)n_tok, m->n_vocab), tot = r.t.embed + r.t.norms + r.t.proj +
		     r.t.rope + r.t.attn + r.t.ffn + r.t.out;
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
	free(text);
	return rc;
}

int cmd_model(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "text", required_argument, NULL, 't' },
		{ "tokens", required_argument, NULL, 'n' },
		{ "kernel", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = cli_find("model")->usage, *text = NULL, *kernel = NULL;
	long tokens = 2048;
	struct model m;
	char why[1024];
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			text = optarg;
		else if (c == 'k')
			kernel = optarg;
		else if (c == 'n' && (cli_parse_long(optarg, 2, &tokens) || tokens > (1L << 24)))
			return cli_usage(use, "--tokens must be an integer in [2, 16777216], not '%s'", optarg);
		else if (c != 'n')
			return cli_usage(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return cli_usage(use, "%s", "model takes one GGUF file");
	if (model_load(&m, argv[optind], why, sizeof why)) {
		fprintf(stderr, "sabench: %s\n", why);
		return 2;
	}
	print_shape(&m, argv[optind]);
	if (text)
		rc = perplexity(&m, text, tokens < m.n_ctx ? tokens : m.n_ctx, kernel);
	model_free(&m);
	return rc;
}
