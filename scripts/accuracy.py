#!/usr/bin/env python3
"""scripts/accuracy.py — the accuracy gate: farhand against the corpus' reference labels.

    scripts/accuracy.py [--farhand target/release/farhand] [--shared ../shared] [--out ACCURACY.md]
                        [--notes scripts/accuracy-notes.toml] [--floors scripts/accuracy-floors.toml]
                        [--compare ACCURACY.md]

For every capture of ../shared/corpus/MANIFEST.tsv it runs farhand (one worker) and compares,
flow by flow (5-tuple, either direction), farhand's alerts with the flows the reference
classifier (nDPI) labelled with a protocol farhand covers (the mapping is REFERENCE_TO_TOOL
below). Each flow falls in one of:

  found      the reference and farhand name the same tool
  different  both name a covered tool, but not the same one
  missed     the reference names a covered tool, farhand raised nothing for the flow
  extra      farhand names a tool where the reference has none (or an uncovered protocol)
  uncovered  the reference names a protocol farhand has no detector for, farhand is silent

The gate fails (exit status 1, one line per problem on stderr) on any change it cannot
attribute:
  - a disagreement (capture, flow, reference label, farhand tool, outcome) that no entry of
    scripts/accuracy-notes.toml lists exactly; a note explains only the disagreements it
    names, never a whole capture;
  - a note entry that matches no disagreement of this run (stale), or a note whose stated
    outcome counts disagree with the entries it lists;
  - a per-tool count that differs from scripts/accuracy-floors.toml (fewer "found" than the
    floor or more "different"/"missed"/"extra" than the ceiling is a regression; the other
    direction means the committed figures no longer describe farhand and must be looked at
    too), or an alert total per kind that differs from the committed one;
  - any alert on a negative capture; farhand exiting non-zero or writing a line that is not
    an alert; a flow with alerts naming two tools; a capture or label file missing or not
    matching the manifest's sha256.
ACCURACY.md (--out) is written either way, with UNEXPLAINED on the rows no note covers. With
--compare FILE, the report written must also equal FILE byte for byte.
"""
import argparse, difflib, hashlib, ipaddress, json, os, re, subprocess, sys, tomllib
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# nDPI protocol name (the app part of Master.App, else the master) -> farhand tool name.
# Protocols farhand does not cover yet are listed with None so they count as "uncovered".
REFERENCE_TO_TOOL = {
    "RDP": "rdp", "VNC": "vnc", "SSH": "ssh", "TeamViewer": "teamviewer", "AnyDesk": "anydesk",
    "NoMachine": "nomachine", "Radmin": "radmin", "RustDesk": "rustdesk",
    "STUN": "stun_turn", "GoogleCall": "stun_turn", "SignalVoip": "stun_turn", "FacebookVoip": "stun_turn",
    "Skype_TeamsCall": "stun_turn", "WhatsAppCall": "stun_turn",
    "WireGuard": "wireguard", "Mullvad": "wireguard", "ProtonVPN": "protonvpn",
    "OpenVPN": "openvpn", "NordVPN": "openvpn",
    "Tailscale": "tailscale", "CloudflareWarp": "cloudflare_warp", "Tor": "tor",
    "HTTP_Connect": "http_connect", "SOCKS": "socks",
    "IPSec": "ipsec", "PPTP": "pptp", "TINC": "tinc", "Softether": "softether", "TunnelBear": "tunnelbear",
    "FortiClient": "forticlient", "CiscoVPN": None, "Psiphon": "psiphon", "UltraSurf": "ultrasurf",
}
# Reference labels that are only relay/call apps when nDPI's master protocol is STUN/DTLS.
CALL_APPS = {"GoogleCall", "SignalVoip", "FacebookVoip", "Skype_TeamsCall", "WhatsAppCall"}
# farhand alert kinds that are not flow classifications (counted per kind, not per flow).
NON_FLOW_KINDS = ("multiple_remote_tools", "ip_kvm_suspected")
OUTCOMES = ("different", "missed", "extra", "uncovered")
# Per-tool counts the floors file fixes: "found" is a floor, the others are ceilings.
COUNTS = ("found", "different", "missed", "extra")
NONE = "none"  # a note's spelling of "no label" / "no alert"

FLOW_RE = re.compile(r"^\s*\d+\s+(TCP|UDP|ICMP|ICMPV6)\s+(\S+) <?-> (\S+) (?:\[VLAN: \d+\])?\s*\[proto: [0-9.]+/([^\]]+)\]")

LOOK = ("Look at each flow named above before changing anything: run the tshark command given on "
        "its line, compare what the flow carries with the reference's line for it in "
        "../shared/corpus/labels/<capture>.out, and find the change in farhand that moved it. "
        "A note in scripts/accuracy-notes.toml or a figure in scripts/accuracy-floors.toml may be "
        "changed only by hand, for the flows you looked at, with what you saw; the gate never "
        "accepts a disagreement, a surplus or a count it was not told about flow by flow.")


def canon_ip(ip):
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


def endpoint(s):
    m = re.match(r"^\[(.*)\]:(\d+)$", s) or re.match(r"^(.*):(\d+)$", s)
    return (canon_ip(m.group(1)), int(m.group(2))) if m else (canon_ip(s), 0)


def key(proto, a, b):
    return (proto.lower().replace("icmpv6", "icmp"),) + tuple(sorted([a, b]))


def reference_flows(label_file):
    flows = {}
    for line in open(label_file, encoding="utf-8", errors="replace"):
        m = FLOW_RE.match(line)
        if not m:
            continue
        proto, a, b, label = m.groups()
        master, _, app = label.partition(".")
        name = app or master
        if name in CALL_APPS and master not in ("STUN", "DTLS"):
            name = master
        if name not in REFERENCE_TO_TOOL and master in REFERENCE_TO_TOOL:
            name = master
        flows[key(proto, endpoint(a), endpoint(b))] = (label, REFERENCE_TO_TOOL.get(name, "-") if name in REFERENCE_TO_TOOL else "-")
    return flows


def farhand_flows(farhand, pcap):
    """farhand's flows -> set of tools, its non-flow alerts, its exit status, problems."""
    flows, kinds, other, bad = defaultdict(set), [], [], []
    try:
        out = subprocess.run([farhand, "-q", "--workers", "1", "-r", pcap], capture_output=True, text=True)
    except OSError as e:
        return flows, kinds, other, f"not run ({e})", bad
    for n, line in enumerate(out.stdout.splitlines(), 1):
        try:
            a = json.loads(line)
            f = a["unmapped"]["farhand"]
            kind, tool = f["kind"], f["tool"]
            proto = a["connection_info"]["protocol_name"]
            src = (canon_ip(a["src_endpoint"]["ip"]), a["src_endpoint"]["port"])
            dst = (canon_ip(a["dst_endpoint"]["ip"]), a["dst_endpoint"]["port"])
        except (ValueError, KeyError, TypeError) as e:
            bad.append(f"output line {n} is not an alert ({type(e).__name__}: {e}): {line[:120]!r}")
            continue
        kinds.append(kind)
        if kind in NON_FLOW_KINDS:  # not flow classifications
            other.append((kind, tool, f"{proto} {src[0]}:{src[1]} -> {dst[0]}:{dst[1]}"))
            continue
        if proto == "icmp":  # the reference keys ICMP flows by address only
            src, dst = (src[0], 0), (dst[0], 0)
        flows[key(proto, src, dst)].add(tool)
    return flows, kinds, sorted(other), out.returncode, bad


SUMMARY = re.compile(r"(\d+) packets,.*?; (\d+) flows, \d+ sessions, (\d+) alerts;")


def own_negatives(farhand, problems):
    """The project's own negatives (tests/cases/own-neg-*): ordinary traffic of real software
    recorded in namespaces -> rows (case, what, packets, flows, alerts); an alert is a problem."""
    rows = []
    cases = os.path.join(ROOT, "tests", "cases")
    for name in sorted(d for d in os.listdir(cases) if d.startswith("own-neg-")):
        pcap = os.path.join(cases, name, "input.pcap")
        title = open(os.path.join(cases, name, "README.md"), encoding="utf-8").readline()
        what = title.split("\u2014", 1)[-1].strip()
        out = subprocess.run([farhand, "--workers", "1", "-r", pcap], capture_output=True, text=True)
        m = SUMMARY.search(out.stderr)
        if out.returncode != 0 or m is None:
            problems.append(f"NEGATIVE tests/cases/{name}: farhand exited {out.returncode} without a summary line")
            continue
        packets, flows, alerts = (int(x) for x in m.groups())
        if alerts:
            problems.append(f"NEGATIVE tests/cases/{name}: {alerts} alerts on the project's own negative capture")
        rows.append((name, what, packets, flows, alerts))
    return rows


def fmt(k):
    p, a, b = k
    return f"{p} {a[0]}:{a[1]} <-> {b[0]}:{b[1]}"


def tshark(corpus, path, k):
    """A tshark command that shows the flow k of the capture."""
    p, a, b = k
    ipf = "ipv6.addr" if ":" in a[0] else "ip.addr"
    f = f"{ipf}=={a[0]} && {ipf}=={b[0]}"
    if p in ("tcp", "udp"):
        f = f"{p}.port=={a[1]} && {p}.port=={b[1]} && {f}"
    else:
        f = f"(icmp || icmpv6) && {f}"
    return f"tshark -r {os.path.relpath(os.path.join(corpus, path))} -Y '{f}'"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_notes(notes_path, captures, problems):
    """The notes -> {(capture, flow, outcome, reference, farhand): note index}, texts."""
    entries, texts = {}, []
    if not os.path.exists(notes_path):
        problems.append(f"NOTES {notes_path}: missing")
        return entries, texts
    try:
        notes = tomllib.load(open(notes_path, "rb")).get("note", [])
    except tomllib.TOMLDecodeError as e:
        problems.append(f"NOTES {notes_path}: not valid TOML ({e})")
        return entries, texts
    for i, n in enumerate(notes):
        where = f"NOTES {os.path.basename(notes_path)} note {i + 1}"
        capture, covers, text = n.get("capture"), n.get("covers"), n.get("text")
        if not isinstance(capture, str) or not isinstance(text, str) or not text.strip() \
                or not isinstance(covers, list) or not covers:
            problems.append(f"{where}: needs capture, text and a non-empty covers list")
            texts.append("")
            continue
        texts.append(text)
        if capture not in captures:
            problems.append(f"{where}: capture {capture} is not in the corpus manifest")
        tally = Counter()
        for c in covers:
            if not isinstance(c, dict) or set(c) != {"flow", "outcome", "reference", "farhand"} \
                    or c["outcome"] not in OUTCOMES:
                problems.append(f"{where} ({capture}): entry {c!r} needs exactly flow, outcome "
                                f"(one of {', '.join(OUTCOMES)}), reference and farhand")
                continue
            tally[c["outcome"]] += 1
            k = (capture, c["flow"], c["outcome"], c["reference"], c["farhand"])
            if k in entries:
                problems.append(f"{where} ({capture}): {c['flow']} {c['outcome']} is listed twice")
            entries[k] = i
        counts = n.get("counts")
        if counts is not None and (not isinstance(counts, dict) or set(counts) - set(OUTCOMES)
                                   or not all(isinstance(v, int) for v in counts.values())):
            problems.append(f"{where} ({capture}): counts must map outcomes ({', '.join(OUTCOMES)}) to integers")
        elif len(covers) > 1 and counts is None:
            problems.append(f"{where} ({capture}): covers {len(covers)} disagreements but states no "
                            f"counts (e.g. counts = {{ {', '.join(f'{o} = {tally[o]}' for o in sorted(tally))} }})")
        elif counts is not None and Counter({o: v for o, v in counts.items() if v}) != tally:
            problems.append(f"{where} ({capture}): counts {dict(sorted(counts.items()))} do not match the "
                            f"{len(covers)} disagreements it lists {dict(sorted(tally.items()))}")
    return entries, texts


def load_floors(floors_path, problems):
    if not os.path.exists(floors_path):
        problems.append(f"FLOORS {floors_path}: missing")
        return {}, {}
    try:
        floors = tomllib.load(open(floors_path, "rb"))
    except tomllib.TOMLDecodeError as e:
        problems.append(f"FLOORS {floors_path}: not valid TOML ({e})")
        return {}, {}
    return floors.get("tool", {}), floors.get("alerts", {})


def check_floors(per_tool, tool_floors, alert_floors, alert_kinds, by_tool, problems):
    """by_tool: tool -> [(outcome, "capture flow")] of this run's disagreements, to name them."""
    def flows(t, outcomes):
        named = [f"{f} ({o})" for o, f in by_tool.get(t, []) if o in outcomes]
        return f" -- {t} flows {'/'.join(outcomes)} now: {'; '.join(named)}" if named else ""

    for t in sorted(set(per_tool) | set(tool_floors)):
        have, want = per_tool.get(t, {}), tool_floors.get(t)
        if want is None:
            counts = ", ".join(f"{c} {have.get(c, 0)}" for c in COUNTS)
            problems.append(f"FLOOR {t}: tool has no line in scripts/accuracy-floors.toml ({counts}); "
                            "look at its flows in the report")
            continue
        for c in COUNTS:
            h, w = have.get(c, 0), want.get(c, 0)
            if h == w:
                continue
            if c == "found":
                what = (f"found {h} < floor {w}: {w - h} flow(s) the reference and farhand agreed on no longer agree"
                        if h < w else f"found {h} > floor {w}: more flows agree than the committed figure")
            else:
                what = (f"{c} {h} > ceiling {w}: {h - w} more flow(s) {c}" if h > w
                        else f"{c} {h} < ceiling {w}: fewer flows {c} than the committed figure")
            if h < w and c == "found":
                what += flows(t, ("missed", "different"))
            elif h > w and c != "found":
                what += flows(t, (c,))
            problems.append(f"FLOOR {t} {what}")
    for kind in sorted(set(alert_kinds) | set(alert_floors)):
        h, w = alert_kinds.get(kind, 0), alert_floors.get(kind, 0)
        if h != w:
            problems.append(f"ALERTS {kind}: {h} alerts over the corpus, committed {w}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--farhand", default=os.path.join(ROOT, "target/release/farhand"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(ROOT, "ACCURACY.md"))
    ap.add_argument("--notes", default=os.path.join(ROOT, "scripts", "accuracy-notes.toml"))
    ap.add_argument("--floors", default=os.path.join(ROOT, "scripts", "accuracy-floors.toml"))
    ap.add_argument("--compare", metavar="FILE", help="fail unless the report written equals FILE (the committed ACCURACY.md)")
    args = ap.parse_args(argv)
    corpus = os.path.join(args.shared, "corpus")
    problems = []  # one line each, printed at the end
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(corpus, "MANIFEST.tsv"))][1:]
    notes, note_texts = load_notes(args.notes, {r[0] for r in rows}, problems)
    tool_floors, alert_floors = load_floors(args.floors, problems)
    used, by_tool = set(), defaultdict(list)
    per_tool = defaultdict(lambda: defaultdict(int))
    alert_kinds = Counter()
    details, unexplained, negative_hits, non_flow = [], 0, [], []
    for path, sha, _bytes, _pkts, _src, ref_summary, role in rows:
        name = os.path.basename(path)
        pcap, labels = os.path.join(corpus, path), os.path.join(corpus, "labels", name + ".out")
        if not os.path.exists(pcap) or not os.path.exists(labels):
            problems.append(f"CORPUS {path}: capture or label file {labels} missing")
            continue
        if sha256(pcap) != sha:
            problems.append(f"CORPUS {path}: sha256 differs from MANIFEST.tsv (the capture changed)")
        ref = reference_flows(labels)
        got, kinds, other, rc, bad = farhand_flows(args.farhand, pcap)
        alert_kinds.update(kinds)
        non_flow += [(path,) + o for o in other]
        problems += [f"OUTPUT {path}: {b}" for b in bad]
        if rc != 0:
            problems.append(f"EXIT {path}: farhand {rc}" if isinstance(rc, str) else
                            f"EXIT {path}: farhand exited with status {rc}")
        if role == "negative" and kinds:
            negative_hits.append(f"{path}: {', '.join(sorted(set(kinds)))}")
            for kind, tool, flow in other:
                problems.append(f"NEGATIVE {path} {flow} farhand={tool} kind={kind}: alert on a negative capture")
        lines = []
        for k in sorted(set(ref) | set(got)):
            label, want = ref.get(k, ("", "-"))
            tools = sorted(got.get(k, ()))
            have = tools[0] if tools else None
            look = tshark(corpus, path, k)
            if len(tools) > 1:
                problems.append(f"CONFLICT {path} {fmt(k)} farhand={'+'.join(tools)}: alerts on one flow name "
                                f"{len(tools)} tools -- look: {look}")
            if role == "negative" and have:
                problems.append(f"NEGATIVE {path} {fmt(k)} reference={label or NONE} farhand={have}: alert on a "
                                f"negative capture -- look: {look}")
            if role == "negative" and want != "-" and not have:
                # The reference's label on a negative capture (e.g. a port guess on a SYN
                # scan): farhand's silence is the right answer.
                name = want or label.split(".")[-1] + " (uncovered)"
                per_tool[name]["negative_ref"] += 1
                continue
            if want not in ("-", None):
                if have == want:
                    per_tool[want]["found"] += 1
                    continue
                outcome = "different" if have else "missed"
                per_tool[want][outcome] += 1
                by_tool[want].append((outcome, f"{path} {fmt(k)}"))
            elif want is None:
                per_tool[label.split(".")[-1] + " (uncovered)"]["missed" if not have else "found"] += 1
                if have:
                    continue
                outcome = "uncovered"
            elif have:
                per_tool[have]["extra"] += 1
                outcome = "extra"
                by_tool[have].append((outcome, f"{path} {fmt(k)}"))
            else:
                continue
            nk = (path, fmt(k), outcome, label or NONE, have or NONE)
            note = notes.get(nk)
            if note is None:
                unexplained += 1
                problems.append(f"UNEXPLAINED {path} {fmt(k)} reference={label or NONE} farhand={have or NONE} "
                                f"outcome={outcome}: no note lists this disagreement -- look: {look}")
            else:
                used.add(nk)
            text = note_texts[note] if note is not None else "**UNEXPLAINED**"
            lines.append(f"| {fmt(k)} | {label or '–'} | {have or '–'} | {outcome} | {text} |")
        if lines or rc not in (0,):
            details.append((path, role, ref_summary, rc, lines))
    for nk in sorted(set(notes) - used):
        path, flow, outcome, label, have = nk
        problems.append(f"STALE {path} {flow} reference={label} farhand={have} outcome={outcome}: "
                        f"note {notes[nk] + 1} lists a disagreement this run does not have")
    check_floors(per_tool, tool_floors, alert_floors, alert_kinds, by_tool, problems)
    own = own_negatives(args.farhand, problems)
    write_report(args.out, per_tool, negative_hits, non_flow, details, own)
    if args.compare:
        committed = open(args.compare, encoding="utf-8").read().splitlines(keepends=True)
        written = open(args.out, encoding="utf-8").read().splitlines(keepends=True)
        if committed != written:
            sys.stderr.writelines(difflib.unified_diff(committed, written, args.compare, args.out))
            problems.append(f"REPORT {args.out} differs from {args.compare} (diff above): each differing line is "
                            "a change in what farhand reports, in a note's wording or in this script's format; "
                            "look at each one and find the commit that made it before the committed report changes")
    print(f"{args.out}: {sum(len(d[4]) for d in details)} disagreements, {unexplained} unexplained, "
          f"{len(negative_hits)} negatives with alerts, {len(problems)} problems", file=sys.stderr)
    if problems:
        for p in problems:
            print(f"accuracy: FAIL {p}", file=sys.stderr)
        print(f"accuracy: {len(problems)} problem(s). {LOOK}", file=sys.stderr)
        return 1
    print(f"accuracy: ok ({len(used)} disagreements, each listed by a note; per-tool figures equal the "
          "committed floors and ceilings)", file=sys.stderr)
    return 0


def write_report(out, per_tool, negative_hits, non_flow, details, own):
    with open(out, "w") as o:
        o.write("# Accuracy against the reference labels\n\n")
        o.write("Generated by `scripts/accuracy.py` (do not edit by hand; explanations live in "
                "`scripts/accuracy-notes.toml`, each naming the flows and outcomes it explains, and "
                "the per-tool figures below are fixed in `scripts/accuracy-floors.toml`). farhand was "
                "run with one worker on every capture of `../shared/corpus` and compared flow by flow "
                "with the reference classifier's labels (nDPI's `labels/*.out`). nDPI is a reference, "
                "not the truth: see the corpus README for where its labels are weak.\n\n")
        o.write("## Per tool\n\n| tool | found | labelled differently | missed | farhand only | reference label on a negative capture (farhand silent) |\n|---|---|---|---|---|---|\n")
        for t in sorted(per_tool):
            c = per_tool[t]
            o.write(f"| {t} | {c['found']} | {c['different']} | {c['missed']} | {c['extra']} | {c['negative_ref']} |\n")
        o.write("\n`(uncovered)` rows are reference protocols farhand has no detector for yet.\n\n")
        o.write("## Negatives\n\n")
        o.write("\n".join(f"- {h}" for h in negative_hits) if negative_hits else
                "No negative capture (TLS, HTTP, DNS, QUIC, mixed, SYN scans) raised any alert.")
        o.write("\n\n## Precision on the project's own negatives\n\n")
        o.write("Ordinary enterprise traffic of real software, recorded by the project's scripts between "
                "network namespaces (`tests/cases/own-neg-*`, each README says how): every flow there is "
                "one farhand must stay silent on.\n\n| capture | traffic | packets | flows | alerts |\n|---|---|---|---|---|\n")
        for name, what, packets, flows, alerts in own:
            o.write(f"| `{name}` | {what} | {packets} | {flows} | {alerts} |\n")
        o.write(f"| **total** | | {sum(r[2] for r in own)} | {sum(r[3] for r in own)} | {sum(r[4] for r in own)} |\n")
        o.write("\n## Alerts that are not flow classifications\n\n")
        o.write("\n".join(f"- {p}: {kind} ({tool}) {flow}" for p, kind, tool, flow in non_flow) if non_flow else "None.")
        o.write("\n\n## Disagreements by capture\n\n")
        for path, role, ref_summary, rc, lines in details:
            o.write(f"### {path} ({role}; reference: {ref_summary})\n\n")
            if rc != 0:
                o.write(f"farhand exited with status {rc}.\n\n")
            if lines:
                o.write("| flow | reference | farhand | outcome | explanation |\n|---|---|---|---|---|\n")
                o.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    sys.exit(main())
