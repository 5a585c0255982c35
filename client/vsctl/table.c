/* table.c — aligned text tables for vsctl: cells are collected, then printed with every column
 * but the last padded to its widest cell (the last, usually a title, is free-form text). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "vsctl.h"

#define TABLE_MAX_COLS 12

struct vsctl_table {
    int n_cols;
    char align[TABLE_MAX_COLS]; /* 'l' or 'r' */
    char **cells;               /* row-major, n_rows * n_cols, owned */
    size_t n_rows, cap;
};

vsctl_table *vsctl_table_new(const char *align)
{
    vsctl_table *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->n_cols = (int)strlen(align);
    if (t->n_cols > TABLE_MAX_COLS)
        t->n_cols = TABLE_MAX_COLS;
    memcpy(t->align, align, (size_t)t->n_cols);
    return t;
}

void vsctl_table_row(vsctl_table *t, ...)
{
    va_list ap;

    if (t == NULL)
        return;
    /* one element of the growth is a row of n_cols cells */
    if (grow_array(&t->cells, &t->cap, t->n_rows + 1, (size_t)t->n_cols * sizeof *t->cells, 16,
                   SIZE_MAX) != VS_OK)
        return;
    va_start(ap, t);
    for (int c = 0; c < t->n_cols; c++) {
        const char *s = va_arg(ap, const char *);

        t->cells[t->n_rows * (size_t)t->n_cols + (size_t)c] = strdup(s ? s : "");
    }
    va_end(ap);
    t->n_rows++;
}

void vsctl_table_print(vsctl_table *t, FILE *out, const char *indent)
{
    size_t width[TABLE_MAX_COLS] = {0};

    if (t == NULL)
        return;
    for (size_t r = 0; r < t->n_rows; r++)
        for (int c = 0; c < t->n_cols; c++) {
            const char *s = t->cells[r * (size_t)t->n_cols + (size_t)c];
            if (s != NULL && strlen(s) > width[c])
                width[c] = strlen(s);
        }
    for (size_t r = 0; r < t->n_rows; r++) {
        fputs(indent ? indent : "", out);
        for (int c = 0; c < t->n_cols; c++) {
            const char *s = t->cells[r * (size_t)t->n_cols + (size_t)c];
            int last = c == t->n_cols - 1;

            s = s ? s : "";
            if (last && t->align[c] == 'l')
                fprintf(out, "%s", s);
            else if (t->align[c] == 'r')
                fprintf(out, "%*s", (int)width[c], s);
            else
                fprintf(out, "%-*s", (int)width[c], s);
            if (!last)
                fputs("  ", out);
        }
        fputc('\n', out);
    }
}

void vsctl_table_free(vsctl_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_rows * (size_t)t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

const char *vsctl_won(long long won, char *buf, size_t len)
{
    char digits[40];

    snprintf(buf, len, "%s won", vsctl_thousands(won, digits, sizeof digits));
    return buf;
}

const char *vsctl_milli_won(long long milli, char *buf, size_t len)
{
    char digits[40];
    long long whole = milli / 1000, frac = milli % 1000;

    if (frac < 0)
        frac = -frac;
    snprintf(buf, len, "%s%s.%03lld won", milli < 0 && whole == 0 ? "-" : "",
             vsctl_thousands(whole, digits, sizeof digits), frac);
    return buf;
}
