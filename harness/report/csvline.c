/* csvline.c - CSV lines as sabench writes them (res_csv_field's quoting):
 * read whole, split in place. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "csvline.h"

char *csv_read_line(FILE *f)
{
	size_t cap = 0;
	char *line = NULL;
	ssize_t n = getline(&line, &cap, f);

	if (n < 0) {
		free(line);
		return NULL;
	}
	return line;
}

int csv_whole(const char *line)
{
	size_t n = strlen(line);

	return n > 0 && line[n - 1] == '\n';
}

int csv_split(char *line, char **field, int max)
{
	int n = 0;
	char *w = line, *s = line;

	while (n <= max) {
		int quoted = *s == '"';
		if (n == max)
			return max + 1; /* another field follows the last one asked for */
		field[n++] = w;
		if (quoted)
			s++;
		for (; *s; s++) {
			if (quoted && *s == '"' && s[1] == '"') {
				*w++ = '"';
				s++;
			} else if (quoted && *s == '"') {
				quoted = 0;
			} else if (!quoted && (*s == ',' || *s == '\n' || *s == '\r')) {
				break;
			} else {
				*w++ = *s;
			}
		}
		if (*s != ',') {
			*w = 0;
			break;
		}
		*w++ = 0;
		s++;
	}
	return n;
}

