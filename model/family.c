/* family.c - the model families sabench runs, one descriptor a line of
 * the table (family.h). Gemma 3 from its Hugging Face config and
 * llama.cpp's graph (REFERENCES.md section 10): four norms a block,
 * QK-norm, GeGLU, rotate-half RoPE, five windowed layers (base 10^4) to
 * one global (the file's base). Llama (and Qwen2-style files without
 * biases): two norms, SwiGLU, pairwise RoPE, every layer global. */
#include <string.h>

#include "family.h"

static const struct model_family gemma3 = {
	.arch = "gemma3",
	.summary = "Gemma 3: QK-norm, four norms a block, GeGLU, 5 windowed layers to 1 global",
	.act = ACT_GELU_TANH,           /* gelu_pytorch_tanh */
	.rope = ROPE_NEOX,              /* rotate half */
	.qk_norm = 1,
	.post_norms = 1,                /* post_attention_norm, post_ffw_norm */
	.embed_scale = 1,               /* x sqrt(d_model) */
	.swa_period = 6,                /* layers 5, 11, 17 global */
	.swa_rope_base = 10000.0,       /* local layers; global ones the file's 10^6 */
};

static const struct model_family llama = {
	.arch = "llama",
	.summary = "Llama: two norms a block, SwiGLU, pairwise RoPE, every layer global",
	.act = ACT_SILU,
	.rope = ROPE_NORM,
	.qk_norm = 0,
	.post_norms = 0,
	.embed_scale = 0,
	.swa_period = 0,
	.swa_rope_base = 0.0,
};

const struct model_family *const model_families[] = {
	&gemma3,                /* Google's Gemma 3 (270M reachable here) */
	&llama,                 /* Llama 2/3 and files of its layout */
};

const int model_family_count = (int)(sizeof model_families / sizeof *model_families);

const struct model_family *model_family_find(const char *arch)
{
	for (int i = 0; i < model_family_count; i++)
		if (!strcmp(model_families[i]->arch, arch))
			return model_families[i];
	return NULL;
}
