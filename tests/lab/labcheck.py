"""The lab's assertions, kept pure: a run's results in, assertion outcomes out.

`check(results, sessions)` returns one `Assertion` per thing checked. Which assertions exist
depends only on the configuration (the modes, delays and session kinds in `results` and
`sessions`), never on what was measured, so a full run with everything holding always yields
the same lines; `assertion_lines` renders them for LAB.md's "## Assertions" section and
`compare_assertions` compares a run's lines with the committed ones. No root, no network:
`tests/lab/test_check.py` drives it with a recorded run's results and injected faults.

Each result (one mode and added delay, as written by `run.py --json`):

    {"mode": "terminating", "delay_ms": 60,
     "rows": {NAME: {"flow": [src_ip, src_port, dst_ip, dst_port], "first_seen", "last_seen",
                     "gap_ms", "relayed", "transport_min_ms", "app_p10_ms", "iki_median_ms",
                     "scripted_iki_median_ms", "rhythm", "chained", ...}},   # NAME: ssh, ssh_chain,
                     # ssh_idle, ssh_obfuscated, ssh_outbound, vnc, rdp
     "relayed_alerts": [{"tool", "flow", "uid"}],       # relayed_remote_control alerts
     "chain_alerts": [{"tool", "flow", "driver", "first_seen", "uid"}],  # interactive_relay_chain
     "farhand_exit": 0, "farhand_panic": null,          # exit status after SIGINT; a panic line
     "rdp_typed": "...", "rdp_expected": "..."}         # RDP only
"""
from dataclasses import dataclass

SESSION_KINDS = ("ssh", "vnc", "rdp")
TOLERANCE_MS = 10.0  # gap / transport RTT against the added delay; |gap| at 0 ms
FORWARDING_GAP_MS = 20.0  # |gap| of a direct (forwarding) session with a delay
IKI_TOLERANCE = 0.10
GAP_THRESHOLD_MS = 40.0  # farhand's default gap_threshold_ms (the lab's config keeps it)


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


def relayed_names(sessions):
    """The sessions behind the terminating relay whose controller types (so relayed when the
    added delay is beyond the threshold), in check order."""
    out = []
    if "ssh" in sessions:
        out += ["ssh", "ssh_chain"]
    out += [t for t in SESSION_KINDS if t != "ssh" and t in sessions]
    return out


def check(results, sessions):
    """The issue's assertions over a whole lab run: a list of `Assertion`, in a deterministic
    order (results' order, then a fixed order within each)."""
    out = []

    def a(text, ok, detail=""):
        out.append(Assertion(text, bool(ok), "" if ok else detail))

    tools = [t for t in SESSION_KINDS if t in sessions]
    has_ssh = "ssh" in sessions
    by = {(r["mode"], r["delay_ms"]): r for r in results}
    for r in results:
        m, d = r["mode"], r["delay_ms"]
        rows = r.get("rows") or {}
        p = f"{m} {d} ms"

        # farhand itself
        ex = r.get("farhand_exit")
        a(f"{p}: farhand exited 0 after SIGINT", ex == 0, f"exit status {ex}")
        a(f"{p}: no panic in farhand's log", not r.get("farhand_panic"), f"log: {r.get('farhand_panic')!r}")

        # every session was seen
        needed = (["ssh", "ssh_chain", "ssh_idle", "ssh_outbound"] if has_ssh else []) + [t for t in tools if t != "ssh"]
        if has_ssh and d == 0:
            needed.append("ssh_obfuscated")
        for name in needed:
            a(f"{p} {name}: session alert present", name in rows, "no session alert")

        # timing: the gap and the transport RTT against the added delay
        base_run = by.get((m, 0))
        base = (base_run or {}).get("rows") or {}
        for tool in tools:
            row = rows.get(tool) or {}
            gap = row.get("gap_ms")
            if d == 0:
                a(f"{p} {tool}: |gap| <= {TOLERANCE_MS:g} ms", gap is not None and abs(gap) <= TOLERANCE_MS,
                  f"gap {_ms(gap)}")
                continue
            b = base.get(tool) or {}

            def follows(label, field):
                """`field` grew by the added delay since the 0 ms run (or is it, without one)."""
                got, at0 = row.get(field), b.get(field)
                if base_run is not None:
                    ok = got is not None and at0 is not None and abs(got - at0 - d) <= TOLERANCE_MS
                    a(f"{p} {tool}: {label} − {label}(0 ms) = added delay ± {TOLERANCE_MS:g} ms", ok,
                      f"{label} {_ms(got)}, {label}(0 ms) {_ms(at0)}")
                else:
                    a(f"{p} {tool}: {label} = added delay ± {TOLERANCE_MS:g} ms (no 0 ms run)",
                      got is not None and abs(got - d) <= TOLERANCE_MS, f"{label} {_ms(got)}")

            if m == "terminating":
                follows("gap", "gap_ms")
            else:
                follows("transport RTT", "transport_min_ms")
                a(f"{p} {tool}: |gap| <= {FORWARDING_GAP_MS:g} ms", gap is not None and abs(gap) <= FORWARDING_GAP_MS,
                  f"gap {_ms(gap)}")

        # relayed_remote_control: one per relayed session, with its 5-tuple; none elsewhere
        alerts = r.get("relayed_alerts") or []
        flows = [_flow(x) for x in alerts]
        must = m == "terminating" and d > GAP_THRESHOLD_MS
        must_not = m == "forwarding" or d == 0
        allowed = set()  # flows that may carry one: the relayed sessions, behind the terminating relay
        for name in relayed_names(sessions):
            f = _flow(rows.get(name))
            n = flows.count(f) if f else 0
            if f and m == "terminating" and d > 0:
                allowed.add(f)
            if must:
                a(f"{p} {name}: one relayed_remote_control alert with the session's 5-tuple", f is not None and n == 1,
                  f"session flow {f}, {n} matching alert(s); alerts on {flows}")
            elif must_not:
                a(f"{p} {name}: no relayed_remote_control alert", n == 0, f"{n} alert(s) on the session's flow {f}")
        stray = [f for f in flows if f not in allowed]
        a(f"{p}: no relayed_remote_control alert on any other flow", not stray, f"alerts on {stray}")

        # keystroke timing
        for name in relayed_names(sessions):
            row = rows.get(name) or {}
            want, got = row.get("scripted_iki_median_ms"), row.get("iki_median_ms")
            a(f"{p} {name}: IKI median = scripted ± {IKI_TOLERANCE * 100:g} %",
              want is not None and got is not None and abs(got - want) <= IKI_TOLERANCE * want,
              f"IKI median {_ms(got)}, scripted {_ms(want)}")
        if "rdp" in sessions:
            a(f"{p} rdp: the typed keys arrived in the endpoint's xterm",
              r.get("rdp_expected") is not None and r.get("rdp_typed") == r.get("rdp_expected"),
              f"received {r.get('rdp_typed')!r}, typed {r.get('rdp_expected')!r}")
        if not has_ssh:
            continue

        # the stepping stone: one interactive_relay_chain, on its outbound flow, driven from
        # the inbound ssh_chain session
        chains = r.get("chain_alerts") or []
        inner, outer = rows.get("ssh_outbound") or {}, rows.get("ssh_chain") or {}
        of, cf = _flow(inner), _flow(outer)
        mine = [c for c in chains if of and _flow(c) == of]
        ok = len(mine) == 1 and cf is not None and mine[0].get("driver") in (f"{cf[0]}:{cf[1]}", cf[0])
        ok = ok and outer.get("first_seen") is not None and outer.get("last_seen") is not None \
            and outer["first_seen"] <= (mine[0].get("first_seen") or "") <= outer["last_seen"]
        a(f"{p} ssh_chain: one interactive_relay_chain on the stepping stone's outbound flow, driven from the "
          f"ssh_chain session", ok,
          f"outbound flow {of}, ssh_chain flow {cf}; chain alerts {[(_flow(c), c.get('driver')) for c in chains]}")
        others = [_flow(c) for c in chains if not of or _flow(c) != of]
        a(f"{p}: no interactive_relay_chain on any other flow", not others, f"chain alerts on {others}")

        # typing rhythm
        if d == 0:
            obf = rows.get("ssh_obfuscated") or {}
            a(f"{p} ssh_obfuscated: rhythm interactive_obfuscated", obf.get("rhythm") == "interactive_obfuscated",
              f"rhythm {obf.get('rhythm')}")
        for name in ("ssh", "ssh_chain"):
            rh = (rows.get(name) or {}).get("rhythm")
            a(f"{p} {name}: rhythm human", rh == "human", f"rhythm {rh}")

        # the idle session
        idle = rows.get("ssh_idle") or {}
        a(f"{p} ssh_idle: not judged relayed, not chained", "ssh_idle" in rows and not idle.get("relayed")
          and not idle.get("chained"), f"relayed {idle.get('relayed')}, chained {idle.get('chained')}")
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


def compare_assertions(got, expected, name="the committed LAB.md"):
    """Failure messages for every difference between this run's assertion lines and the
    committed ones: a check dropped, added, or not held."""
    out = []
    if not expected:
        out.append(f"{name} lists no assertion lines")
    gs, es = set(got), set(expected)
    out += [f"assertion line of {name} missing from this run: {x}" for x in expected if x not in gs]
    out += [f"assertion line of this run not in {name}: {x}" for x in got if x not in es]
    if len(got) != len(gs):
        out.append("this run lists an assertion line twice")
    return out
