#!/usr/bin/python3
# Every program and module the test suite, the demo, the fuzzers and the
# benchmark run comes from a package that scripts/deps names, from a
# package those depend on (Depends and Pre-Depends only: nothing may rely
# on Recommends), or from the base system a fresh Debian 12 starts with
# (priority "required", plus apt, make, git and ca-certificates).  So the list
# cannot drift again: a test that starts using swaks's TLS must name
# libnet-ssleay-perl, or this fails.
#
# Programs: every word of the shell tests, helpers and scripts that is not
# in a comment and that names an executable on PATH (or an absolute path
# that exists), resolved with dpkg -S.  Python modules: every "import X" /
# "from X import" in them, resolved through /usr/bin/python3.  Perl
# modules: every "use X::Y" / "-MX::Y", resolved through perl's %INC.
# swaks: its optional TLS and AUTH support must be present.
import glob
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
n = 0
failed = 0


def ok(cond, desc, diag=None):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
    if not cond:
        failed += 1
        for line in (diag or "").splitlines()[:40]:
            print("#   " + line)


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          universal_newlines=True, **kw)


deps = run(["sh", os.path.join(TOP, "scripts", "deps"), "--list"]).stdout.split()
ok(len(deps) > 10, "scripts/deps --list names the packages (%d)" % len(deps))

installed = {}
for line in run(["dpkg-query", "-W", "-f=${Package} ${Priority} ${db:Status-Abbrev}\n"]).stdout.splitlines():
    f = line.split()
    if len(f) >= 3 and f[2].startswith("ii"):
        installed[f[0]] = f[1]
missing = [p for p in deps if p not in installed]
ok(not missing, "every package scripts/deps names is installed", " ".join(missing))

# What may be used: the named packages, what they depend on, the base.
closure = set(deps)
out = run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
           "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
           "--no-enhances"] + deps).stdout
for line in out.splitlines():
    m = re.match(r"^\s*(?:\|?(?:Pre)?Depends:\s*)?([a-z0-9][a-z0-9.+-]+)(?::\w+)?\s*$", line)
    if m:
        closure.add(m.group(1))
base = {p for p, prio in installed.items() if prio == "required"}
# mmdebstrap's "required" variant brings apt too (it installs the rest).
base |= {"make", "git", "ca-certificates", "apt"}
allowed = closure | base
ok(len(closure) > len(deps), "the Depends closure of scripts/deps is known (%d packages)" % len(closure))

# The files whose commands count.
files = sorted(set(glob.glob(os.path.join(TOP, "tests", "t", "*.t")) +
                   glob.glob(os.path.join(TOP, "tests", "lib", "*.sh")) +
                   [p for p in glob.glob(os.path.join(TOP, "scripts", "*")) if os.path.isfile(p)] +
                   glob.glob(os.path.join(TOP, "scripts", "systemd", "*")) +
                   [os.path.join(TOP, "Makefile"), os.path.join(TOP, ".ci", "run")]))
files = [f for f in files if os.path.isfile(f)]

# Words that are shell syntax or English, not programs, even where a
# package of that name happens to be installed.
NOT_COMMANDS = {"do", "done", "then", "fi", "if", "else", "elif", "case", "esac",
                "for", "while", "in", "function", "select", "until"}

# The system's directories only: a private interpreter or a tool someone
# installed by hand under /usr/local or a home directory is exactly what a
# fresh machine lacks.
path_dirs = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/lib/postfix/sbin"]


def which(word):
    for d in path_dirs:
        p = os.path.join(d, word)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def strip_comments(text, python):
    out = []
    for line in text.splitlines():
        s = line.lstrip()
        if s.startswith("#"):
            continue
        # A " #" starts a comment in shell and Python alike (close enough:
        # a word inside a string after " #" is only missed, never invented).
        i = line.find(" #")
        out.append(line if i < 0 else line[:i])
    return "\n".join(out)


# A word in command position: the first word of a line or of a command
# after | ; & && || ( $( ` or a keyword that starts one, after variable
# assignments and the wrappers that run another command.
SHELL_CMD = re.compile(
    r"(?:^|[|;&(`]|\$\(|\b(?:then|do|else|if|elif|while|until|exec|"
    r"time|command(?:\s+-v)?|xargs|nohup|env|setsid|unshare(?:\s+-\w+)*|"
    r"strace(?:\s+-\S+)*|timeout\s+\S+|valgrind(?:\s+--\S+)*)\b|!)"
    r"[ \t]*(?:\w+=\S*[ \t]+)*([A-Za-z][\w.+-]*[\w+])(?=[ \t;|&)]|$)", re.M)
# In Python: the first element of an argv list, which()/shutil.which().
PY_CMD = re.compile(r"(?:\[\s*|which\(\s*)[\"']([A-Za-z][\w.+-]*)[\"']")

# Files the scripts make themselves (scripts/deps writes a policy-rc.d
# while it installs, when the system has none).
MADE_HERE = {"/usr/sbin/policy-rc.d"}

owner_cache = {}


def owner(p):
    """The package that ships file p (through symlinks), or None."""
    real = os.path.realpath(p)
    if real in owner_cache:
        return owner_cache[real]
    pkg = None
    cands = []
    for c in (p, real):
        cands.append(c)
        # Merged /usr: dpkg knows /bin/rm, the file is /usr/bin/rm.
        for a, b in (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"),
                     ("/usr/lib/", "/lib/")):
            if c.startswith(a):
                cands.append(b + c[len(a):])
            elif c.startswith(b):
                cands.append(a + c[len(b):])
    for cand in cands:
        r = run(["dpkg", "-S", cand])
        # A diverted file (linux-perf diverts /usr/bin/perf) comes after
        # the "diversion by" lines.
        lines = [l for l in r.stdout.splitlines()
                 if not l.startswith("diversion")]
        if r.returncode == 0 and lines:
            pkg = lines[0].split(":")[0].split(",")[0].strip()
            break
    owner_cache[real] = pkg
    return pkg


programs = {}
pymods = {}
plmods = {}
for f in files:
    try:
        text = open(f, encoding="utf-8", errors="replace").read()
    except OSError:
        continue
    rel = os.path.relpath(f, TOP)
    body = strip_comments(text, text.startswith("#!/usr/bin/env python") or
                          text.startswith("#!/usr/bin/python"))
    words = set(PY_CMD.findall(body))
    for m in SHELL_CMD.finditer(body):
        # "word)" alone at the start of a line is a case pattern.
        start = body.rfind("\n", 0, m.start(1)) + 1
        if body[m.end(1):m.end(1) + 1] == ")" and not body[start:m.start(1)].strip():
            continue
        words.add(m.group(1))
    for w in words:
        if w in NOT_COMMANDS:
            continue
        p = which(w)
        if p:
            programs.setdefault(p, set()).add(rel)
    for p in set(re.findall(r"(?<![\w.$-])(/(?:usr|bin|sbin|etc|lib)/[A-Za-z0-9_+./-]*[A-Za-z0-9])", body)):
        if os.path.isfile(p) and not p.startswith("/etc/"):
            programs.setdefault(p, set()).add(rel)
    for m in re.findall(r"^\s*(?:import\s+([A-Za-z_]\w*)(?:\.\w+)*(?:\s+as\s+\w+)?\s*(?:,.*)?$|"
                        r"from\s+([A-Za-z_]\w*)(?:\.\w+)*\s+import\s)", body, re.M):
        for mod in m:
            if mod:
                pymods.setdefault(mod, set()).add(rel)
    for m in re.findall(r"(?:^\s*use\s+|(?<=\s)-M)([A-Z][A-Za-z0-9_]*(?:::[A-Za-z0-9_]+)*)", body, re.M):
        plmods.setdefault(m, set()).add(rel)

bad = []
unowned = []
for p, where in sorted(programs.items()):
    pkg = owner(p)
    if pkg is None:
        if p in MADE_HERE:
            continue
        # Not from a package: the project's own or made by a test.
        if not os.path.realpath(p).startswith(("/usr/local/", TOP)):
            unowned.append("%s (in %s)" % (p, ", ".join(sorted(where))))
        continue
    if pkg not in allowed:
        bad.append("%s is from %s, not named in scripts/deps (used in %s)" %
                   (p, pkg, ", ".join(sorted(where))))
ok(len(programs) > 30, "the scan found the programs the suite runs (%d)" % len(programs))
ok(not bad, "every program the suite runs comes from scripts/deps, its Depends or the base system",
   "\n".join(bad))
ok(not unowned, "no program the suite runs is outside Debian's packages (e.g. a hand-installed one)",
   "\n".join(unowned))

# Python modules, through the interpreter the tests use for Debian's.
bad = []
for m, where in sorted(pymods.items()):
    r = run(["/usr/bin/python3", "-c",
             "import %s, sys; print(getattr(%s, '__file__', None) or 'builtin')" % (m, m)])
    if r.returncode != 0:
        # A module of the project's own scripts (or a name in a string).
        if os.path.exists(os.path.join(TOP, "scripts", m + ".py")):
            continue
        bad.append("python module %s cannot be imported (used in %s)" % (m, ", ".join(sorted(where))))
        continue
    f = r.stdout.strip()
    if f == "builtin":
        continue
    pkg = owner(f)
    if pkg is None or pkg not in allowed:
        bad.append("python module %s is from %s, not named in scripts/deps (used in %s)" %
                   (m, pkg or "no package", ", ".join(sorted(where))))
ok("json" in pymods, "the scan found the Python modules the suite imports (%d)" % len(pymods))
ok(not bad, "every Python module comes from scripts/deps, its Depends or the base system", "\n".join(bad))

# swaks loads these itself when a test asks for TLS (--tls, --tlsc).
for m in ("Net::SSLeay", "IO::Socket::SSL"):
    plmods.setdefault(m, set()).add("swaks --tls")

bad = []
for m, where in sorted(plmods.items()):
    key = m.replace("::", "/") + ".pm"
    r = run(["perl", "-M" + m, "-e", "print $INC{'%s'}" % key])
    if r.returncode != 0 or not r.stdout:
        bad.append("perl module %s cannot be loaded (used in %s)" % (m, ", ".join(sorted(where))))
        continue
    pkg = owner(r.stdout.strip())
    if pkg is None or pkg not in allowed:
        bad.append("perl module %s is from %s, not named in scripts/deps (used in %s)" %
                   (m, pkg or "no package", ", ".join(sorted(where))))
ok(not bad, "every Perl module comes from scripts/deps, its Depends or the base system", "\n".join(bad))

# swaks loads its optional modules only when asked: ask.
r = run(["swaks", "--support"])
sup = (r.stdout or "") + (run(["sh", "-c", "swaks --support 2>&1"]).stdout or "")
for feat in ("TLS", "Basic AUTH", "AUTH CRAM-MD5"):
    ok(re.search(r"=== %s supported" % re.escape(feat), sup) is not None,
       "swaks: %s is supported (its Perl modules are installed)" % feat,
       "\n".join(l for l in sup.splitlines() if feat.split()[-1] in l))

print("1..%d" % n)
sys.exit(1 if failed else 0)
