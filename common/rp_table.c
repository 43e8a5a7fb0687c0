#include "rp_table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rp_table_span {
	size_t off; /* into text */
	size_t len;
};

struct rp_table {
	size_t ncols;
	size_t nrows;
	size_t cap_rows;
	size_t next_col;  /* next cell of the current row */
	int err;
	rp_buf text;      /* every cell and title, escaped */
	struct rp_table_span *cells; /* nrows * ncols */
	struct rp_table_span title[RP_TABLE_MAX_COLS];
	enum rp_table_align align[RP_TABLE_MAX_COLS];
	int has_title;
};

int rp_table_new(size_t ncols, rp_table **out)
{
	rp_table *t;

	if (ncols == 0 || ncols > RP_TABLE_MAX_COLS)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ncols = ncols;
	rp_buf_init(&t->text, 0);
	*out = t;
	return 0;
}

void rp_table_free(rp_table *t)
{
	if (!t)
		return;
	rp_buf_free(&t->text);
	free(t->cells);
	free(t);
}

static int fail(rp_table *t, int err)
{
	if (!t->err)
		t->err = err;
	return t->err;
}

/* Appends s escaped; returns its span. */
static int put_text(rp_table *t, rp_str s, struct rp_table_span *sp)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = t->text.len;

	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c >= 0x20 && c < 0x7f) {
			rp_buf_append_byte(&t->text, (char)c);
		} else {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			rp_buf_append(&t->text, e, sizeof(e));
		}
	}
	if (rp_buf_error(&t->text))
		return fail(t, rp_buf_error(&t->text));
	sp->off = start;
	sp->len = t->text.len - start;
	return 0;
}

int rp_table_column(rp_table *t, size_t col, const char *title,
		    enum rp_table_align align)
{
	if (t->err)
		return t->err;
	if (col >= t->ncols)
		return -EINVAL;
	t->align[col] = align;
	if (!title) {
		t->title[col].len = 0;
		return 0;
	}
	t->has_title = 1;
	return put_text(t, rp_str_cstr(title), &t->title[col]);
}

int rp_table_row(rp_table *t)
{
	if (t->err)
		return t->err;
	if (t->nrows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
		struct rp_table_span *c;

		if (cap > SIZE_MAX / sizeof(*c) / t->ncols)
			return fail(t, -ENOMEM);
		c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c)
			return fail(t, -ENOMEM);
		t->cells = c;
		t->cap_rows = cap;
	}
	memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(*t->cells));
	t->nrows++;
	t->next_col = 0;
	return 0;
}

int rp_table_cell(rp_table *t, rp_str text)
{
	if (t->err)
		return t->err;
	if (t->nrows == 0 || t->next_col >= t->ncols)
		return fail(t, -EINVAL);
	return put_text(t, text, &t->cells[(t->nrows - 1) * t->ncols + t->next_col++]);
}

int rp_table_cell_cstr(rp_table *t, const char *text)
{
	return rp_table_cell(t, rp_str_cstr(text ? text : "-"));
}

int rp_table_cellf(rp_table *t, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return fail(t, -EINVAL);
	if ((size_t)n < sizeof(small))
		return rp_table_cell(t, rp_str_make(small, (size_t)n));

	char *big = malloc((size_t)n + 1);
	int rc;

	if (!big)
		return fail(t, -ENOMEM);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = rp_table_cell(t, rp_str_make(big, (size_t)n));
	free(big);
	return rc;
}

size_t rp_table_rows(const rp_table *t)
{
	return t->nrows;
}

static void put_line(const rp_table *t, const struct rp_table_span *row,
		     const size_t *width, rp_buf *b)
{
	size_t last = t->ncols;

	/* Trailing empty cells print nothing at all. */
	while (last > 0 && row[last - 1].len == 0)
		last--;
	for (size_t c = 0; c < last; c++) {
		size_t pad = width[c] - row[c].len;

		if (c)
			rp_buf_append(b, "  ", 2);
		if (t->align[c] == RP_TABLE_RIGHT)
			for (size_t i = 0; i < pad; i++)
				rp_buf_append_byte(b, ' ');
		if (row[c].len)
			rp_buf_append(b, t->text.p + row[c].off, row[c].len);
		if (t->align[c] == RP_TABLE_LEFT && c + 1 < last)
			for (size_t i = 0; i < pad; i++)
				rp_buf_append_byte(b, ' ');
	}
	rp_buf_append_byte(b, '\n');
}

int rp_table_render(const rp_table *t, rp_buf *b)
{
	size_t width[RP_TABLE_MAX_COLS] = { 0 };

	if (t->err)
		return t->err;
	for (size_t c = 0; c < t->ncols; c++) {
		if (t->has_title && t->title[c].len > width[c])
			width[c] = t->title[c].len;
		for (size_t r = 0; r < t->nrows; r++)
			if (t->cells[r * t->ncols + c].len > width[c])
				width[c] = t->cells[r * t->ncols + c].len;
	}
	if (t->has_title)
		put_line(t, t->title, width, b);
	for (size_t r = 0; r < t->nrows; r++)
		put_line(t, &t->cells[r * t->ncols], width, b);
	return rp_buf_error(b);
}
