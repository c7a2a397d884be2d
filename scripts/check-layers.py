#!/usr/bin/env python3
"""scripts/check-layers.py — farhand's crates depend only down the pipeline.

Reads `cargo metadata` and fails (exit 1, one line per offending edge) if a crate of ours
depends on one of ours that ARCHITECTURE.md does not allow, or if a crate of ours is missing
from the table below. Normal and build dependencies count; dev-dependencies (tests) too,
since a test that reaches up the pipeline hides the same tangle. Before checking the tree it
checks itself: deliberate faults (an engine -> report edge, a proto -> engine dev edge, an
unlisted crate) must be caught.
"""
import json, subprocess, sys

# crate -> the crates of ours it may depend on (ARCHITECTURE.md, "Crates").
ALLOWED = {
    "farhand-model": set(),
    # The kernel program's shared types (ebpf/common): nothing of ours.
    "farhand-ebpf-common": set(),
    "farhand-proto": {"farhand-model"},
    "farhand-engine": {"farhand-model", "farhand-proto", "farhand-ebpf-common"},
    "farhand-report": {"farhand-model"},
    "farhand": {"farhand-model", "farhand-proto", "farhand-engine", "farhand-report", "farhand-ebpf-common"},
    "farhand-lab-relay": set(),
}

def check(meta):
    """One line per edge (or crate) the layer table does not allow."""
    ours = {p["name"] for p in meta["packages"]}
    bad = []
    for p in meta["packages"]:
        name = p["name"]
        if name not in ALLOWED:
            bad.append(f"check-layers: crate {name} is not in the layer table (scripts/check-layers.py, ARCHITECTURE.md)")
            continue
        for d in p["dependencies"]:
            if d["name"] in ours and d["name"] not in ALLOWED[name]:
                kind = d.get("kind") or "normal"
                bad.append(f"check-layers: {name} depends on {d['name']} ({kind}): not allowed, see ARCHITECTURE.md")
    return bad

def selftest(meta):
    """Deliberate faults must be caught: the fast path reaching the reporting crate, a parser
    reaching the fast path (as a dev-dependency), an unlisted crate."""
    import copy
    faults = [("farhand-engine", "farhand-report", None), ("farhand-proto", "farhand-engine", "dev")]
    for who, dep, kind in faults:
        m = copy.deepcopy(meta)
        for p in m["packages"]:
            if p["name"] == who:
                p["dependencies"].append({"name": dep, "kind": kind})
        if not any(f"{who} depends on {dep}" in line for line in check(m)):
            print(f"check-layers selftest: FAIL: {who} -> {dep} was not caught", file=sys.stderr)
            return 1
    m = copy.deepcopy(meta)
    m["packages"].append({"name": "farhand-new", "dependencies": []})
    if not any("farhand-new is not in the layer table" in line for line in check(m)):
        print("check-layers selftest: FAIL: an unlisted crate was not caught", file=sys.stderr)
        return 1
    return 0

def main():
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
                                     check=True, capture_output=True, text=True).stdout)
    if selftest(meta):
        return 1
    ours = {p["name"] for p in meta["packages"]}
    bad = check(meta)
    for line in bad:
        print(line, file=sys.stderr)
    if bad:
        return 1
    edges = sum(len(v) for v in ALLOWED.values())
    print(f"check-layers: {len(ours)} crates, dependencies only down the pipeline (at most {edges} allowed edges);"
          " self-test: 3 deliberate faults caught")
    return 0

if __name__ == "__main__":
    sys.exit(main())
