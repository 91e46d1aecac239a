/* family.h - a model family: one descriptor per architecture a GGUF
 * names (general.architecture), saying what its block is made of (norms,
 * attention with or without QK-norm, the FFN's activation, RoPE's form)
 * and which layers attend through a window. Adding a family is one file
 * and one table line (family.c); the forward pass (model.c) asks the
 * descriptor, never the name. */
#ifndef SABENCH_FAMILY_H
#define SABENCH_FAMILY_H

enum model_act {
	ACT_GELU_TANH,          /* GeGLU: gelu(gate) x up, tanh approximation (Gemma) */
	ACT_SILU,               /* SwiGLU: silu(gate) x up (Llama, Qwen2) */
};

enum model_rope {
	ROPE_NEOX,              /* channel i with i + d/2 (rotate half: Gemma, NeoX) */
	ROPE_NORM,              /* channel 2i with 2i + 1 (Llama as GGUF stores it) */
};

struct model_family {
	const char *arch;               /* general.architecture */
	const char *summary;            /* one line */
	enum model_act act;
	enum model_rope rope;
	int qk_norm;                    /* RMSNorm of each q and k head before RoPE */
	int post_norms;                 /* RMSNorm of attention's and the FFN's outputs */
	int embed_scale;                /* embeddings times sqrt(d_model) */
	int swa_period;                 /* every swa_period-th layer global, the others
					 * through the file's sliding window; 0: none */
	double swa_rope_base;           /* RoPE base of the windowed layers; 0: the file's */
};

extern const struct model_family *const model_families[];
extern const int model_family_count;

/* The family whose architecture is arch, or NULL. */
const struct model_family *model_family_find(const char *arch);

#endif
