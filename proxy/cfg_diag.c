#include "cfg_diag.h"

#include <string.h>

void cfg_diag_init(struct cfg_diag *d)
{
	d->errors = 0;
	d->warnings = 0;
	d->n = 0;
}

void cfg_diag_vadd(struct cfg_diag *d, enum cfg_sev sev, struct cfg_pos pos,
	const char *fmt, va_list ap)
{
	struct cfg_diag_msg *m;

	if (!d)
		return;
	if (sev == CFG_SEV_ERROR)
		d->errors++;
	else
		d->warnings++;
	if (d->n >= CFG_DIAG_MAX)
		return;
	m = &d->msg[d->n++];
	m->sev = sev;
	m->line = pos.line;
	m->col = pos.col;
	snprintf(m->file, sizeof(m->file), "%s", pos.file ? pos.file : "<config>");
	vsnprintf(m->text, sizeof(m->text), fmt, ap);
}

void cfg_diag_add(struct cfg_diag *d, enum cfg_sev sev, struct cfg_pos pos,
	const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_diag_vadd(d, sev, pos, fmt, ap);
	va_end(ap);
}

int cfg_diag_format(const struct cfg_diag_msg *m, char *buf, size_t size)
{
	const char *sev = m->sev == CFG_SEV_ERROR ? "error" : "warning";

	if (m->line == 0)
		return snprintf(buf, size, "%s: %s: %s", m->file, sev, m->text);
	return snprintf(buf, size, "%s:%u:%u: %s: %s", m->file, (unsigned)m->line,
		(unsigned)m->col, sev, m->text);
}

void cfg_diag_print(const struct cfg_diag *d, FILE *f)
{
	char line[512];
	unsigned total = d->errors + d->warnings;

	for (unsigned i = 0; i < d->n; i++) {
		cfg_diag_format(&d->msg[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	if (total > d->n)
		fprintf(f, "(%u more messages not shown)\n", total - d->n);
}

const struct cfg_diag_msg *cfg_diag_first(const struct cfg_diag *d, enum cfg_sev sev)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->msg[i].sev == sev)
			return &d->msg[i];
	return NULL;
}
