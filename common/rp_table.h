/* rp_table: a plain-text table for people (rampartctl and other tools).
 *
 * Columns are sized to their widest cell and separated by two spaces; the
 * last column is not padded, so lines carry no trailing blanks. A header
 * row is printed only when at least one column has a title.
 *
 * Cells are copied into the table, so the caller's strings may go away.
 * Cell text often comes from the network (a SIP Call-ID, a daemon's error):
 * every byte that is not printable ASCII is written as \xNN, so a cell can
 * neither move the cursor nor change the terminal's state, and widths stay
 * exact.
 *
 *	rp_table *t;
 *	if (rp_table_new(2, &t) == 0) {
 *		rp_table_column(t, 0, "NAME", RP_TABLE_LEFT);
 *		rp_table_column(t, 1, "PACKETS", RP_TABLE_RIGHT);
 *		rp_table_row(t);
 *		rp_table_cell(t, RP_STR_LIT("a"));
 *		rp_table_cellf(t, "%d", 250);
 *		rc = rp_table_render(t, &buf);
 *		rp_table_free(t);
 *	}
 *
 * Errors are sticky: a failed allocation makes every later call and
 * rp_table_render() return it. Not thread-safe.
 */
#ifndef RP_TABLE_H
#define RP_TABLE_H

#include <stddef.h>

#include "rp_buf.h"
#include "rp_str.h"

/* Most columns a table can have. */
#define RP_TABLE_MAX_COLS 64

enum rp_table_align {
	RP_TABLE_LEFT = 0,
	RP_TABLE_RIGHT = 1, /* numbers */
};

typedef struct rp_table rp_table;

/* A table with ncols columns (1..RP_TABLE_MAX_COLS), no rows, no titles.
 * Returns 0, -EINVAL or -ENOMEM. Free with rp_table_free(). */
int rp_table_new(size_t ncols, rp_table **out);
/* Frees the table and its cells. NULL ok. */
void rp_table_free(rp_table *t);

/* Sets column col's title (NULL = none; copied) and alignment. Returns 0,
 * -EINVAL (col out of range) or the sticky error. */
int rp_table_column(rp_table *t, size_t col, const char *title,
		    enum rp_table_align align);

/* Starts a new row; its cells are then added left to right. Cells not
 * given are printed empty. Returns 0 or the sticky error. */
int rp_table_row(rp_table *t);
/* Adds the next cell of the current row. -EINVAL when there is no row yet
 * or the row is full (that error is sticky too: it is a caller bug). */
int rp_table_cell(rp_table *t, rp_str text);
int rp_table_cell_cstr(rp_table *t, const char *text); /* NULL: "-" */
int rp_table_cellf(rp_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

size_t rp_table_rows(const rp_table *t);

/* Appends the whole table (lines end in '\n') to b. Returns 0, the sticky
 * error, or b's error. */
int rp_table_render(const rp_table *t, rp_buf *b);

#endif
