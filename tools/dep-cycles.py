#!/usr/bin/env python3
"""Import circles between sabench's source files, from the objects' symbols:
file A depends on file B when A's object uses a function or object B's
defines (nm); a use of a family's table (registry.c, main.c) is a lookup,
not a dependency. Prints every strongly connected
group of two or more files (a circle), and includes that climb out of
kernels/isa/; exits 1 when there is any. A maintenance check: run it on a
build (make, then python3 tools/dep-cycles.py [build])."""
import os, re, subprocess, sys
from collections import defaultdict

build = sys.argv[1] if len(sys.argv) > 1 else 'build'
SRC = ('harness', 'kernels', 'patterns', 'select')

objs = []
for top in SRC:
    for root, _, files in os.walk(os.path.join(build, top)):
        objs += [os.path.join(root, f) for f in files if f.endswith('.o')]
defined, used = {}, defaultdict(set)
for o in objs:
    src = os.path.relpath(o, build)[:-2] + '.c'
    out = subprocess.run(['nm', o], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TDBR':
            defined[parts[2]] = src
        elif len(parts) == 2 and parts[0] == 'U':
            used[src].add(parts[1])
# A family's table (registry.c, main.c's command table) is looked up by
# the framework that serves it (pat_find, sel_find, cli_find) and lists
# the kinds that use the framework: those lookups are the table's purpose,
# not a circle (DESIGN.md: one registry array per family).
TABLES = ('registry.c', 'main.c')
graph = defaultdict(set)
lookups = defaultdict(set)
for src, syms in used.items():
    for s in syms:
        if s in defined and defined[s] != src:
            if os.path.basename(defined[s]) in TABLES:
                lookups[src].add(defined[s])
            else:
                graph[src].add(defined[s])

# Tarjan's strongly connected components
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in list(graph):
    if v not in index:
        visit(v)

bad = 0
for comp in sccs:
    bad += 1
    print('circle: ' + ' <-> '.join(comp))
    for a in comp:
        for b in sorted(graph[a] & set(comp)):
            syms = sorted(s for s in used[a] if defined.get(s) == b)
            print('    %s uses %s of %s' % (a, ', '.join(syms[:4]), b))
for root, _, files in os.walk('kernels/isa'):
    for f in files:
        for n, line in enumerate(open(os.path.join(root, f)), 1):
            if re.match(r'\s*#\s*include\s+"\.\./', line):
                bad += 1
                print('upward include: %s:%d: %s' % (os.path.join(root, f), n, line.strip()))
print('%d circle(s) or upward include(s)' % bad)
sys.exit(1 if bad else 0)
