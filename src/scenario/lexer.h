/*
 * The scenario lexer, private to src/scenario: it cuts a .cow text into
 * lines and the lines into tokens for parser.c.  It checks what no
 * grammar rule should have to think about: the bytes of every line
 * (no NUL, no control characters, valid UTF-8), the length of a line, of
 * a name and of a string, the shape of a number.  It never allocates and
 * never reads outside [text, text + len); every error fills a scen_diag
 * with the 1-based line and byte column of the offending character.
 */
#ifndef COW_SCENARIO_LEXER_H
#define COW_SCENARIO_LEXER_H

#include "scenario/scenario.h"

#define SCEN_MAX_FILE (1UL << 20)    /* bytes in a scenario file */
#define SCEN_MAX_LINE 4096	     /* bytes in a line, without its newline */
#define SCEN_MAX_STRING 4096	     /* bytes of a decoded string value */
#define SCEN_MAX_NUMBER (1ULL << 48) /* larger numbers are an error */

enum tok_kind {
	TOK_EOL, /* the end of the line, or a '#' comment */
	TOK_IDENT,
	TOK_NUMBER,
	TOK_STRING,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_DOTDOT,
	TOK_PLUS,
	TOK_ASSIGN, /* = */
	TOK_EQ,	    /* == */
	TOK_NE,	    /* != */
	TOK_ARROW,  /* -> */
	TOK_COMMA,  /* , */
	TOK_BAR,    /* | */
};

struct token {
	enum tok_kind kind;
	const char *p; /* its text, inside the line */
	size_t len;
	int col;		/* 1-based byte column of its first byte */
	unsigned long long num; /* TOK_NUMBER: the value, suffix applied */
	bool hex;		/* TOK_NUMBER: written 0x... */
	bool suffix;		/* TOK_NUMBER: with a K, M or G suffix */
	size_t nbytes;		/* TOK_STRING: the decoded length */
};

/* A diagnostic: where, and what, without the path. */
struct scen_diag {
	int line, col;
	char msg[320];
};

struct lexer {
	const char *text;
	size_t len;
	size_t next;	  /* offset of the next physical line */
	int lineno;	  /* the current line, 1-based (0 before the first) */
	const char *line; /* the current line, without newline and CR */
	size_t line_len;
	size_t pos;	    /* the next byte of the line to scan */
	int indent;	    /* columns of leading blanks; tabs stop at 8s */
	bool ended_newline; /* the text's last line ends with a newline */
	struct scen_diag *diag;
};

/* Start on text (len bytes, need not be NUL-terminated).  A UTF-8 byte
 * order mark at the start is skipped. */
void lex_init(struct lexer *lx, const char *text, size_t len, struct scen_diag *diag);
/* Move to the next line that holds a token, validating every line on the
 * way.  Returns 1 (a line; its first token is next), 0 at the end of the
 * text, or -1 with lx->diag filled. */
int lex_line(struct lexer *lx);
/* The next token of the current line, TOK_EOL at its end.  0 or -1. */
int lex_token(struct lexer *lx, struct token *t);
/* Decode a TOK_STRING's escapes into out (t->nbytes bytes). */
void lex_string_decode(const struct token *t, unsigned char *out);
/* Where the end of the text is, once lex_line returned 0. */
void lex_eof_loc(const struct lexer *lx, struct scen_loc *loc);
/* A token as a message shows it: 'text' (shortened if long) or "the end
 * of the line". */
const char *tok_show(const struct token *t, char *buf, size_t len);

/* Test hook of parser.c: when set to N > 0, the parser's Nth allocation
 * from now fails (and the parse returns COW_ENOMEM).  0: off. */
extern int scen_fail_alloc;

#endif /* COW_SCENARIO_LEXER_H */
