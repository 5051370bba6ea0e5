#!/bin/sh
# contrib/k8s: the Indexed Job's manifest, read as Kubernetes would read
# it, and its commands run here as its pods would run them
# (docs/scale-out.md).  Usage: tests/k8s.sh [BUILD_DIR]
# (default build: the folder that holds cowlab).
#
# It parses contrib/k8s/cowlab-job.yaml with python3's yaml module and
# checks: a Job of apiVersion batch/v1 with completionMode Indexed; its
# completions, its parallelism, the count cowlab's --shards names and
# COWLAB_SHARDS all equal; the command runs cowlab explore (or matrix)
# with '--shard auto' and an --out inside the mountPath of a volume that
# is a PersistentVolumeClaim, which, where the same file defines it, is
# ReadWriteMany; restartPolicy Never; an image named.  The merge Job
# (contrib/k8s/cowlab-merge-job.yaml) mounts the same claim and runs
# cowlab merge on that mountPath.
# Then, where BUILD_DIR/cowlab exists, it plays the Job out on this
# machine: each pod's command under sh with JOB_COMPLETION_INDEX 0..N-1
# and the Job's env, with the mount's path made a temporary folder and
# the image's scenario folder this tree's scenarios/; each must exit 0
# and write its shard file; then the merge Job's command must exit as
# 'cowlab merge' does for that scenario (0 passing or 1 found) and write
# merged.jsonl, whose counts add up the shards'.
# Prints one line per check,
#     k8s: ok - WHAT    or    k8s: FAIL - WHAT
# then
#     k8s: N passed, N failed
# Exit status 0 iff nothing failed.  Without python3's yaml module (root
# installs Debian's python3-yaml) it prints 'k8s: SKIPPED (reason)' and
# exits 0.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
case $build in
/*) cowlab=$build/cowlab ;;
*) cowlab=$top/$build/cowlab ;;
esac

skip() {
	echo "k8s: SKIPPED ($1)"
	exit 0
}
have_yaml() {
	command -v "$1" >/dev/null 2>&1 && "$1" -c 'import yaml' 2>/dev/null
}
py=python3
command -v python3 >/dev/null 2>&1 || skip "no python3"
if ! have_yaml python3; then
	# Debian's python3-yaml serves Debian's python3, which may not be
	# the python3 first on the PATH.
	if have_yaml /usr/bin/python3; then
		py=/usr/bin/python3
	elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "k8s: installing python3-yaml"
		DEBIAN_FRONTEND=noninteractive apt-get install -y python3-yaml >/dev/null 2>&1 || {
			apt-get update >/dev/null 2>&1
			DEBIAN_FRONTEND=noninteractive apt-get install -y python3-yaml >/dev/null 2>&1
		}
		if have_yaml python3; then
			py=python3
		elif have_yaml /usr/bin/python3; then
			py=/usr/bin/python3
		else
			skip "no yaml module for python3 after apt-get install python3-yaml"
		fi
	else
		skip "no yaml module for python3, and not root to install python3-yaml"
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cowlab-k8s.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
if [ -x "$cowlab" ]; then
	mkdir -p "$tmp/bin"
	ln -s "$cowlab" "$tmp/bin/cowlab"
else
	echo "k8s: note - no $cowlab: the pods' commands are not run here"
fi

"$py" - contrib/k8s/cowlab-job.yaml contrib/k8s/cowlab-merge-job.yaml "$tmp" "$top" <<'EOF'
import json, os, re, shlex, subprocess, sys
import yaml

job_path, merge_path, tmp, top = sys.argv[1:5]
passed = failed = 0

def ok(m):
    global passed
    passed += 1
    print("k8s: ok - " + m)

def fail(m):
    global failed
    failed += 1
    print("k8s: FAIL - " + m)

def finish():
    print("k8s: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)

def load(path):
    try:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except Exception as e:
        fail("%s does not parse: %s" % (path, e))
        return None
    ok("%s parses (%d documents)" % (path, len(docs)))
    return docs

# argv of a container: command + args, and the cowlab words in it
# (after 'cowlab', or the "$@" an 'sh -c' wrapper hands on).
def argv(c):
    return [str(x) for x in (c.get("command") or [])] + [str(x) for x in (c.get("args") or [])]

def cowlab_words(c):
    cmd = [str(x) for x in (c.get("command") or [])]
    args = [str(x) for x in (c.get("args") or [])]
    if len(cmd) >= 3 and cmd[0].endswith("sh") and cmd[1] == "-c":
        script = cmd[2]
        if '"$@"' in script:
            return args          # cmd[3] is $0
        try:
            return shlex.split(script)
        except ValueError:
            return script.split()
    return cmd + args

def opt(words, name):
    for i, w in enumerate(words):
        if w == name and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(name + "="):
            return w[len(name) + 1:]
    return None

docs = load(job_path)
if docs is None:
    finish()
jobs = [d for d in docs if d.get("kind") == "Job"]
claims = {d.get("metadata", {}).get("name"): d for d in docs
          if d.get("kind") == "PersistentVolumeClaim"}
if len(jobs) != 1:
    fail("%s holds %d Jobs (wanted 1)" % (job_path, len(jobs)))
    finish()
job = jobs[0]
name = job.get("metadata", {}).get("name")
if job.get("apiVersion") == "batch/v1":
    ok("kind Job (%s), apiVersion batch/v1" % name)
else:
    fail("apiVersion %r (wanted batch/v1)" % job.get("apiVersion"))
spec = job.get("spec") or {}
if spec.get("completionMode") == "Indexed":
    ok("completionMode Indexed")
else:
    fail("completionMode %r (wanted Indexed)" % spec.get("completionMode"))
pod = (spec.get("template") or {}).get("spec") or {}
if pod.get("restartPolicy") in ("Never", "OnFailure"):
    ok("restartPolicy %s" % pod.get("restartPolicy"))
else:
    fail("restartPolicy %r (a Job's pods need Never or OnFailure)" % pod.get("restartPolicy"))
containers = pod.get("containers") or []
runs = [c for c in containers if "cowlab" in " ".join(argv(c))]
if len(runs) != 1:
    fail("%d containers run cowlab (wanted 1)" % len(runs))
    finish()
c = runs[0]
words = cowlab_words(c)
if c.get("image"):
    ok("container %s has an image (%s)" % (c.get("name"), c.get("image")))
else:
    fail("container %s names no image" % c.get("name"))
sub = next((w for w in words if w in ("explore", "matrix")), None)
if sub:
    ok("the container runs cowlab %s: %s" % (sub, " ".join(words)))
else:
    fail("the container runs neither cowlab explore nor matrix: %s" % words)
if opt(words, "--shard") == "auto":
    ok("--shard auto")
else:
    fail("--shard %r (wanted auto)" % opt(words, "--shard"))
env = {e.get("name"): e.get("value") for e in (c.get("env") or [])}
counts = {"completions": spec.get("completions"), "parallelism": spec.get("parallelism"),
          "--shards": opt(words, "--shards"), "COWLAB_SHARDS": env.get("COWLAB_SHARDS")}
try:
    vals = {k: int(v) for k, v in counts.items()}
except (TypeError, ValueError):
    vals = None
if vals and len(set(vals.values())) == 1 and list(vals.values())[0] >= 1:
    n = list(vals.values())[0]
    ok("completions == parallelism == --shards == COWLAB_SHARDS == %d" % n)
else:
    n = None
    fail("the shard counts disagree or are missing: %s" % counts)
out = opt(words, "--out")
mounts = {m.get("mountPath", "").rstrip("/") or "/": m for m in (c.get("volumeMounts") or [])}
mount = None
if out:
    for mp, m in mounts.items():
        if out.rstrip("/") == mp or out.startswith(mp.rstrip("/") + "/"):
            mount = m
if mount:
    ok("--out %s is in the volume %s mounted at %s" % (out, mount.get("name"), mount.get("mountPath")))
else:
    fail("--out %r is in none of the mounts %s" % (out, sorted(mounts)))
claim_name = None
if mount:
    vols = {v.get("name"): v for v in (pod.get("volumes") or [])}
    vol = vols.get(mount.get("name")) or {}
    pvc = vol.get("persistentVolumeClaim")
    if pvc and pvc.get("claimName"):
        claim_name = pvc["claimName"]
        ok("the volume %s is the PersistentVolumeClaim %s" % (mount.get("name"), claim_name))
    else:
        fail("the volume %s is not a PersistentVolumeClaim: %s" % (mount.get("name"), vol))
if claim_name and claim_name in claims:
    modes = (claims[claim_name].get("spec") or {}).get("accessModes") or []
    if "ReadWriteMany" in modes:
        ok("the claim %s, defined in the file, is ReadWriteMany" % claim_name)
    else:
        fail("the claim %s has accessModes %s (wanted ReadWriteMany)" % (claim_name, modes))
elif claim_name:
    print("k8s: note - the claim %s is not defined in %s: its access mode is not checked" % (claim_name, job_path))

# The merge Job.
merge_words = None
mdocs = load(merge_path) if os.path.exists(merge_path) else None
if mdocs is None and not os.path.exists(merge_path):
    print("k8s: note - no %s" % merge_path)
if mdocs:
    mjobs = [d for d in mdocs if d.get("kind") == "Job"]
    mpod = (((mjobs[0].get("spec") or {}).get("template") or {}).get("spec") or {}) if mjobs else {}
    mc = next((x for x in mpod.get("containers") or [] if "cowlab" in " ".join(argv(x))), None)
    mvols = {v.get("name"): v for v in (mpod.get("volumes") or [])}
    mmount = None
    if mc:
        for m in mc.get("volumeMounts") or []:
            v = mvols.get(m.get("name")) or {}
            if (v.get("persistentVolumeClaim") or {}).get("claimName") == claim_name:
                mmount = m
    text = " ".join(argv(mc)) if mc else ""
    if mmount and ("cowlab merge " + mmount.get("mountPath", "").rstrip("/")) in text:
        ok("the merge Job mounts the claim %s at %s and runs cowlab merge on it"
           % (claim_name, mmount.get("mountPath")))
        merge_words = (mc, mmount.get("mountPath"))
    else:
        fail("the merge Job does not run cowlab merge on the claim %s: %s" % (claim_name, text))

# Play the pods out here: each pod's argv under sh, with
# JOB_COMPLETION_INDEX and the container's env, the mount a temporary
# folder, the image's scenario folder this tree's.
bindir = os.path.join(tmp, "bin")
if not os.path.exists(os.path.join(bindir, "cowlab")) or not n or not mount:
    finish()
mp = mount.get("mountPath").rstrip("/")
results = os.path.join(tmp, "results")
os.mkdir(results)
# The mount's path, and the image's scenario folder, wherever they stand
# in a word (an 'sh -c' script holds them inside one).
def local(w):
    w = w.replace("/usr/local/share/cowlab/scenarios", os.path.join(top, "scenarios"))
    return re.sub(r"(?<![\w./-])" + re.escape(mp) + r"(?![\w.-])", lambda _: results, w)
penv = dict(os.environ)
for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"):
    penv.pop(k, None)
penv["PATH"] = bindir + os.pathsep + penv.get("PATH", "")
penv.update({k: str(v) for k, v in env.items()})
bad = []
for i in range(n):
    penv["JOB_COMPLETION_INDEX"] = str(i)
    cmd = [local(w) for w in argv(c)]
    p = subprocess.run(cmd, env=penv, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    if p.returncode != 0:
        bad.append("pod %d exited %d: %s" % (i, p.returncode, p.stdout.decode(errors="replace")[-400:]))
if bad:
    fail("the pods' command here: " + "; ".join(bad))
    finish()
files = sorted(f for f in os.listdir(results) if f.endswith(".json"))
want = ["%s-%d-of-%d.json" % (sub, i, n) for i in range(n)]
if sorted(want) == files:
    ok("%d pods, run here with JOB_COMPLETION_INDEX 0..%d, exit 0 and write %s" % (n, n - 1, ", ".join(want)))
else:
    fail("the pods wrote %s (wanted %s)" % (files, want))
if not merge_words:
    finish()
mc, mmp = merge_words
penv.pop("JOB_COMPLETION_INDEX", None)
mp = mmp.rstrip("/")
p = subprocess.run([local(w) for w in argv(mc)], env=penv, cwd=tmp,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
try:
    merged = json.loads([l for l in open(os.path.join(results, "merged.jsonl")) if l.strip()][-1])
except Exception as e:
    merged = None
    fail("the merge Job's command here exited %d, no merged.jsonl (%s): %s"
         % (p.returncode, e, p.stdout.decode(errors="replace")[-400:]))
if merged is not None:
    shards = [json.load(open(os.path.join(results, f))) for f in want]
    runs = sum((s.get("result") or s).get("runs", 0) for s in shards)
    want_rc = 1 if merged.get("found") else 0
    if p.returncode == want_rc and merged.get("runs") == runs:
        ok("the merge Job's command here exits %d (found=%s) and writes merged.jsonl; runs %d = the pods' added up"
           % (p.returncode, merged.get("found"), runs))
    else:
        fail("the merge Job's command here exited %d (found=%s), merged runs %s, the pods' %d"
             % (p.returncode, merged.get("found"), merged.get("runs"), runs))
finish()
EOF
