/*
 * The scenario lexer (see lexer.h): lines and tokens of a .cow text for
 * parser.c, which sits directly above it in src/scenario.  The text is
 * untrusted and need not end in NUL, so every read is bounded by the
 * current line's length, every line is validated whole before its first
 * token is handed out, and nothing here allocates.  Character classes are
 * spelled out instead of taken from <ctype.h> so that the locale cannot
 * change what a name is.
 */
#include "scenario/lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const unsigned char utf8_bom[3] = {0xef, 0xbb, 0xbf};

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '.' || c == '-';
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Fill d; always returns -1 so an error path can `return lex_error(...)`. */
static COW_PRINTF(4, 5) int lex_error(struct scen_diag *d, int line, int col, const char *fmt, ...)
{
	va_list ap;

	d->line = line;
	d->col = col;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* The length of the well-formed UTF-8 sequence at s (n bytes available),
 * or 0: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Every byte of the current line is a tab, printable ASCII or part of a
 * well-formed UTF-8 sequence. */
static int check_bytes(struct lexer *lx)
{
	const unsigned char *l = (const unsigned char *)lx->line;
	size_t n = lx->line_len;

	for (size_t i = 0; i < n;) {
		unsigned char c = l[i];
		int col = (int)i + 1;

		if (c == '\t' || (c >= 0x20 && c < 0x7f)) {
			i++;
			continue;
		}
		if (c == 0)
			return lex_error(
				lx->diag, lx->lineno, col,
				"a NUL byte: a scenario is a text file, is this a binary one?");
		if (c == '\r')
			return lex_error(lx->diag, lx->lineno, col,
					 "a carriage return in the middle of a line");
		if (c < 0x80)
			return lex_error(lx->diag, lx->lineno, col,
					 "control character 0x%02x is not allowed", c);
		size_t len = utf8_seq(l + i, n - i);
		if (!len)
			return lex_error(lx->diag, lx->lineno, col,
					 "invalid UTF-8 (byte 0x%02x): a scenario is UTF-8 text",
					 c);
		i += len;
	}
	return 0;
}

void lex_init(struct lexer *lx, const char *text, size_t len, struct scen_diag *diag)
{
	memset(lx, 0, sizeof(*lx));
	lx->text = text;
	lx->len = len;
	lx->diag = diag;
	if (len >= sizeof(utf8_bom) && !memcmp(text, utf8_bom, sizeof(utf8_bom)))
		lx->next = sizeof(utf8_bom);
}

int lex_line(struct lexer *lx)
{
	while (lx->next < lx->len) {
		const char *start = lx->text + lx->next;
		size_t rest = lx->len - lx->next;
		const char *nl = memchr(start, '\n', rest);
		size_t n = nl ? (size_t)(nl - start) : rest;
		size_t i = 0;
		int indent = 0;

		lx->lineno++;
		lx->next += nl ? n + 1 : n;
		lx->ended_newline = nl != NULL;
		if (n > 0 && start[n - 1] == '\r')
			n--; /* CRLF line endings */
		lx->line = start;
		lx->line_len = n;
		lx->pos = 0;
		if (n > SCEN_MAX_LINE)
			return lex_error(lx->diag, lx->lineno, SCEN_MAX_LINE + 1,
					 "this line is longer than %d bytes", SCEN_MAX_LINE);
		if (check_bytes(lx))
			return -1;
		for (; i < n && is_blank((unsigned char)start[i]); i++)
			indent = start[i] == '\t' ? (indent / 8 + 1) * 8 : indent + 1;
		if (i == n || start[i] == '#')
			continue; /* blank or a comment */
		lx->pos = i;
		lx->indent = indent;
		return 1;
	}
	return 0;
}

void lex_eof_loc(const struct lexer *lx, struct scen_loc *loc)
{
	if (lx->lineno == 0) {
		loc->line = 1;
		loc->col = 1;
	} else if (lx->ended_newline) {
		loc->line = lx->lineno + 1;
		loc->col = 1;
	} else {
		loc->line = lx->lineno;
		loc->col = (int)lx->line_len + 1;
	}
}

const char *tok_show(const struct token *t, char *buf, size_t len)
{
	size_t n = t->len;
	bool cut = false;

	if (t->kind == TOK_EOL) {
		snprintf(buf, len, "the end of the line");
		return buf;
	}
	if (n > 40) {
		n = 40;
		/* Do not cut a UTF-8 sequence in two. */
		while (n > 0 && ((unsigned char)t->p[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	snprintf(buf, len, "'%.*s%s'", (int)n, t->p, cut ? "..." : "");
	return buf;
}

int scen_size_shift(int c)
{
	switch (c) {
	case 'K':
	case 'k': return 10;
	case 'M':
	case 'm': return 20;
	case 'G':
	case 'g': return 30;
	default: return -1;
	}
}

static int lex_number(struct lexer *lx, struct token *t, size_t end)
{
	const unsigned char *s = (const unsigned char *)t->p;
	size_t m = end, k = 0, first;
	unsigned long long v = 0, base = 10;
	char shown[64];

	if (m >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		k = 2;
		t->hex = true;
	}
	first = k;
	for (; k < m; k++) {
		int d = hex_value(s[k]);

		if (d < 0 || (unsigned long long)d >= base)
			break;
		if (v > (SCEN_MAX_NUMBER - (unsigned long long)d) / base)
			return lex_error(lx->diag, lx->lineno, t->col, "the number %s is too large",
					 tok_show(t, shown, sizeof(shown)));
		v = v * base + (unsigned long long)d;
	}
	if (k == first)
		goto malformed;
	if (k < m) {
		int shift = scen_size_shift(s[k]);

		if (shift < 0 || k + 1 != m)
			goto malformed;
		if (v > SCEN_MAX_NUMBER >> shift)
			return lex_error(lx->diag, lx->lineno, t->col, "the number %s is too large",
					 tok_show(t, shown, sizeof(shown)));
		v <<= shift;
		t->suffix = true;
	}
	t->num = v;
	return 0;
malformed:
	return lex_error(lx->diag, lx->lineno, t->col,
			 "malformed number %s: write numbers like 4096, 0x1000, 4K, 2M or 1G",
			 tok_show(t, shown, sizeof(shown)));
}

/* A double-quoted string; the escapes are checked here and decoded by
 * lex_string_decode(). */
static int lex_string(struct lexer *lx, struct token *t)
{
	const unsigned char *l = (const unsigned char *)lx->line;
	size_t n = lx->line_len, j = lx->pos + 1, nbytes = 0;

	for (;;) {
		if (j >= n)
			return lex_error(
				lx->diag, lx->lineno, t->col,
				"unterminated string: it must end with '\"' on the same line");
		if (l[j] == '"')
			break;
		if (l[j] != '\\') {
			nbytes++;
			j++;
			continue;
		}
		if (j + 1 >= n)
			return lex_error(
				lx->diag, lx->lineno, t->col,
				"unterminated string: it must end with '\"' on the same line");
		switch (l[j + 1]) {
		case 'n':
		case 't':
		case '\\':
		case '"': j += 2; break;
		case 'x':
			if (j + 3 >= n || hex_value(l[j + 2]) < 0 || hex_value(l[j + 3]) < 0)
				return lex_error(lx->diag, lx->lineno, (int)j + 1,
						 "'\\x' needs two hex digits, like \\x0a");
			j += 4;
			break;
		default:
			if (l[j + 1] >= 0x20 && l[j + 1] < 0x7f)
				return lex_error(
					lx->diag, lx->lineno, (int)j + 1,
					"unknown escape '\\%c': use \\n, \\t, \\\\, \\\" or \\xNN",
					l[j + 1]);
			return lex_error(lx->diag, lx->lineno, (int)j + 1,
					 "unknown escape: use \\n, \\t, \\\\, \\\" or \\xNN");
		}
		nbytes++;
	}
	if (nbytes > SCEN_MAX_STRING)
		return lex_error(lx->diag, lx->lineno, t->col, "a string holds at most %d bytes",
				 SCEN_MAX_STRING);
	t->kind = TOK_STRING;
	t->len = j + 1 - lx->pos;
	t->nbytes = nbytes;
	return 0;
}

void lex_string_decode(const struct token *t, unsigned char *out)
{
	const unsigned char *s = (const unsigned char *)t->p;
	size_t end = t->len - 1; /* the closing quote */

	for (size_t i = 1; i < end;) {
		if (s[i] != '\\') {
			*out++ = s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'n': *out++ = '\n'; break;
		case 't': *out++ = '\t'; break;
		case 'x':
			*out++ = (unsigned char)(hex_value(s[i + 2]) * 16 + hex_value(s[i + 3]));
			i += 2;
			break;
		default: *out++ = s[i + 1]; break;
		}
		i += 2;
	}
}

int lex_token(struct lexer *lx, struct token *t)
{
	const unsigned char *l = (const unsigned char *)lx->line;
	size_t n = lx->line_len, i = lx->pos, j;
	char shown[64];

	while (i < n && is_blank(l[i]))
		i++;
	memset(t, 0, sizeof(*t));
	t->p = (const char *)l + i;
	t->col = (int)i + 1;
	lx->pos = i;
	if (i == n || l[i] == '#') {
		t->kind = TOK_EOL;
		lx->pos = n;
		return 0;
	}
	if (is_alpha(l[i])) {
		/* A name stops before ".." and "->", so that buf[1 page..2
		 * pages] reads as a range and buf->pipe as an arrow. */
		for (j = i + 1; j < n && is_ident(l[j]); j++)
			if ((l[j] == '.' || l[j] == '-') && j + 1 < n &&
			    l[j + 1] == (l[j] == '.' ? '.' : '>'))
				break;
		t->kind = TOK_IDENT;
		t->len = j - i;
		if (t->len >= SCEN_NAME_MAX)
			return lex_error(lx->diag, lx->lineno, t->col,
					 "the name %s is longer than %d characters",
					 tok_show(t, shown, sizeof(shown)), SCEN_NAME_MAX - 1);
		lx->pos = j;
		return 0;
	}
	if (is_digit(l[i])) {
		for (j = i + 1; j < n && (is_alpha(l[j]) || is_digit(l[j])); j++)
			;
		t->kind = TOK_NUMBER;
		t->len = j - i;
		lx->pos = j;
		return lex_number(lx, t, j - i);
	}
	if (l[i] == '"') {
		if (lex_string(lx, t))
			return -1;
		lx->pos = i + t->len;
		return 0;
	}
	t->len = 1;
	switch (l[i]) {
	case '[': t->kind = TOK_LBRACKET; break;
	case ']': t->kind = TOK_RBRACKET; break;
	case '+': t->kind = TOK_PLUS; break;
	case ',': t->kind = TOK_COMMA; break;
	case '|': t->kind = TOK_BAR; break;
	case '=':
		t->kind = TOK_ASSIGN;
		if (i + 1 < n && l[i + 1] == '=') {
			t->kind = TOK_EQ;
			t->len = 2;
		}
		break;
	case '!':
		if (i + 1 >= n || l[i + 1] != '=')
			return lex_error(lx->diag, lx->lineno, t->col,
					 "unexpected '!' (did you mean '!='?)");
		t->kind = TOK_NE;
		t->len = 2;
		break;
	case '-':
		/* "-1" is a negative number, not a misspelt arrow: every count,
		 * offset and value of the language is 0 or more. */
		if (i + 1 < n && l[i + 1] >= '0' && l[i + 1] <= '9')
			return lex_error(lx->diag, lx->lineno, t->col,
					 "a number cannot be negative (counts, offsets and values "
					 "start at 0)");
		if (i + 1 >= n || l[i + 1] != '>')
			return lex_error(lx->diag, lx->lineno, t->col,
					 "unexpected '-' (did you mean '->'?)");
		t->kind = TOK_ARROW;
		t->len = 2;
		break;
	case '.':
		if (i + 1 >= n || l[i + 1] != '.')
			return lex_error(lx->diag, lx->lineno, t->col,
					 "unexpected '.': a range is written MAP[OFF..END]");
		t->kind = TOK_DOTDOT;
		t->len = 2;
		break;
	default:
		if (l[i] >= 0x80) {
			/* check_bytes() made sure it is a whole sequence. */
			size_t len = utf8_seq(l + i, n - i);

			return lex_error(lx->diag, lx->lineno, t->col,
					 "unexpected character '%.*s'", (int)len,
					 (const char *)l + i);
		}
		return lex_error(lx->diag, lx->lineno, t->col, "unexpected character '%c'", l[i]);
	}
	lx->pos = i + t->len;
	return 0;
}
