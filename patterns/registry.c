/* registry.c - the one table of pattern kinds. Adding a kind is one file
 * in patterns/ and one line here. */
#include "pattern.h"

extern const struct pat_kind pat_dense, pat_window, pat_sink_window,
	pat_explicit;

const struct pat_kind *const pat_kinds[] = {
	&pat_dense,             /* full attention */
	&pat_window,            /* sliding window */
	&pat_sink_window,       /* sinks + window (StreamingLLM) */
	&pat_explicit,          /* rows from the file */
};

const int pat_kind_count = (int)(sizeof pat_kinds / sizeof pat_kinds[0]);
