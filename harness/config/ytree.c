/* ytree.c - builds the ytree from libyaml events. Refuses what sabench
 * does not need and what can be abused: aliases and anchors, duplicate
 * keys, tags, more than one document, deep nesting, huge files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "ytree.h"

struct yt_reader {
	yaml_parser_t parser;   /* libyaml state */
	const char *name;       /* file name for messages */
	size_t nodes;           /* nodes made so far */
	struct err *e;          /* where errors go */
};

static struct ynode *yt_new(struct yt_reader *rd, enum yt_type t,
			    const yaml_mark_t *m)
{
	struct ynode *n;

	if (++rd->nodes > YT_MAX_NODES) {
		err_at(rd->e, rd->name, (int)m->line + 1, (int)m->column + 1,
		       "document too large: more than %d nodes", YT_MAX_NODES);
		return NULL;
	}
	n = calloc(1, sizeof *n);
	if (!n) {
		err_at(rd->e, rd->name, (int)m->line + 1, (int)m->column + 1,
		       "out of memory reading the document");
		return NULL;
	}
	n->type = t;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

static int yt_push(struct ynode *parent, struct ynode *kid, struct err *e)
{
	struct ynode **k = realloc(parent->kid, (parent->n + 1) * sizeof *k);

	if (!k) {
		yt_free(kid);
		return err_set(e, "out of memory reading the document");
	}
	parent->kid = k;
	parent->kid[parent->n++] = kid;
	return 0;
}

static int yt_next(struct yt_reader *rd, yaml_event_t *ev)
{
	if (yaml_parser_parse(&rd->parser, ev))
		return 0;
	return err_at(rd->e, rd->name, (int)rd->parser.problem_mark.line + 1,
		      (int)rd->parser.problem_mark.column + 1,
		      "yaml syntax error: %s%s%s",
		      rd->parser.problem ? rd->parser.problem : "unknown",
		      rd->parser.context ? " " : "",
		      rd->parser.context ? rd->parser.context : "");
}

static int yt_node(struct yt_reader *rd, yaml_event_t *ev, int depth,
		   struct ynode **out);

/* Reads items until the end event of a sequence or mapping. */
static int yt_children(struct yt_reader *rd, struct ynode *n, int depth,
		       yaml_event_type_t end)
{
	for (;;) {
		yaml_event_t ev;
		struct ynode *kid;

		if (yt_next(rd, &ev))
			return -1;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (yt_node(rd, &ev, depth + 1, &kid))
			return -1;
		if (n->type == YT_MAP && n->n % 2 == 0) {
			if (kid->type != YT_SCALAR) {
				err_at(rd->e, rd->name, kid->line, kid->col,
				       "mapping key must be a scalar, not %s",
				       yt_what(kid));
				yt_free(kid);
				return -1;
			}
			if (yt_get(n, kid->str)) {
				err_at(rd->e, rd->name, kid->line, kid->col,
				       "duplicate key '%s'", kid->str);
				yt_free(kid);
				return -1;
			}
		}
		if (yt_push(n, kid, rd->e))
			return -1;
	}
}

/* Turns ev (consumed) and what follows into *out. */
static int yt_node(struct yt_reader *rd, yaml_event_t *ev, int depth,
		   struct ynode **out)
{
	const yaml_mark_t *m = &ev->start_mark;
	struct ynode *n = NULL;
	int rc = 0;

	*out = NULL;
	if (depth > YT_MAX_DEPTH) {
		rc = err_at(rd->e, rd->name, (int)m->line + 1, (int)m->column + 1,
			    "document nested deeper than %d levels", YT_MAX_DEPTH);
	} else if (ev->type == YAML_ALIAS_EVENT ||
		   (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
		   (ev->type == YAML_SEQUENCE_START_EVENT &&
		    ev->data.sequence_start.anchor) ||
		   (ev->type == YAML_MAPPING_START_EVENT &&
		    ev->data.mapping_start.anchor)) {
		rc = err_at(rd->e, rd->name, (int)m->line + 1, (int)m->column + 1,
			    "anchors and aliases are not supported");
	} else if (ev->type == YAML_SCALAR_EVENT) {
		n = yt_new(rd, YT_SCALAR, m);
		if (n) {
			n->str = strdup((const char *)ev->data.scalar.value);
			n->quoted = ev->data.scalar.style !=
				    YAML_PLAIN_SCALAR_STYLE;
		}
		if (n && !n->str)
			rc = err_set(rd->e, "out of memory reading the document");
		else if (!n)
			rc = -1;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT ||
		   ev->type == YAML_MAPPING_START_EVENT) {
		int seq = ev->type == YAML_SEQUENCE_START_EVENT;
		n = yt_new(rd, seq ? YT_SEQ : YT_MAP, m);
		rc = n ? yt_children(rd, n, depth,
				     seq ? YAML_SEQUENCE_END_EVENT
					 : YAML_MAPPING_END_EVENT)
		       : -1;
	} else {
		rc = err_at(rd->e, rd->name, (int)m->line + 1, (int)m->column + 1,
			    "unexpected yaml event");
	}
	yaml_event_delete(ev);
	if (rc) {
		yt_free(n);
		return -1;
	}
	*out = n;
	return 0;
}

/* Reads the stream: exactly one document, or none. */
static int yt_stream(struct yt_reader *rd, struct ynode **root)
{
	yaml_event_t ev;
	int rc = -1;

	*root = NULL;
	if (yt_next(rd, &ev))
		return -1;
	yaml_event_delete(&ev);                 /* STREAM-START */
	if (yt_next(rd, &ev))
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;                       /* empty file */
	}
	yaml_event_delete(&ev);                 /* DOCUMENT-START */
	if (yt_next(rd, &ev) || yt_node(rd, &ev, 1, root))
		return -1;
	if (yt_next(rd, &ev))
		goto fail;
	yaml_event_delete(&ev);                 /* DOCUMENT-END */
	if (yt_next(rd, &ev))
		goto fail;
	if (ev.type != YAML_STREAM_END_EVENT) {
		err_at(rd->e, rd->name, (int)ev.start_mark.line + 1,
		       (int)ev.start_mark.column + 1,
		       "more than one yaml document");
		yaml_event_delete(&ev);
		goto fail;
	}
	yaml_event_delete(&ev);
	return 0;
fail:
	yt_free(*root);
	*root = NULL;
	return rc;
}

int yt_load_string(const char *name, const char *text, struct ynode **root,
		   struct err *e)
{
	struct yt_reader rd = { .name = name, .e = e };
	int rc;

	if (!yaml_parser_initialize(&rd.parser))
		return err_set(e, "out of memory starting the yaml parser");
	yaml_parser_set_input_string(&rd.parser, (const unsigned char *)text,
				     strlen(text));
	rc = yt_stream(&rd, root);
	yaml_parser_delete(&rd.parser);
	return rc;
}

/* path opened for reading, refused unless a regular file (a FIFO with no
 * writer would block, a device never end); NULL with e set. */
static FILE *open_regular(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	FILE *f;

	if (fd < 0) {
		err_set(e, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		err_set(e, "cannot read '%s': not a regular file", path);
		return NULL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	f = fdopen(fd, "rb");
	if (!f) {
		close(fd);
		err_set(e, "cannot open '%s': %s", path, strerror(errno));
	}
	return f;
}

int yt_load_file(const char *path, struct ynode **root, struct err *e)
{
	FILE *f = open_regular(path, e);
	char *text;
	size_t got;
	int rc;

	if (!f)
		return -1;
	text = malloc(YT_MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		return err_set(e, "out of memory reading '%s'", path);
	}
	got = fread(text, 1, YT_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = err_set(e, "cannot read '%s': %s", path, strerror(errno));
	} else if (got > YT_MAX_BYTES) {
		rc = err_set(e, "'%s' is larger than %d bytes", path, YT_MAX_BYTES);
	} else if (memchr(text, 0, got)) {
		rc = err_set(e, "'%s' holds a NUL byte; not a yaml text file", path);
	} else {
		text[got] = 0;
		rc = yt_load_string(path, text, root, e);
	}
	free(text);
	fclose(f);
	return rc;
}

void yt_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		yt_free(n->kid[i]);
	free(n->kid);
	free(n->str);
	free(n);
}

const struct ynode *yt_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != YT_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (strcmp(map->kid[i]->str, key) == 0)
			return map->kid[i + 1];
	return NULL;
}

const char *yt_what(const struct ynode *n)
{
	if (!n)
		return "nothing";
	return n->type == YT_SCALAR ? "a scalar" :
	       n->type == YT_SEQ ? "a list" : "a mapping";
}
