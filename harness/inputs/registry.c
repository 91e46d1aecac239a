/* registry.c - the one table of input kinds. Adding a kind is one file in
 * harness/inputs/ and one line here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inputs.h"

extern const struct inp_kind inp_gaussian, inp_synthetic, inp_npy, inp_model;

const struct inp_kind *const inp_kinds[] = {
	&inp_gaussian,          /* seeded uniform noise (the default) */
	&inp_synthetic,         /* head types of real LLMs, with RoPE */
	&inp_npy,               /* tensors captured from a model */
	&inp_model,             /* a real model's layer over a text (GGUF) */
};

const int inp_kind_count = (int)(sizeof inp_kinds / sizeof inp_kinds[0]);

const struct inp_kind *inp_default_kind(void)
{
	for (int i = 0; i < inp_kind_count; i++)
		if (inp_kinds[i]->is_default)
			return inp_kinds[i];
	return inp_kinds[0];
}

const struct inp_kind *inp_kind_find(const char *name)
{
	for (int i = 0; i < inp_kind_count; i++)
		if (!strcmp(inp_kinds[i]->name, name))
			return inp_kinds[i];
	return NULL;
}

int inp_param_index(const struct inp_kind *k, const char *name)
{
	for (int i = 0; i < k->n_params; i++)
		if (!strcmp(k->params[i].name, name))
			return i;
	return -1;
}

int inp_init(struct exp_input *in, const struct inp_kind *k)
{
	memset(in, 0, sizeof *in);
	in->kind = k;
	for (int i = 0; i < k->n_params; i++) {
		const struct pat_param *d = &k->params[i];
		size_t n = 0;
		if (d->type == PAT_INT)
			in->val[i].i = (long long)d->def;
		else if (d->type == PAT_FLOAT)
			in->val[i].f = d->def;
		if (d->type != PAT_WORDS || !d->def_words)
			continue;
		while (d->def_words[n] >= 0)
			n++;
		in->val[i].words.v = malloc(n * sizeof(int));
		if (!in->val[i].words.v)
			return -1;
		memcpy(in->val[i].words.v, d->def_words, n * sizeof(int));
		in->val[i].words.n = n;
	}
	return 0;
}

void inp_free(struct exp_input *in)
{
	if (!in->kind)
		return;
	if (in->kind->close)
		in->kind->close(in);
	for (int i = 0; i < in->kind->n_params; i++) {
		if (in->kind->params[i].type == PAT_WORDS)
			free(in->val[i].words.v);
		else if (in->kind->params[i].type == PAT_PATH)
			free(in->val[i].path);
	}
	memset(in, 0, sizeof *in);
}

/* 1 when parameter i of in holds its default. */
static int is_default(const struct exp_input *in, int i)
{
	const struct pat_param *d = &in->kind->params[i];
	const struct pat_words *w = &in->val[i].words;
	size_t n = 0;

	if (d->type == PAT_INT)
		return in->val[i].i == (long long)d->def;
	if (d->type == PAT_FLOAT)
		return in->val[i].f == d->def;
	if (d->type == PAT_PATH)
		return 0;
	while (d->def_words && d->def_words[n] >= 0)
		n++;
	if (n != w->n)
		return 0;
	for (size_t j = 0; j < n; j++)
		if (w->v[j] != d->def_words[j])
			return 0;
	return 1;
}

void inp_default_label(const struct exp_input *in, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "%s", in->kind->name);
	int shown = 0;

	for (int i = 0; i < in->kind->n_params && off < len; i++) {
		const struct pat_param *d = &in->kind->params[i];
		const char *base;
		if (is_default(in, i) || (d->type == PAT_PATH && i != in->kind->label_file))
			continue;       /* of the files, one's name stands for all */
		off += (size_t)snprintf(buf + off, len - off, "%s", shown ? " " : "(");
		shown = 1;
		if (off >= len)
			break;
		if (d->type == PAT_INT)
			off += (size_t)snprintf(buf + off, len - off, "%s=%lld", d->name, in->val[i].i);
		else if (d->type == PAT_FLOAT)
			off += (size_t)snprintf(buf + off, len - off, "%s=%g", d->name, in->val[i].f);
		else if (d->type == PAT_PATH) {
			base = strrchr(in->val[i].path, '/');
			off += (size_t)snprintf(buf + off, len - off, "%s", base ? base + 1 : in->val[i].path);
		} else {
			for (size_t j = 0; j < in->val[i].words.n && off < len; j++)
				off += (size_t)snprintf(buf + off, len - off, "%s%s", j ? " " : "",
							d->choices[in->val[i].words.v[j]]);
		}
	}
	if (shown && off < len)
		snprintf(buf + off, len - off, ")");
	for (char *s = buf; *s; s++)
		if (*s == ',' || *s == '"' || *s == '\n' || *s == '\r')
			*s = '_';       /* labels are CSV fields */
}
