#!/usr/bin/env python3
"""Self-test of the lab's checker (labcheck.py) and of run.py's pure parts: no root, no
network, a second or so.

    python3 tests/lab/test_check.py [-v]

Loads the results of a real lab run (fixtures/lab-results.json, written by `run.py --json`;
it holds every configuration the checker asserts on), checks that its assertion lines are
those LAB.md lists for the same runs (when LAB.md and the fixture come from the same run: same
seed), then injects the faults that used to get through, or that the new configurations must
catch, and checks that each is reported: the RDP figure stuck at 1.5 ms at +120 ms with no
relayed alert; a +35 ms bias on VNC; the chain alert on the wrong flow, from the wrong driver,
or missing; one relayed alert for two SSH sessions; a relayed alert on the idle session or a
direct one; farhand exiting 1 or panicking; an assertion line missing; the client-keepalive
session's IKI off by 18 %; the obfuscated session's gap stuck at 0.4 ms at +120 ms; the short
stepping stone not chained; the negative chained; the jitter relay's gap off by 20 ms. Each
fault test first makes sure the assertion it breaks held (giving a row the figure a correct
engine reports where today's does not), so no fault passes for a failure already there.
"""
import contextlib, copy, io, json, os, random, re, sys, unittest

LAB = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LAB)
import labcheck  # noqa: E402
import run  # noqa: E402

FIXTURE = os.path.join(LAB, "fixtures", "lab-results.json")
LAB_MD = os.path.join(os.path.dirname(os.path.dirname(LAB)), "LAB.md")


def strict():
    ci = os.environ.get("CI", "")
    return ci not in ("", "false", "0")


def load():
    with open(FIXTURE) as f:
        d = json.load(f)
    return d


def run_of(results, mode, delay, relay="plain"):
    return next(r for r in results if r["mode"] == mode and r["delay_ms"] == delay and labcheck.relay_of(r) == relay)


def driver_of(row):
    return f"{row['flow'][0]}:{row['flow'][1]}"


class Checker(unittest.TestCase):
    def setUp(self):
        d = load()
        self.seed, self.sessions, self.results = d.get("seed"), d["sessions"], d["results"]

    def fails(self, results=None):
        return labcheck.failures(labcheck.check(self.results if results is None else results, self.sessions))

    def assertHolds(self, *needles):
        fails = self.fails()
        for n in needles:
            self.assertFalse(any(n in f for f in fails), f"{n!r} fails before the fault: {fails}")

    def assertFailsWith(self, *needles):
        fails = self.fails()
        self.assertTrue(fails, "the injected fault was not reported")
        for n in needles:
            self.assertTrue(any(n in f for f in fails), f"no failure mentions {n!r}; failures: {fails}")
        return fails

    def relayed_alert(self, r, name):
        """Gives `name` the one relayed alert a correct engine raises for it (if it lacks one)."""
        f = r["rows"][name]["flow"]
        if not any(a["flow"] == f for a in r["relayed_alerts"]):
            r["relayed_alerts"].append({"tool": "ssh", "flow": list(f), "uid": "fixed-" + name})

    def chain_alert(self, r, out, inbound):
        """Gives `out` the one interactive_relay_chain a correct engine raises for it."""
        f, row = r["rows"][out]["flow"], r["rows"][inbound]
        r["chain_alerts"] = [c for c in r["chain_alerts"] if c["flow"] != f]
        r["chain_alerts"].append({"tool": "ssh", "flow": list(f), "driver": row["flow"][0],
                                  "first_seen": r["rows"][out]["first_seen"], "uid": "fixed-" + out})

    # -- the recorded run -----------------------------------------------------------------

    def test_fixture_holds_every_configuration(self):
        self.assertEqual(set(self.sessions), set(labcheck.SESSION_KINDS))
        runs = {(labcheck.relay_of(r), r["mode"], r["delay_ms"]) for r in self.results}
        for relay, mode in (("plain", "terminating"), ("plain", "forwarding")):
            self.assertIn((relay, mode, 0), runs, "a 0 ms baseline is missing")
            self.assertTrue(any(k[:2] == (relay, mode) and k[2] > labcheck.GAP_THRESHOLD_MS for k in runs))
        self.assertTrue(any(k[0] == "jitter" for k in runs), "no run behind the jitter relay")
        for s in labcheck.SPECS:
            self.assertTrue(all(s.name in r["rows"] for r in self.results), f"{s.name} missing from a run")

    def test_fixture_is_a_whole_real_run(self):
        for r in self.results:
            p = labcheck.run_prefix(r)
            self.assertEqual(r.get("farhand_exit"), 0, p)
            self.assertFalse(r.get("farhand_panic"), p)
            self.assertFalse(r.get("session_errors"), p)
            for name, row in r["rows"].items():
                self.assertIn(tuple(row["flow"]), {tuple(f) for f in r["session_flows"][name]}, f"{p} {name}")

    def test_real_run_matches_committed_lab_md(self):
        with open(LAB_MD) as f:
            text = f.read()
        m = re.search(r"Seed: \*\*(\d+)\*\*", text)
        if not m or int(m.group(1)) != self.seed:
            msg = (f"LAB.md ({'seed ' + m.group(1) if m else 'no seed'}) and the fixture (seed {self.seed}) are not "
                   "from the same lab run: regenerate both with the full-matrix command (tests/lab/README.md)")
            if strict():
                self.fail(msg)
            self.skipTest(msg)
        got = labcheck.assertion_lines(labcheck.check(self.results, self.sessions))
        prefixes = [labcheck.run_prefix(r) for r in self.results]
        expected = labcheck.read_assertions(text)
        self.assertEqual(labcheck.compare_assertions(got, expected, prefixes=prefixes), [])
        self.assertGreater(len(got), 300)

    def test_assertion_set_does_not_depend_on_figures(self):
        clean = [x.text for x in labcheck.check(self.results, self.sessions)]
        broken = copy.deepcopy(self.results)
        for r in broken:
            r["rows"] = {}
            r["relayed_alerts"], r["chain_alerts"] = [], []
        self.assertEqual([x.text for x in labcheck.check(broken, self.sessions)], clean)

    def test_every_configuration_has_its_own_lines(self):
        texts = [x.text for x in labcheck.check(self.results, self.sessions)]
        for s in labcheck.SPECS:
            self.assertTrue(any(f" {s.name}: " in t for t in texts), s.name)
        for name in ("ssh_ka_client", "ssh_ka_both", "ssh_ka_none", "ssh_92", "vnc_zrle", "vnc_shared", "ssh_indep_out"):
            self.assertIn("terminating 120 ms " + name + ": IKI median = scripted ± 10 %", texts)
        self.assertNotIn("terminating 120 ms ssh_obfuscated: IKI median = scripted ± 10 %", texts)
        self.assertIn("terminating 120 ms ssh_obfuscated: rhythm interactive_obfuscated", texts)
        self.assertIn("terminating+jitter 120 ms ssh: gap − gap(0 ms, plain relay) = added delay ± 15 ms", texts)

    # -- injected faults ------------------------------------------------------------------

    def test_rdp_figure_stuck_without_relayed_alert(self):
        needles = ("terminating 120 ms rdp: gap − gap(0 ms) = added delay ± 10 ms",
                   "terminating 120 ms rdp: one relayed_remote_control alert with the session's 5-tuple")
        self.assertHolds(*needles)
        r = run_of(self.results, "terminating", 120)
        row = r["rows"]["rdp"]
        row["gap_ms"] = row["app_p10_ms"] = row["app_p50_ms"] = 1.5
        row["relayed"] = False
        # the alternatives farhand lists with a regular frame stream: one matches +120 ms
        row["alternatives_ms"] = [32.5, 63.5, 94.5, 125.5, 156.5]
        r["relayed_alerts"] = [a for a in r["relayed_alerts"] if a["flow"] != row["flow"]]
        self.assertFailsWith(*needles)

    def test_rdp_figure_stuck_alone(self):
        self.assertHolds("terminating 120 ms rdp: gap")
        row = run_of(self.results, "terminating", 120)["rows"]["rdp"]
        row["gap_ms"] = 1.5
        row["alternatives_ms"] = [125.5]
        self.assertFailsWith("terminating 120 ms rdp: gap")

    def test_vnc_constant_bias_terminating(self):
        self.assertHolds("terminating 0 ms vnc: |gap| <= 10 ms")
        for r in self.results:
            if r["mode"] == "terminating":
                r["rows"]["vnc"]["gap_ms"] += 35.0
        self.assertFailsWith("terminating 0 ms vnc: |gap| <= 10 ms")

    def test_vnc_bias_forwarding_baseline(self):
        self.assertHolds("forwarding 0 ms vnc: |gap| <= 10 ms")
        run_of(self.results, "forwarding", 0)["rows"]["vnc"]["gap_ms"] += 35.0
        self.assertFailsWith("forwarding 0 ms vnc: |gap| <= 10 ms")

    def test_chain_alert_on_wrong_flow(self):
        r = run_of(self.results, "terminating", 120)
        self.chain_alert(r, "ssh_chain_out", "ssh_chain")
        self.assertHolds("terminating 120 ms ssh_chain_out: one interactive_relay_chain",
                         "terminating 120 ms: no interactive_relay_chain on any other flow")
        mine = next(c for c in r["chain_alerts"] if c["flow"] == r["rows"]["ssh_chain_out"]["flow"])
        mine["flow"] = list(r["rows"]["ssh"]["flow"])
        self.assertFailsWith("terminating 120 ms ssh_chain_out: one interactive_relay_chain",
                             "terminating 120 ms: no interactive_relay_chain on any other flow")

    def test_chain_alert_from_wrong_driver(self):
        r = run_of(self.results, "forwarding", 60)
        self.chain_alert(r, "ssh_chain_out", "ssh_chain")
        self.assertHolds("forwarding 60 ms ssh_chain_out: one interactive_relay_chain")
        next(c for c in r["chain_alerts"] if c["flow"] == r["rows"]["ssh_chain_out"]["flow"])["driver"] = "10.77.9.9"
        self.assertFailsWith("forwarding 60 ms ssh_chain_out: one interactive_relay_chain")

    def test_chain_alert_outside_the_chain_session(self):
        r = run_of(self.results, "terminating", 120)
        self.chain_alert(r, "ssh_chain_out", "ssh_chain")
        self.assertHolds("terminating 120 ms ssh_chain_out: one interactive_relay_chain")
        mine = next(c for c in r["chain_alerts"] if c["flow"] == r["rows"]["ssh_chain_out"]["flow"])
        mine["first_seen"] = r["rows"]["ssh"]["first_seen"]
        self.assertFailsWith("terminating 120 ms ssh_chain_out: one interactive_relay_chain")

    def test_chain_alert_missing(self):
        r = run_of(self.results, "forwarding", 0)
        self.chain_alert(r, "ssh_chain_out", "ssh_chain")
        self.assertHolds("forwarding 0 ms ssh_chain_out: one interactive_relay_chain")
        r["chain_alerts"] = [c for c in r["chain_alerts"] if c["flow"] != r["rows"]["ssh_chain_out"]["flow"]]
        self.assertFailsWith("forwarding 0 ms ssh_chain_out: one interactive_relay_chain")

    def test_short_chain_missing(self):
        r = run_of(self.results, "terminating", 120)
        self.chain_alert(r, "ssh_chain_short_out", "ssh_chain_short")
        self.assertHolds("terminating 120 ms ssh_chain_short_out: one interactive_relay_chain")
        r["chain_alerts"] = [c for c in r["chain_alerts"] if c["flow"] != r["rows"]["ssh_chain_short_out"]["flow"]]
        self.assertFailsWith("terminating 120 ms ssh_chain_short_out: one interactive_relay_chain on the outbound "
                             "flow, driven from the ssh_chain_short session")

    def test_negative_chained(self):
        r = run_of(self.results, "forwarding", 60)
        out = r["rows"]["ssh_indep_out"]
        r["chain_alerts"] = [c for c in r["chain_alerts"] if c["flow"] != out["flow"]]
        self.assertHolds("forwarding 60 ms ssh_indep_out: no interactive_relay_chain")
        r["chain_alerts"].append({"tool": "ssh", "flow": list(out["flow"]), "uid": "x",
                                  "driver": r["rows"]["ssh_indep"]["flow"][0], "first_seen": out["first_seen"]})
        self.assertFailsWith("forwarding 60 ms ssh_indep_out: no interactive_relay_chain (typed independently of "
                             "ssh_indep)", "forwarding 60 ms: no interactive_relay_chain on any other flow")

    def test_client_keepalive_iki_off_by_18_percent(self):
        for r in self.results:  # the figure a correct engine reports
            row = r["rows"]["ssh_ka_client"]
            row["iki_median_ms"] = row["scripted_iki_median_ms"]
        self.assertHolds("ssh_ka_client: IKI median")
        row = run_of(self.results, "forwarding", 60)["rows"]["ssh_ka_client"]
        row["iki_median_ms"] = round(row["scripted_iki_median_ms"] * 1.18, 1)
        self.assertFailsWith("forwarding 60 ms ssh_ka_client: IKI median = scripted ± 10 %")

    def test_obfuscated_gap_at_0_4_ms_at_120(self):
        r, base = run_of(self.results, "terminating", 120), run_of(self.results, "terminating", 0)
        row = r["rows"]["ssh_obfuscated"]
        row["gap_ms"] = base["rows"]["ssh_obfuscated"]["gap_ms"] + 120.0  # what a correct engine reports
        row["relayed"] = True
        self.relayed_alert(r, "ssh_obfuscated")
        needles = ("terminating 120 ms ssh_obfuscated: gap − gap(0 ms) = added delay ± 10 ms",
                   "terminating 120 ms ssh_obfuscated: one relayed_remote_control alert")
        self.assertHolds(*needles)
        row["gap_ms"], row["relayed"] = 0.4, False
        r["relayed_alerts"] = [a for a in r["relayed_alerts"] if a["flow"] != row["flow"]]
        self.assertFailsWith(*needles)

    def test_jitter_gap_off_by_20_ms(self):
        needle = "terminating+jitter 120 ms ssh: gap − gap(0 ms, plain relay) = added delay ± 15 ms"
        r, base = run_of(self.results, "terminating", 120, "jitter"), run_of(self.results, "terminating", 0)
        row = r["rows"]["ssh"]
        row["gap_ms"] = base["rows"]["ssh"]["gap_ms"] + 120.0 + 3.0  # inside ± 15 ms
        self.assertHolds(needle)
        row["gap_ms"] += 20.0
        self.assertFailsWith(needle)

    def test_wide_jitter_iki_tolerance(self):
        # A jitter20 run (the jitter run's figures relabelled): the same 10 % as everywhere.
        wide = json.loads(json.dumps(run_of(self.results, "terminating", 120, "jitter")))
        wide["relay"] = "jitter20"
        self.results.append(wide)
        needle = "terminating+jitter20 120 ms ssh: IKI median = scripted ± 10 %"
        row = wide["rows"]["ssh"]
        row["iki_median_ms"] = round(row["scripted_iki_median_ms"] * 1.08, 1)
        self.assertHolds(needle)
        row["iki_median_ms"] = round(row["scripted_iki_median_ms"] * 1.12, 1)
        self.assertFailsWith(needle)

    def test_one_relayed_alert_for_two_ssh_sessions(self):
        r = run_of(self.results, "terminating", 120)
        self.assertHolds("terminating 120 ms ssh_chain: one relayed_remote_control alert with the session's 5-tuple")
        chain_flow = r["rows"]["ssh_chain"]["flow"]
        r["relayed_alerts"] = [a for a in r["relayed_alerts"] if a["flow"] != chain_flow]
        self.assertFailsWith("terminating 120 ms ssh_chain: one relayed_remote_control alert with the session's 5-tuple")

    def test_relayed_alert_duplicated_onto_one_session(self):
        r = run_of(self.results, "terminating", 120)
        self.assertHolds("terminating 120 ms ssh: one relayed_remote_control",
                         "terminating 120 ms ssh_chain: one relayed_remote_control")
        ssh, chain = r["rows"]["ssh"]["flow"], r["rows"]["ssh_chain"]["flow"]
        for a in r["relayed_alerts"]:
            if a["flow"] == chain:
                a["flow"] = list(ssh)
        self.assertFailsWith("terminating 120 ms ssh: one relayed_remote_control",
                             "terminating 120 ms ssh_chain: one relayed_remote_control")

    def test_relayed_alert_on_idle_session(self):
        self.assertHolds("terminating 120 ms: no relayed_remote_control alert on any other flow")
        r = run_of(self.results, "terminating", 120)
        r["relayed_alerts"].append({"tool": "ssh", "flow": r["rows"]["ssh_idle"]["flow"], "uid": "x"})
        self.assertFailsWith("terminating 120 ms: no relayed_remote_control alert on any other flow")

    def test_relayed_alert_on_watching_viewer(self):
        self.assertHolds("terminating 120 ms: no relayed_remote_control alert on any other flow")
        r = run_of(self.results, "terminating", 120)
        r["relayed_alerts"].append({"tool": "vnc", "flow": r["rows"]["vnc_watch"]["flow"], "uid": "x"})
        self.assertFailsWith("terminating 120 ms: no relayed_remote_control alert on any other flow")

    def test_relayed_alert_on_direct_session(self):
        self.assertHolds("forwarding 60 ms vnc: no relayed_remote_control alert")
        r = run_of(self.results, "forwarding", 60)
        r["relayed_alerts"].append({"tool": "vnc", "flow": r["rows"]["vnc"]["flow"], "uid": "x"})
        self.assertFailsWith("forwarding 60 ms vnc: no relayed_remote_control alert")

    def test_farhand_exit_status(self):
        run_of(self.results, "forwarding", 60)["farhand_exit"] = 1
        self.assertFailsWith("forwarding 60 ms: farhand exited 0 after SIGINT")

    def test_farhand_panic(self):
        run_of(self.results, "terminating", 0)["farhand_panic"] = "thread 'worker-1' panicked at sensor/src/x.rs:1:1"
        self.assertFailsWith("terminating 0 ms: no panic in farhand's log")

    def test_session_error(self):
        run_of(self.results, "terminating", 0)["session_errors"] = ["vnc_zrle: no viewer window"]
        self.assertFailsWith("terminating 0 ms: every session's script ran to its end")

    def test_missing_session(self):
        del run_of(self.results, "terminating", 120)["rows"]["vnc_zrle"]
        self.assertFailsWith("terminating 120 ms vnc_zrle: session alert present")

    def test_missing_assertion_line(self):
        expected = labcheck.assertion_lines(labcheck.check(self.results, self.sessions))
        got = list(expected)
        fails = labcheck.compare_assertions(got[:7] + got[8:], expected)
        self.assertEqual(len(fails), 1, fails)
        self.assertIn("missing from this run", fails[0])
        # a whole run dropped: its lines are missing
        fewer = [r for r in self.results if (labcheck.relay_of(r), r["mode"], r["delay_ms"]) != ("plain", "forwarding", 60)]
        got = labcheck.assertion_lines(labcheck.check(fewer, self.sessions))
        self.assertTrue(labcheck.compare_assertions(got, expected))
        # a failed line differs from the committed held one
        run_of(self.results, "terminating", 0)["farhand_exit"] = 1
        got = labcheck.assertion_lines(labcheck.check(self.results, self.sessions))
        self.assertTrue(any("- FAILED: terminating 0 ms: farhand exited 0" in f
                            for f in labcheck.compare_assertions(got, expected)))
        # an added check is reported too
        self.assertTrue(labcheck.compare_assertions(got + ["- held: something new"], expected))
        self.assertTrue(labcheck.compare_assertions(got, []))

    def test_slice_compares_only_its_runs(self):
        full = labcheck.assertion_lines(labcheck.check(self.results, self.sessions))
        # a run the fixture cannot hold (the fixture may be a slice or the full matrix)
        other = [x.replace("forwarding 60 ms", "forwarding 999 ms") for x in full if " forwarding 60 ms" in x
                 or x.startswith(("- held: forwarding 60 ms", "- FAILED: forwarding 60 ms"))]
        self.assertTrue(other)
        committed = full + other  # a full matrix: more runs than the slice
        prefixes = [labcheck.run_prefix(r) for r in self.results]
        self.assertEqual(labcheck.compare_assertions(full, committed, prefixes=prefixes), [])
        self.assertTrue(labcheck.compare_assertions(full, committed))  # unfiltered: the extra run is missing
        # a slice run the file has no lines for
        fails = labcheck.compare_assertions(full, committed, prefixes=prefixes + ["forwarding+jitter 999 ms"])
        self.assertTrue(any("no assertion lines for the run 'forwarding+jitter 999 ms'" in f for f in fails), fails)
        # a slice line that differs from the file's
        t0 = run_of(self.results, "terminating", 0)
        t0["farhand_exit"] = 1
        got = labcheck.assertion_lines(labcheck.check(self.results, self.sessions))
        self.assertTrue(labcheck.compare_assertions(got, committed, prefixes=prefixes))

    def test_line_run(self):
        self.assertEqual(labcheck.line_run("- held: terminating 120 ms ssh: rhythm human"), "terminating 120 ms")
        self.assertEqual(labcheck.line_run("- FAILED: forwarding+jitter 0 ms: farhand exited 0 after SIGINT"),
                         "forwarding+jitter 0 ms")
        self.assertIsNone(labcheck.line_run("- held: something else"))

    def test_not_root_under_ci(self):
        self.assertEqual(run.root_check(1000, {"CI": "true"})[0], 1)
        self.assertEqual(run.root_check(1000, {"CI": "1"})[0], 1)
        self.assertEqual(run.root_check(1000, {"CI": ""})[0], 0)
        self.assertEqual(run.root_check(1000, {"CI": "false"})[0], 0)
        self.assertEqual(run.root_check(1000, {"CI": "0"})[0], 0)
        self.assertEqual(run.root_check(1000, {})[0], 0)
        self.assertEqual(run.root_check(0, {"CI": "true"}), (None, None))


class Harness(unittest.TestCase):
    """run.py's pure parts: the run plan, the seeded schedules."""

    def test_ci_slice_runs_every_configuration_with_its_baselines(self):
        runs = run.plan(run.parse_args(["--slice", "ci"]))
        self.assertEqual(runs, list(run.CI_SLICE))
        for relay, mode, delay in runs:
            if delay:
                self.assertIn(("plain", mode, 0), runs, "the slice's lines must be those of the full matrix")
        self.assertEqual({m for _, m, _ in runs}, {"terminating", "forwarding"})
        self.assertEqual({r for r, _, _ in runs}, set(labcheck.MATRIX_RELAYS))
        full = run.plan(run.parse_args([]))
        self.assertEqual(len(full), 24)
        wide = run.plan(run.parse_args(["--relays", "jitter20"]))
        self.assertEqual({r for r, _, _ in wide}, {"jitter20"})
        self.assertTrue(set(runs) <= set(full))
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
            run.parse_args(["--slice", "ci", "--delays", "60"])
        self.assertIn("--slice picks the runs itself", err.getvalue())

    def test_schedules_are_seeded_and_human(self):
        a = run.script_of(random.Random("11/plain/terminating/0/ssh"))
        b = run.script_of(random.Random("11/plain/terminating/0/ssh"))
        c = run.script_of(random.Random("12/plain/terminating/0/ssh"))
        self.assertEqual((a.bursts, a.intervals, a.pauses), (b.bursts, b.intervals, b.pauses))
        self.assertNotEqual(a.flat(), c.flat())
        for s in (a, c):
            self.assertGreaterEqual(len(s.flat()), 40)
            self.assertTrue(all(0.07 <= x <= 0.6 for x in s.flat()))
            self.assertTrue(all(p > 1.0 for p in s.pauses))  # above farhand's 1 s burst gap
            self.assertEqual(len(s.pauses), len(s.bursts) - 1)
            self.assertEqual([len(iv) for iv in s.intervals], [len(b) - 1 for b in s.bursts])
        medians = {round(sorted(run.script_of(random.Random(k)).flat())[20], 3) for k in range(20)}
        self.assertGreater(len(medians), 15, "every seed must draw its own typist")

    def test_xdotool_typing_follows_the_script(self):
        s = run.Script(["ab ", "c"], [[0.1, 0.2], []], [1.5])
        self.assertEqual(run.xdotool_typing(s), ["key", "--delay", "0", "a", "sleep", "0.1000", "key", "--delay", "0",
                                                 "b", "sleep", "0.2000", "key", "--delay", "0", "space", "sleep",
                                                 "1.5000", "key", "--delay", "0", "c"])

    def test_every_inbound_session_has_its_own_port(self):
        ports = list(run.SSH_PORTS.values()) + [v[0] for v in run.VNC.values()] + [run.RDP_PORT]
        self.assertEqual(len(ports), len(set(ports)))
        self.assertEqual(len(set(run.CORP_PORTS.values())), len(run.CORP_PORTS))
        relay_ports = [run.relay_port(p) for p in run.ep_ports()]
        self.assertEqual(len(relay_ports), len(set(relay_ports)))


if __name__ == "__main__":
    unittest.main()
