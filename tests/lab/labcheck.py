"""The lab's assertions, kept pure: a run's results in, assertion outcomes out.

`check(results, sessions)` returns one `Assertion` per thing checked. Which assertions exist
depends only on the configuration (the relay variants, modes, delays and session kinds in
`results` and `sessions`), never on what was measured, so a full run with everything holding
always yields the same lines; `assertion_lines` renders them for LAB.md's "## Assertions"
section and `compare_assertions` compares a run's lines with the committed ones (all of them,
or only those of the runs a slice ran: `run_prefixes`). No root, no network:
`tests/lab/test_check.py` drives it with a recorded run's results and injected faults.

The sessions are `SPECS` (one `Spec` each: what it is, which checks apply); `run.py` drives
them and names its rows after them. Each result (one relay variant, mode and added delay, as
written by `run.py --json`):

    {"relay": "plain", "mode": "terminating", "delay_ms": 60,    # relay: plain, jitter, jitter20
     "rows": {NAME: {"flow": [src_ip, src_port, dst_ip, dst_port], "first_seen", "last_seen",
                     "gap_ms", "relayed", "transport_min_ms", "transport_ms", "app_p10_ms", "iki_median_ms",
                     "scripted_iki_median_ms", "rhythm", "chained", "far_ms", ...}},  # NAME: SPECS
     "relayed_alerts": [{"tool", "flow", "uid"}],       # relayed_remote_control alerts
     "chain_alerts": [{"tool", "flow", "driver", "first_seen", "uid"}],  # interactive_relay_chain
     "farhand_exit": 0, "farhand_panic": null,          # exit status after SIGINT; a panic line
     "session_errors": [],                              # what stopped a session's script
     "rdp_typed": "...", "rdp_expected": "..."}         # RDP only
"""
import re
from dataclasses import dataclass

SESSION_KINDS = ("ssh", "vnc", "rdp")
RELAYS = ("plain", "jitter", "jitter20")  # jitter: ±5 ms per hold; jitter20: ±20 ms a round trip (run.py)
# The full matrix's relays: all three.
MATRIX_RELAYS = ("plain", "jitter", "jitter20")
TOLERANCE_MS = 10.0  # gap / transport RTT against the added delay; |gap| at 0 ms
JITTER_TOLERANCE_MS = 15.0  # the same behind the jitter relay
FORWARDING_GAP_MS = 20.0  # |gap| of a direct (forwarding) session with a delay
IKI_TOLERANCE = 0.10  # every relay: behind jitter20 an interval moves by at most ±20 ms
GAP_THRESHOLD_MS = 40.0  # farhand's default gap_threshold_ms (the lab's config keeps it)


@dataclass(frozen=True)
class Spec:
    """One session of every run and the checks that apply to it."""
    name: str
    kind: str  # ssh, vnc or rdp: what --sessions selects
    what: str  # for LAB.md
    typed: bool = True  # the controller types into it (inbound): relayed beyond the threshold, else not
    gap: bool = True  # gap (terminating) / transport RTT and |gap| (forwarding) against the delay
    iki: bool = True  # IKI median = scripted ± 10 %
    rhythm: str = "human"  # expected keystroke rhythm ("" = not checked)
    chain: str = ""  # outbound flows: "must" (driven by `driver`) or "must_not"
    driver: str = ""  # the inbound session that drives (must) or types alongside (must_not)
    quiet: bool = False  # not typed, inbound: not judged relayed, not chained


SPECS = (
    Spec("ssh", "ssh", "OpenSSH 10, server keepalives only (sshd `ClientAliveInterval 1`), "
         "keystroke obfuscation off (`ObscureKeystrokeTiming=no`)"),
    Spec("ssh_ka_client", "ssh", "OpenSSH 10, client keepalives only (`ServerAliveInterval=1`, sshd without "
         "`ClientAliveInterval`), obfuscation off"),
    Spec("ssh_ka_both", "ssh", "OpenSSH 10, client and server keepalives, obfuscation off"),
    Spec("ssh_ka_none", "ssh", "OpenSSH 10, no keepalives, obfuscation off"),
    Spec("ssh_92", "ssh", "OpenSSH 9.2 client (Debian 12's, no obfuscation), server keepalives"),
    Spec("ssh_obfuscated", "ssh", "OpenSSH 10, keystroke obfuscation on (`ObscureKeystrokeTiming=yes`: "
         "a packet every 20 ms while typing), server keepalives", iki=False, rhythm="interactive_obfuscated"),
    Spec("ssh_idle", "ssh", "logged in, nothing typed (server keepalives)", typed=False, gap=False, iki=False,
         rhythm="", quiet=True),
    Spec("ssh_chain", "ssh", "stepping stone: typed, idle, then from the endpoint's shell an SSH session to "
         "the corp sshd, typed through"),
    Spec("ssh_chain_out", "ssh", "the stepping stone's outbound session (endpoint → corp sshd)", typed=False,
         gap=False, iki=False, rhythm="", chain="must", driver="ssh_chain"),
    Spec("ssh_chain_short", "ssh", "short stepping stone (~25 s): straight to the corp sshd, 3–4 typing "
         "periods through it"),
    Spec("ssh_chain_short_out", "ssh", "the short stepping stone's outbound session", typed=False, gap=False,
         iki=False, rhythm="", chain="must", driver="ssh_chain_short"),
    Spec("ssh_indep", "ssh", "typed by the controller while a second user on the endpoint types into "
         "ssh_indep_out"),
    Spec("ssh_indep_out", "ssh", "NEGATIVE: the endpoint's own outbound session to the corp sshd, typed by "
         "a second user with an independent schedule at the same time as ssh_indep", typed=False, gap=False,
         chain="must_not", driver="ssh_indep"),
    Spec("vnc", "vnc", "TigerVNC viewer (its default encoding: Tight) ↔ x11vnc"),
    Spec("vnc_zrle", "vnc", "TigerVNC viewer with `-PreferredEncoding=ZRLE` ↔ x11vnc"),
    Spec("vnc_shared", "vnc", "TigerVNC viewer typing into an x11vnc `-shared` that a second viewer watches"),
    Spec("vnc_watch", "vnc", "the second viewer (`-ViewOnly`) on vnc_shared's server, watching", typed=False,
         gap=False, iki=False, rhythm="", quiet=True),
    Spec("rdp", "rdp", "xfreerdp3 ↔ freerdp-shadow-cli3 (TLS, GFX pipeline, 640x480)"),
)
SPEC = {s.name: s for s in SPECS}


@dataclass
class Assertion:
    text: str  # what is asserted, independent of the measured numbers
    ok: bool
    detail: str = ""  # what was measured, when it failed

    def line(self):
        return f"- held: {self.text}" if self.ok else f"- FAILED: {self.text}"


def _flow(x):
    f = (x or {}).get("flow")
    return tuple(f) if f else None


def _ms(v):
    return "none" if v is None else f"{v:.1f} ms"


def relay_of(r):
    return r.get("relay") or "plain"


def run_prefix(r):
    """How a run's assertion lines begin: "terminating 120 ms", "forwarding+jitter 60 ms"."""
    relay = relay_of(r)
    return f"{r['mode']}{'' if relay == 'plain' else '+' + relay} {r['delay_ms']} ms"


_LINE_RUN = re.compile(r"^- (?:held|FAILED): (\S+ \d+ ms)[ :]")


def line_run(line):
    """The run prefix of an assertion line (None if it has none)."""
    m = _LINE_RUN.match(line)
    return m.group(1) if m else None


def specs_for(sessions):
    """The sessions the kinds in `sessions` select, in check order."""
    return [s for s in SPECS if s.kind in sessions]


def check(results, sessions):
    """The issue's assertions over a whole lab run: a list of `Assertion`, in a deterministic
    order (results' order, then a fixed order within each)."""
    out = []

    def a(text, ok, detail=""):
        out.append(Assertion(text, bool(ok), "" if ok else detail))

    specs = specs_for(sessions)
    by = {(relay_of(r), r["mode"], r["delay_ms"]): r for r in results}
    for r in results:
        m, d, relay = r["mode"], r["delay_ms"], relay_of(r)
        rows = r.get("rows") or {}
        p = run_prefix(r)
        tol = TOLERANCE_MS if relay == "plain" else JITTER_TOLERANCE_MS

        # farhand itself
        ex = r.get("farhand_exit")
        a(f"{p}: farhand exited 0 after SIGINT", ex == 0, f"exit status {ex}")
        a(f"{p}: no panic in farhand's log", not r.get("farhand_panic"), f"log: {r.get('farhand_panic')!r}")
        a(f"{p}: every session's script ran to its end", not r.get("session_errors"),
          f"errors: {r.get('session_errors')}")

        # every session was seen
        for s in specs:
            a(f"{p} {s.name}: session alert present", s.name in rows, "no session alert")

        # timing: the gap and the transport RTT against the added delay, after the 0 ms run of
        # the plain relay in the same mode (the baseline of the jitter relay too)
        base_run = by.get(("plain", m, 0))
        base_label = "0 ms" if relay == "plain" else "0 ms, plain relay"
        base = (base_run or {}).get("rows") or {}
        for s in specs:
            if not s.gap:
                continue
            row = rows.get(s.name) or {}
            gap = row.get("gap_ms")
            if d == 0:
                a(f"{p} {s.name}: |gap| <= {tol:g} ms", gap is not None and abs(gap) <= tol, f"gap {_ms(gap)}")
                continue
            b = base.get(s.name) or {}

            def follows(label, *fields):
                """One of `fields` grew by the added delay since the baseline (or is it, without
                one); the detail names each."""
                oks, seen = [], []
                for field in fields:
                    got, at0 = row.get(field), b.get(field)
                    if base_run is not None:
                        oks.append(got is not None and at0 is not None and abs(got - at0 - d) <= tol)
                        seen.append(f"{field} {_ms(got)}, at 0 ms {_ms(at0)}")
                    else:
                        oks.append(got is not None and abs(got - d) <= tol)
                        seen.append(f"{field} {_ms(got)}")
                if base_run is not None:
                    a(f"{p} {s.name}: {label} − {label}({base_label}) = added delay ± {tol:g} ms", any(oks),
                      "; ".join(seen))
                else:
                    a(f"{p} {s.name}: {label} = added delay ± {tol:g} ms (no 0 ms run)", any(oks), "; ".join(seen))

            if m == "terminating":
                follows("gap", "gap_ms")
            else:
                # The smallest transport sample is one stray pairing away from any value, and the
                # samples' agreement is lengthened where acknowledgements wait for data (OpenSSH's
                # 20 ms chaff): the path is either.
                follows("transport RTT (smallest or agreed)", "transport_min_ms", "transport_agreed_ms")
                a(f"{p} {s.name}: |gap| <= {FORWARDING_GAP_MS:g} ms",
                  gap is not None and abs(gap) <= FORWARDING_GAP_MS, f"gap {_ms(gap)}")

        # relayed_remote_control: one per typed session behind the terminating relay beyond
        # the threshold, with its 5-tuple; none at 0 ms, in forwarding mode, or on any other flow
        alerts = r.get("relayed_alerts") or []
        flows = [_flow(x) for x in alerts]
        must = m == "terminating" and d > GAP_THRESHOLD_MS
        must_not = m == "forwarding" or d == 0
        allowed = set()
        for s in specs:
            if not s.typed:
                continue
            f = _flow(rows.get(s.name))
            n = flows.count(f) if f else 0
            if f and m == "terminating" and d > 0:
                allowed.add(f)
            if must:
                a(f"{p} {s.name}: one relayed_remote_control alert with the session's 5-tuple",
                  f is not None and n == 1, f"session flow {f}, {n} matching alert(s); alerts on {flows}")
            elif must_not:
                a(f"{p} {s.name}: no relayed_remote_control alert", n == 0, f"{n} alert(s) on the session's flow {f}")
        stray = [f for f in flows if f not in allowed]
        a(f"{p}: no relayed_remote_control alert on any other flow", not stray, f"alerts on {stray}")

        # keystroke timing and rhythm
        for s in specs:
            if not s.iki:
                continue
            row = rows.get(s.name) or {}
            want, got = row.get("scripted_iki_median_ms"), row.get("iki_median_ms")
            a(f"{p} {s.name}: IKI median = scripted ± {IKI_TOLERANCE * 100:g} %",
              want is not None and got is not None and abs(got - want) <= IKI_TOLERANCE * want,
              f"IKI median {_ms(got)}, scripted {_ms(want)}")
        for s in specs:
            if s.rhythm:
                rh = (rows.get(s.name) or {}).get("rhythm")
                a(f"{p} {s.name}: rhythm {s.rhythm}", rh == s.rhythm, f"rhythm {rh}")
        if "rdp" in sessions:
            a(f"{p} rdp: the typed keys arrived in the endpoint's xterm",
              r.get("rdp_expected") is not None and r.get("rdp_typed") == r.get("rdp_expected"),
              f"received {r.get('rdp_typed')!r}, typed {r.get('rdp_expected')!r}")

        # stepping stones: one interactive_relay_chain on each stepping stone's outbound flow,
        # driven from its inbound session (farhand names the driver by address, so the alert
        # must also fall within that session's time span); none on the negative's outbound
        # flow, typed independently; none on any other flow
        chains = r.get("chain_alerts") or []
        chained_ok = set()
        for s in specs:
            if not s.chain:
                continue
            inner, outer = rows.get(s.name) or {}, rows.get(s.driver) or {}
            of, cf = _flow(inner), _flow(outer)
            mine = [c for c in chains if of and _flow(c) == of]
            seen = [(_flow(c), c.get("driver")) for c in chains]
            if s.chain == "must":
                if of:
                    chained_ok.add(of)
                ok = len(mine) == 1 and cf is not None and mine[0].get("driver") in (f"{cf[0]}:{cf[1]}", cf[0])
                ok = ok and outer.get("first_seen") is not None and outer.get("last_seen") is not None \
                    and outer["first_seen"] <= (mine[0].get("first_seen") or "") <= outer["last_seen"]
                a(f"{p} {s.name}: one interactive_relay_chain on the outbound flow, driven from the {s.driver} "
                  f"session", ok, f"outbound flow {of}, {s.driver} flow {cf}; chain alerts {seen}")
            else:
                a(f"{p} {s.name}: no interactive_relay_chain (typed independently of {s.driver})",
                  of is not None and not mine, f"outbound flow {of}; chain alerts {seen}")
        if any(s.chain for s in specs):
            others = [_flow(c) for c in chains if _flow(c) not in chained_ok]
            a(f"{p}: no interactive_relay_chain on any other flow", not others, f"chain alerts on {others}")

        # the sessions nobody types into
        for s in specs:
            if s.quiet:
                row = rows.get(s.name) or {}
                a(f"{p} {s.name}: not judged relayed, not chained",
                  s.name in rows and not row.get("relayed") and not row.get("chained"),
                  f"relayed {row.get('relayed')}, chained {row.get('chained')}")
    return out


def failures(assertions):
    """Failure messages of the assertions that did not hold."""
    return [f"{x.text}: {x.detail}" for x in assertions if not x.ok]


def assertion_lines(assertions):
    return [x.line() for x in assertions]


def read_assertions(md_text):
    """The assertion lines ("- held: ..." / "- FAILED: ...") of a LAB.md's "## Assertions" section."""
    lines, inside = [], False
    for line in md_text.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Assertions"
            continue
        if inside and line.startswith(("- held: ", "- FAILED: ")):
            lines.append(line.rstrip())
    return lines


def compare_assertions(got, expected, name="the committed LAB.md", prefixes=None):
    """Failure messages for every difference between this run's assertion lines and the
    committed ones: a check dropped, added, or not held. With `prefixes` (the run prefixes of
    a slice), only the committed lines of those runs are expected, and every such run must
    have lines there."""
    out = []
    if prefixes is not None:
        prefixes = list(prefixes)
        expected = [x for x in expected if line_run(x) in prefixes]
        have = {line_run(x) for x in expected}
        out += [f"{name} has no assertion lines for the run {p!r}" for p in prefixes if p not in have]
    if not expected:
        out.append(f"{name} lists no assertion lines")
    gs, es = set(got), set(expected)
    out += [f"assertion line of {name} missing from this run: {x}" for x in expected if x not in gs]
    out += [f"assertion line of this run not in {name}: {x}" for x in got if x not in es]
    if len(got) != len(gs):
        out.append("this run lists an assertion line twice")
    return out
