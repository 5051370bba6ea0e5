#!/bin/sh
# The layering rules of docs/architecture.md that a grep can check:
#  - src/mm reaches threads, atomics and RCU only through src/sync;
#  - src/sync includes nothing from mm, scenario, kernel or cli;
#  - src/cli holds no memory-manager logic beyond calling the library;
#  - src/kernel (the host backend) reaches the model through nothing: it
#    includes src/scenario's parsed form, src/base and its own headers.
# Prints one line per rule and exits 1 if any rule is broken.
set -u
cd "$(dirname "$0")/.."
bad=0
rule() {
	if [ -n "$2" ]; then
		echo "layers: BROKEN: $1:"
		echo "$2" | sed 's/^/  /'
		bad=1
	else
		echo "layers: ok: $1"
	fi
}
rule "src/mm uses no pthread_, stdatomic, __atomic or urcu" \
	"$(grep -rlE 'pthread_|stdatomic|__atomic|urcu' src/mm 2>/dev/null)"
rule "src/sync and src/sched include no upper layer" \
	"$(grep -lE '#include "(mm|io|scenario|kernel|cli)/' src/sync/* src/sched/* 2>/dev/null)"
rule "src/mm includes no scenario, kernel or cli header" \
	"$(grep -lE '#include "(scenario|kernel|cli)/' src/mm/* 2>/dev/null)"
rule "src/scenario reaches mm only through include/cowlab.h" \
	"$(grep -lE '#include "mm/' src/scenario/* src/cli/* 2>/dev/null)"
rule "src/kernel includes no mm, io, sync, sched or cli header" \
	"$(grep -lE '#include "(mm|io|sync|sched|cli)/' src/kernel/* 2>/dev/null)"
rule "src/kernel includes only scenario/scenario.h, scenario/ops.def, base/ and kernel/ from src" \
	"$(grep -hE '#include "' src/kernel/* 2>/dev/null |
		grep -vE '#include "(scenario/scenario\.h|scenario/ops\.def|base/[a-z]+\.h|kernel/[a-z]+\.h)"')"
exit $bad
