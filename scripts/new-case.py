#!/usr/bin/env python3
"""scripts/new-case.py — scaffold a regression case from a capture.

    scripts/new-case.py NAME (--corpus GROUP/FILE | --input FILE) --description TEXT [--readme TEXT]

Runs target/release/farhand on the capture (one worker) and writes tests/cases/NAME/
expect.toml listing, per alert, the fields that identify it (kind, tool, endpoints,
transport, and the fingerprint's key fields), plus a README.md stub. Review both before
committing: the expectation must be checked against an independent reference (tshark's
dissection, the corpus labels), not just copied from farhand. --input copies the file into
the case directory (only for the project's own captures; corpus files are referenced).
"""
import argparse, json, os, shutil, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("FARHAND_SHARED", os.path.join(ROOT, "..", "shared"))
KEYS = {
    "ssh": ["client_banner.software", "server_banner.software", "hassh", "hassh_server"],
    "rdp": ["transport", "cookie_user", "requested_protocols", "selected_protocol", "negotiation_failure", "udp_syn_ack"],
    "vnc": ["server_version", "client_version", "security_type.name"],
}

def get(d, dotted):
    for k in dotted.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d

def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus")
    src.add_argument("--input")
    ap.add_argument("--description", required=True)
    ap.add_argument("--readme", default="")
    a = ap.parse_args()
    d = os.path.join(ROOT, "tests", "cases", a.name)
    os.makedirs(d, exist_ok=True)
    if a.corpus:
        path = os.path.join(SHARED, "corpus", a.corpus)
        head = f'corpus = "{a.corpus}"'
        origin = f"`../shared/corpus/{a.corpus}` (third-party, referenced by path; see its MANIFEST.tsv row for source and licence). Skipped with a visible message when `../shared` is absent."
    else:
        ext = os.path.splitext(a.input)[1]
        shutil.copy(a.input, os.path.join(d, "input" + ext))
        path = os.path.join(d, "input" + ext)
        head = f'input = "input{ext}"'
        origin = f"`input{ext}` in this directory (the project's own capture)."
    out = subprocess.run([os.path.join(ROOT, "target/release/farhand"), "-q", "--workers", "1", "-r", path],
                         check=True, capture_output=True, text=True).stdout
    alerts = [json.loads(l) for l in out.splitlines()]
    lines = [f"description = {json.dumps(a.description)}", head, ""]
    if not alerts:
        lines.append("# No [[alert]] entries: the capture must raise no alert at all.")
    for al in alerts:
        f = al["unmapped"]["farhand"]
        lines.append("[[alert]]")
        if f["kind"] == "multiple_remote_tools":
            lines.append(f'"unmapped.farhand.kind" = "multiple_remote_tools"')
            lines.append(f'"unmapped.farhand.endpoint.ip" = {toml_value(f["endpoint"]["ip"])}')
            lines.append(f'"unmapped.farhand.related_tools" = {toml_value(f["related_tools"])}')
            lines.append("")
            continue
        for k in ["unmapped.farhand.kind", "unmapped.farhand.tool", "src_endpoint.ip", "src_endpoint.port",
                  "dst_endpoint.ip", "dst_endpoint.port", "connection_info.protocol_name", "unmapped.farhand.endpoint.ip",
                  "unmapped.farhand.method", "activity_id"]:
            if get(al, k) is not None:
                lines.append(f'"{k}" = {toml_value(get(al, k))}')
        keys = KEYS.get(f["tool"], []) + ["field", "value", "parent_domain", "target"]
        if f.get("via"):
            lines.append(f'"unmapped.farhand.via.wrapper" = {toml_value(f["via"]["wrapper"])}')
        for k in keys:
            v = get(f["fingerprint"], k)
            if v is not None:
                lines.append(f'"unmapped.farhand.fingerprint.{k}" = {toml_value(v)}')
        lines.append("")
    open(os.path.join(d, "expect.toml"), "w").write("\n".join(lines))
    rd = os.path.join(d, "README.md")
    if not os.path.exists(rd):
        open(rd, "w").write(f"# {a.name}\n\n{a.description}\n\nInput: {origin}\n\n{a.readme}\n")
    print(f"{d}: {len(alerts)} alert(s)", file=sys.stderr)

main()
