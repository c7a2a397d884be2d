#!/usr/bin/env python3
"""scripts/accuracy.py — farhand against the corpus' reference labels; writes ACCURACY.md.

    scripts/accuracy.py [--farhand target/release/farhand] [--shared ../shared] [--out ACCURACY.md]

For every capture of ../shared/corpus/MANIFEST.tsv it runs farhand (one worker) and compares,
flow by flow (5-tuple, either direction), farhand's alerts with the flows the reference
classifier (nDPI) labelled with a protocol farhand covers (the mapping is REFERENCE_TO_TOOL
below). Each flow falls in one of:

  found      the reference and farhand name the same tool
  different  both name a covered tool, but not the same one
  missed     the reference names a covered tool, farhand raised nothing for the flow
  extra      farhand names a tool where the reference has none (or an uncovered protocol)

Per tool the table counts them; per capture the disagreements are listed with the
explanation from scripts/accuracy-notes.toml (keyed by "capture" or "capture flow"); a
disagreement without a note is marked UNEXPLAINED. Exit status 1 if any is unexplained or a
negative capture raised a remote-control/tunnel alert, so the script can gate a change.
"""
import argparse, ipaddress, json, os, re, subprocess, sys, tomllib
from collections import defaultdict

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

FLOW_RE = re.compile(r"^\s*\d+\s+(TCP|UDP|ICMP|ICMPV6)\s+(\S+) <?-> (\S+) (?:\[VLAN: \d+\])?\s*\[proto: [0-9.]+/([^\]]+)\]")


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
    out = subprocess.run([farhand, "-q", "--workers", "1", "-r", pcap], capture_output=True, text=True)
    flows, kinds = {}, []
    for line in out.stdout.splitlines():
        a = json.loads(line)
        f = a["unmapped"]["farhand"]
        kinds.append(f["kind"])
        if f["kind"] in ("multiple_remote_tools", "ip_kvm_suspected"):  # not flow classifications
            continue
        proto = a["connection_info"]["protocol_name"]
        src, dst = canon_ip(a["src_endpoint"]["ip"]), canon_ip(a["dst_endpoint"]["ip"])
        k = key(proto, (src, a["src_endpoint"]["port"]), (dst, a["dst_endpoint"]["port"]))
        if proto == "icmp":  # the reference keys ICMP flows by address only
            k = key(proto, (src, 0), (dst, 0))
        flows.setdefault(k, f["tool"])
    return flows, kinds, out.returncode


def fmt(k):
    p, a, b = k
    return f"{p} {a[0]}:{a[1]} <-> {b[0]}:{b[1]}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--farhand", default=os.path.join(ROOT, "target/release/farhand"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(ROOT, "ACCURACY.md"))
    args = ap.parse_args()
    corpus = os.path.join(args.shared, "corpus")
    notes_path = os.path.join(ROOT, "scripts", "accuracy-notes.toml")
    notes = tomllib.load(open(notes_path, "rb")).get("note", {}) if os.path.exists(notes_path) else {}
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(corpus, "MANIFEST.tsv"))][1:]
    per_tool = defaultdict(lambda: defaultdict(int))
    details, unexplained, negative_hits = [], 0, []
    for path, _sha, _bytes, _pkts, _src, ref_summary, role in rows:
        name = os.path.basename(path)
        ref = reference_flows(os.path.join(corpus, "labels", name + ".out"))
        got, kinds, rc = farhand_flows(args.farhand, os.path.join(corpus, path))
        if role == "negative" and kinds:
            negative_hits.append(f"{path}: {', '.join(sorted(set(kinds)))}")
        lines = []
        for k in sorted(set(ref) | set(got)):
            label, want = ref.get(k, ("", "-"))
            have = got.get(k)
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
            elif want is None:
                per_tool[label.split(".")[-1] + " (uncovered)"]["missed" if not have else "found"] += 1
                if have:
                    continue
                outcome = "uncovered"
            elif have:
                per_tool[have]["extra"] += 1
                outcome = "extra"
            else:
                continue
            note = notes.get(f"{path} {fmt(k)}") or notes.get(path)
            if note is None:
                unexplained += 1
            lines.append(f"| {fmt(k)} | {label or '–'} | {have or '–'} | {outcome} | {note or '**UNEXPLAINED**'} |")
        if lines or rc not in (0,):
            details.append((path, role, ref_summary, rc, lines))
    with open(args.out, "w") as o:
        o.write("# Accuracy against the reference labels\n\n")
        o.write("Generated by `scripts/accuracy.py` (do not edit by hand; explanations live in "
                "`scripts/accuracy-notes.toml`). farhand was run with one worker on every capture of "
                "`../shared/corpus` and compared flow by flow with the reference classifier's labels "
                "(nDPI's `labels/*.out`). nDPI is a reference, not the truth: see the corpus README for "
                "where its labels are weak.\n\n")
        o.write("## Per tool\n\n| tool | found | labelled differently | missed | farhand only | reference label on a negative capture (farhand silent) |\n|---|---|---|---|---|---|\n")
        for t in sorted(per_tool):
            c = per_tool[t]
            o.write(f"| {t} | {c['found']} | {c['different']} | {c['missed']} | {c['extra']} | {c['negative_ref']} |\n")
        o.write("\n`(uncovered)` rows are reference protocols farhand has no detector for yet.\n\n")
        o.write("## Negatives\n\n")
        o.write("\n".join(f"- {h}" for h in negative_hits) if negative_hits else
                "No negative capture (TLS, HTTP, DNS, QUIC, mixed, SYN scans) raised any alert.")
        o.write("\n\n## Disagreements by capture\n\n")
        for path, role, ref_summary, rc, lines in details:
            o.write(f"### {path} ({role}; reference: {ref_summary})\n\n")
            if rc != 0:
                o.write(f"farhand exited with status {rc}.\n\n")
            if lines:
                o.write("| flow | reference | farhand | outcome | explanation |\n|---|---|---|---|---|\n")
                o.write("\n".join(lines) + "\n\n")
    print(f"{args.out}: {sum(len(d[4]) for d in details)} disagreements, {unexplained} unexplained, "
          f"{len(negative_hits)} negatives with alerts", file=sys.stderr)
    return 1 if unexplained or negative_hits else 0


sys.exit(main())
