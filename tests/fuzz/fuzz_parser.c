/*
 * libFuzzer target for the scenario parser (src/scenario/parser.c and
 * lexer.c, with src/mm/policy.c for the presets expect lines name), the
 * one layer that reads untrusted text.  Built and run by
 * `make fuzz` with ASan and UBSan, so a read past the input, a leak, a
 * crash or undefined behaviour is a finding.  On top of that, the target
 * holds the parser to its contract: every input is either refused with
 * COW_EINVAL and a "path:line:col: message" error, or accepted as a
 * scenario that scen_check() finds sound.
 */
#include "scenario/scenario.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char path[] = "fuzz.cow";
	struct scenario *s = NULL;
	char err[512], msg[256];
	int line, col, rc;

	rc = scen_parse(path, (const char *)data, size, &s, err, sizeof(err));
	if (rc == 0) {
		if (!s || scen_check(s, msg, sizeof(msg))) {
			fprintf(stderr, "fuzz_parser: accepted a broken scenario: %s\n", msg);
			abort();
		}
		scen_free(s);
		return 0;
	}
	if (rc != COW_EINVAL || s || sscanf(err, "fuzz.cow:%d:%d: ", &line, &col) != 2 ||
	    line < 1 || col < 1 || !strstr(err, ": ")) {
		fprintf(stderr, "fuzz_parser: bad refusal %d: %s\n", rc, err);
		abort();
	}
	return 0;
}
