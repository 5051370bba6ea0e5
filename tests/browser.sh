#!/bin/sh
# The trace page (cowlab replay --html, docs/trace-page.md) in a real
# browser; make test runs it.  Usage: tests/browser.sh [BUILD_DIR]
# (default build: the folder that holds cowlab).
#
# It explores scenarios/gup/dma_thread.cow under linux-2.6.29 (a failing
# run: 'check corrupt'), writes the run's page with cowlab replay --html,
# and loads it in headless Chromium to check the DOM its script drew:
# the failed check's element and its text, one event row per event of the
# JSON trace that explore --json printed, the details panel of #step=N;
# then that a screenshot is not blank and that the page fetches nothing.
# Prints one line per check,
#     browser: ok - WHAT    or    browser: FAIL - WHAT
# then
#     browser time: Ns
#     browser: N passed, N failed
# Exit status 0 iff nothing failed.
#
# Chromium is /usr/bin/chromium or chromium on the PATH (CHROMIUM=PATH
# names another).  Where there is none, root installs Debian's package
# (apt-get install chromium, after apt-get update only if that fails); if
# there is still none, or no python3 to read what it gives, it prints
#     browser: SKIPPED (reason)
# and exits 0.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
start=$(date +%s)
passed=0
failed=0
cowlab=$build/cowlab
scenario=scenarios/gup/dma_thread.cow
policy=linux-2.6.29

ok() {
	echo "browser: ok - $1"
	passed=$((passed + 1))
}
fail() {
	echo "browser: FAIL - $1"
	failed=$((failed + 1))
}
# count OUTPUT: fold the ok and FAIL lines a python check printed.
count() {
	[ -n "$1" ] && echo "$1"
	p=$(echo "$1" | grep -c '^browser: ok - ')
	f=$(echo "$1" | grep -c '^browser: FAIL - ')
	passed=$((passed + p))
	failed=$((failed + f))
	# a check that printed nothing crashed
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && fail "a python check printed nothing"
}
finish() {
	echo "browser time: $(($(date +%s) - start))s"
	echo "browser: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

find_chromium() {
	for c in "${CHROMIUM:-}" /usr/bin/chromium chromium chromium-browser; do
		[ -n "$c" ] || continue
		c=$(command -v "$c" 2>/dev/null) || continue
		[ -x "$c" ] && echo "$c" && return 0
	done
	return 1
}

command -v python3 >/dev/null 2>&1 || {
	echo "browser: SKIPPED (no python3 to read the page and the screenshot)"
	exit 0
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cowlab-browser.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

chromium=$(find_chromium)
if [ -z "$chromium" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "browser: installing Debian's chromium package"
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >"$tmp/apt.log" 2>&1 ||
		{ apt-get update >>"$tmp/apt.log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
				>>"$tmp/apt.log" 2>&1; }
	chromium=$(find_chromium)
	[ -z "$chromium" ] && tail -n 5 "$tmp/apt.log"
fi
if [ -z "$chromium" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "browser: SKIPPED (no chromium, and apt-get could not install it)"
	else
		echo "browser: SKIPPED (no chromium; as root the test installs Debian's package)"
	fi
	exit 0
fi
echo "browser: using $("$chromium" --version 2>/dev/null | head -n 1)"

if [ ! -x "$cowlab" ]; then
	fail "no $cowlab: build it first"
	finish
fi

# chrome OUT LOG ARGS...: headless Chromium, its own profile, a time limit.
chrome() {
	out=$1
	log=$2
	shift 2
	timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 \
		--virtual-time-budget=5000 "$@" >"$out" 2>"$log"
}

# 1. A failing run, its JSON trace and its token.
"$cowlab" explore "$scenario" --policy "$policy" --json >"$tmp/explore.json" 2>"$tmp/explore.err"
rc=$?
tail -n 1 "$tmp/explore.json" >"$tmp/result.json"
python3 - "$tmp" <<'EOF' >"$tmp/facts" 2>"$tmp/facts.err"
import json, sys
d = json.load(open(sys.argv[1] + '/result.json'))
te = d['trace_events']
evs = te['events']
# A step for #step=N: the middle event that names an object.
named = [e for e in evs if e.get('object') not in ('', 'word', None)]
e = named[len(named) // 2]
print(d['token'])
print(len(evs))
print(e['step'])
print(e['object'])
print(te['failed'] or '')
EOF
token=$(sed -n 1p "$tmp/facts")
events=$(sed -n 2p "$tmp/facts")
step=$(sed -n 3p "$tmp/facts")
object=$(sed -n 4p "$tmp/facts")
if [ "$rc" -eq 1 ] && [ -n "$token" ] && [ -n "$events" ]; then
	ok "explore --json finds the failing run: $events events, token $token"
else
	fail "explore --json (exit $rc) gave no token and trace_events"
	sed 's/^/    /' "$tmp/explore.err" "$tmp/facts.err" | tail -n 10
	finish
fi

# 2. The page, with the option before and after the token.
page=$tmp/page.html
"$cowlab" replay --html "$page" "$token" >"$tmp/replay.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "wrote $page" "$tmp/replay.out" && [ -s "$page" ]; then
	ok "replay --html FILE TOKEN writes the page (exit 1: the run fails)"
else
	fail "replay --html FILE TOKEN: exit $rc"
	sed 's/^/    /' "$tmp/replay.out"
	finish
fi
"$cowlab" replay "$token" --html "$tmp/again.html" >"$tmp/replay2.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && cmp -s "$page" "$tmp/again.html"; then
	ok "replay TOKEN --html FILE writes the same page"
else
	fail "replay TOKEN --html FILE: exit $rc, or a different page"
fi
"$cowlab" replay "$token" --html "$tmp/no/such/dir/page.html" >"$tmp/replay3.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q "no/such/dir/page.html: No such file" "$tmp/replay3.out"; then
	ok "replay --html into a missing folder: exit 2 and why"
else
	fail "replay --html into a missing folder: exit $rc"
	sed 's/^/    /' "$tmp/replay3.out"
fi

# 3. Self-contained: nothing the page could fetch.
if grep -qiE 'https?://|<script[^>]*src|<link|@import|url\(' "$page"; then
	fail "the page names something to fetch:"
	grep -oiE '.{0,30}(https?://|<script[^>]*src|<link|@import|url\().{0,30}' "$page" |
		head -n 5 | sed 's/^/    /'
else
	ok "the page fetches nothing (no URL, script src, link, @import or url())"
fi

# 4. The DOM the page's script draws, as loaded and at #step=N.
chrome "$tmp/dom.html" "$tmp/dom.log" --dump-dom "file://$page"
rc1=$?
chrome "$tmp/step.html" "$tmp/step.log" --dump-dom "file://$page#step=$step"
rc2=$?
if [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] && ! grep -q 'Uncaught' "$tmp/dom.log" "$tmp/step.log"; then
	ok "chromium loads the page, no script error"
else
	fail "chromium: exit $rc1 and $rc2, or a script error"
	grep -h 'CONSOLE\|Uncaught' "$tmp/dom.log" "$tmp/step.log" | head -n 5 | sed 's/^/    /'
fi
count "$(python3 - "$tmp/dom.html" "$tmp/step.html" "$events" "$step" "$object" <<'EOF'
import sys
from html.parser import HTMLParser

VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source',
        'track', 'wbr'}

class Dom(HTMLParser):
    """The text and attributes of each element with an id, and the rows."""
    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.event_rows = [], {}, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'tr' and 'event' in (a.get('class') or '').split():
            self.event_rows.append(a.get('data-step'))
        if tag in VOID:
            return
        node = {'tag': tag, 'attrs': a, 'text': []}
        if 'id' in a:
            self.ids[a['id']] = node
        self.stack.append(node)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()['tag'] == tag:
                break

    def handle_data(self, data):
        for n in self.stack:
            if 'id' in n['attrs']:
                n['text'].append(data)

def load(path):
    d = Dom()
    d.feed(open(path, encoding='utf-8', errors='replace').read())
    return d

def check(cond, what):
    print('browser: %s - %s' % ('ok' if cond else 'FAIL', what))

def text(node):
    return ' '.join(''.join(node['text']).split()) if node else ''

plain, at, events, step, obj = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], sys.argv[5]
f = plain.ids.get('failed-check')
check(f is not None and 'failed' in f['attrs'].get('class', '').split()
      and 'check corrupt' in text(f),
      'the failed check is highlighted (#failed-check.failed): "%s..."' % text(f)[:60])
rows = plain.event_rows
ev = plain.ids.get('events')
check(len(rows) == events and ev is not None and ev['attrs'].get('data-steps') == str(events),
      '%d event rows, data-steps=%s, for %d events in the JSON trace'
      % (len(rows), ev['attrs'].get('data-steps') if ev else None, events))
check(len(set(rows)) == len(rows) and all(r and r.isdigit() for r in rows),
      'every event row has its own data-step')
det = at.ids.get('details')
t = text(det)
check(det is not None and det['attrs'].get('data-step') == step
      and ('Step ' + step) in t and obj in t and 'state as of step ' + step in t,
      '#step=%s: the details panel shows step %s and %s' % (step, step, obj))
check('data-step' not in (plain.ids.get('details') or {'attrs': {}})['attrs'],
      'without #step the details panel shows no step')
EOF
)"

# 5. A screenshot at 1200x900 that is not blank.
chrome "$tmp/shot.out" "$tmp/shot.log" --screenshot="$tmp/shot.png" --window-size=1200,900 \
	"file://$page"
count "$(python3 - "$tmp/shot.png" <<'EOF'
import struct, sys, zlib

def decode(path):
    """The rows of an 8-bit RGB or RGBA PNG, not interlaced."""
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('not a PNG')
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat.append(body)
        elif kind == b'IEND':
            break
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError('depth %d, colour type %d, interlace %d' % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b''.join(idat))
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if ftype == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif ftype == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif ftype == 3:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((a + prev[x]) >> 1)) & 255
        elif ftype == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif ftype != 0:
            raise ValueError('filter type %d' % ftype)
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows

try:
    w, h, bpp, rows = decode(sys.argv[1])
except (OSError, ValueError, KeyError, struct.error, zlib.error, UnboundLocalError) as e:
    print('browser: FAIL - the screenshot: %s' % e)
    sys.exit(0)
colours = {}
for r in rows:
    for x in range(0, len(r), bpp):
        px = r[x:x + 3]
        colours[px] = colours.get(px, 0) + 1
bg, n_bg = max(colours.items(), key=lambda kv: kv[1])
share = 1 - n_bg / (w * h)
# The failed check's box (#fdecea) shows in the header.
red = colours.get(bytes((0xfd, 0xec, 0xea)), 0)
print('browser: %s - the screenshot (%dx%d) is not blank: %d colours, %.0f%% not the background'
      % ('ok' if len(colours) > 2 and share > 0.05 else 'FAIL', w, h, len(colours), 100 * share))
print('browser: %s - the failed check\'s box is on screen (%d pixels)'
      % ('ok' if red > 1000 else 'FAIL', red))
EOF
)"

finish
