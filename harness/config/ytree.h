/* ytree.h - a YAML document read through libyaml's event API into a small
 * tree of scalars, sequences and mappings that remember their 1-based
 * line and column, so every later check can name the place. */
#ifndef SABENCH_YTREE_H
#define SABENCH_YTREE_H

#include <stddef.h>

#include "../err.h"

#define YT_MAX_DEPTH 32                 /* nesting limit */
#define YT_MAX_BYTES (1 << 20)          /* file size limit */
#define YT_MAX_NODES 100000             /* node count limit */

enum yt_type { YT_SCALAR, YT_SEQ, YT_MAP };

struct ynode {
	enum yt_type type;      /* what this node is */
	int line, col;          /* 1-based start position */
	char *str;              /* YT_SCALAR: the text */
	int quoted;             /* YT_SCALAR: was quoted (never a number) */
	struct ynode **kid;     /* YT_SEQ: items; YT_MAP: key, value, ... */
	size_t n;               /* YT_SEQ: items; YT_MAP: 2 x pairs */
};

/* Parses the file at path; *root is NULL for an empty document. */
int yt_load_file(const char *path, struct ynode **root, struct err *e);

/* Parses text; name stands for the file in messages ("<spec>"). */
int yt_load_string(const char *name, const char *text, struct ynode **root,
		   struct err *e);

void yt_free(struct ynode *n);

/* Value of key in a mapping, or NULL. */
const struct ynode *yt_get(const struct ynode *map, const char *key);

/* What a node is, for messages: "a scalar", "a list", "a mapping". */
const char *yt_what(const struct ynode *n);

#endif
