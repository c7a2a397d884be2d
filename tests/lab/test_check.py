#!/usr/bin/env python3
"""Self-test of the lab's checker (labcheck.py): no root, no network, a second or so.

    python3 tests/lab/test_check.py [-v]

Loads the results of a real full lab run (fixtures/lab-results.json, written by
`run.py --json` in the run that produced the committed LAB.md), checks that they pass and
that their assertion lines are LAB.md's, then injects the faults that used to get through
and checks that each is reported: the RDP figure stuck at 1.5 ms at +120 ms with no relayed
alert; a +35 ms bias on VNC in terminating mode (every delay, 0 ms included); the chain alert
on the wrong flow, from the wrong driver, or missing; one relayed alert for two SSH sessions;
a relayed alert on the idle session; farhand exiting 1 or panicking; an assertion line missing.
"""
import copy, json, os, sys, unittest

LAB = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LAB)
import labcheck  # noqa: E402

FIXTURE = os.path.join(LAB, "fixtures", "lab-results.json")
LAB_MD = os.path.join(os.path.dirname(os.path.dirname(LAB)), "LAB.md")


def load():
    with open(FIXTURE) as f:
        d = json.load(f)
    return d["sessions"], d["results"]


def run_of(results, mode, delay):
    return next(r for r in results if r["mode"] == mode and r["delay_ms"] == delay)


class Checker(unittest.TestCase):
    def setUp(self):
        self.sessions, self.results = load()

    def fails(self, results=None):
        return labcheck.failures(labcheck.check(self.results if results is None else results, self.sessions))

    def assertFailsWith(self, *needles):
        fails = self.fails()
        self.assertTrue(fails, "the injected fault was not reported")
        for n in needles:
            self.assertTrue(any(n in f for f in fails), f"no failure mentions {n!r}; failures: {fails}")
        return fails

    # -- the unmodified run ---------------------------------------------------------------

    def test_real_run_passes(self):
        self.assertEqual(self.fails(), [])

    def test_real_run_matches_committed_lab_md(self):
        got = labcheck.assertion_lines(labcheck.check(self.results, self.sessions))
        with open(LAB_MD) as f:
            expected = labcheck.read_assertions(f.read())
        self.assertEqual(labcheck.compare_assertions(got, expected), [])
        self.assertGreater(len(got), 100)

    def test_assertion_set_does_not_depend_on_figures(self):
        clean = [x.text for x in labcheck.check(self.results, self.sessions)]
        broken = copy.deepcopy(self.results)
        for r in broken:
            r["rows"] = {}
            r["relayed_alerts"], r["chain_alerts"] = [], []
        self.assertEqual([x.text for x in labcheck.check(broken, self.sessions)], clean)

    # -- injected faults ------------------------------------------------------------------

    def test_rdp_figure_stuck_without_relayed_alert(self):
        r = run_of(self.results, "terminating", 120)
        row = r["rows"]["rdp"]
        row["gap_ms"] = row["app_p10_ms"] = row["app_p50_ms"] = 1.5
        row["relayed"] = False
        # the alternatives farhand lists with a regular frame stream: one matches +120 ms
        row["alternatives_ms"] = [32.5, 63.5, 94.5, 125.5, 156.5]
        r["relayed_alerts"] = [a for a in r["relayed_alerts"] if a["flow"] != row["flow"]]
        self.assertFailsWith("terminating 120 ms rdp: gap − gap(0 ms) = added delay ± 10 ms",
                             "terminating 120 ms rdp: one relayed_remote_control alert with the session's 5-tuple")

    def test_rdp_figure_stuck_alone(self):
        row = run_of(self.results, "terminating", 120)["rows"]["rdp"]
        row["gap_ms"] = 1.5
        row["alternatives_ms"] = [125.5]
        self.assertFailsWith("terminating 120 ms rdp: gap")

    def test_vnc_constant_bias_terminating(self):
        for r in self.results:
            if r["mode"] == "terminating":
                r["rows"]["vnc"]["gap_ms"] += 35.0
        self.assertFailsWith("terminating 0 ms vnc: |gap| <= 10 ms")

    def test_vnc_bias_forwarding_baseline(self):
        run_of(self.results, "forwarding", 0)["rows"]["vnc"]["gap_ms"] += 35.0
        self.assertFailsWith("forwarding 0 ms vnc: |gap| <= 10 ms")

    def test_chain_alert_on_wrong_flow(self):
        r = run_of(self.results, "terminating", 60)
        r["chain_alerts"][0]["flow"] = list(r["rows"]["ssh"]["flow"])
        self.assertFailsWith("terminating 60 ms ssh_chain: one interactive_relay_chain",
                             "terminating 60 ms: no interactive_relay_chain on any other flow")

    def test_chain_alert_from_wrong_driver(self):
        r = run_of(self.results, "forwarding", 120)
        r["chain_alerts"][0]["driver"] = "10.77.9.9"
        self.assertFailsWith("forwarding 120 ms ssh_chain: one interactive_relay_chain")

    def test_chain_alert_outside_the_chain_session(self):
        r = run_of(self.results, "terminating", 200)
        r["chain_alerts"][0]["first_seen"] = r["rows"]["ssh"]["first_seen"]
        self.assertFailsWith("terminating 200 ms ssh_chain: one interactive_relay_chain")

    def test_chain_alert_missing(self):
        run_of(self.results, "forwarding", 0)["chain_alerts"] = []
        self.assertFailsWith("forwarding 0 ms ssh_chain: one interactive_relay_chain")

    def test_one_relayed_alert_for_two_ssh_sessions(self):
        r = run_of(self.results, "terminating", 60)
        chain_flow = r["rows"]["ssh_chain"]["flow"]
        r["relayed_alerts"] = [a for a in r["relayed_alerts"] if a["flow"] != chain_flow]
        self.assertFailsWith("terminating 60 ms ssh_chain: one relayed_remote_control alert with the session's 5-tuple")

    def test_relayed_alert_duplicated_onto_one_session(self):
        r = run_of(self.results, "terminating", 200)
        ssh, chain = r["rows"]["ssh"]["flow"], r["rows"]["ssh_chain"]["flow"]
        for a in r["relayed_alerts"]:
            if a["flow"] == chain:
                a["flow"] = list(ssh)
        self.assertFailsWith("terminating 200 ms ssh: one relayed_remote_control",
                             "terminating 200 ms ssh_chain: one relayed_remote_control")

    def test_relayed_alert_on_idle_session(self):
        r = run_of(self.results, "terminating", 120)
        r["relayed_alerts"].append({"tool": "ssh", "flow": r["rows"]["ssh_idle"]["flow"], "uid": "x"})
        self.assertFailsWith("terminating 120 ms: no relayed_remote_control alert on any other flow")

    def test_relayed_alert_on_direct_session(self):
        r = run_of(self.results, "forwarding", 200)
        r["relayed_alerts"].append({"tool": "vnc", "flow": r["rows"]["vnc"]["flow"], "uid": "x"})
        self.assertFailsWith("forwarding 200 ms vnc: no relayed_remote_control alert")

    def test_farhand_exit_status(self):
        run_of(self.results, "forwarding", 60)["farhand_exit"] = 1
        self.assertFailsWith("forwarding 60 ms: farhand exited 0 after SIGINT")

    def test_farhand_panic(self):
        run_of(self.results, "terminating", 0)["farhand_panic"] = "thread 'worker-1' panicked at sensor/src/x.rs:1:1"
        self.assertFailsWith("terminating 0 ms: no panic in farhand's log")

    def test_missing_session(self):
        del run_of(self.results, "terminating", 60)["rows"]["vnc"]
        self.assertFailsWith("terminating 60 ms vnc: session alert present")

    def test_missing_assertion_line(self):
        with open(LAB_MD) as f:
            expected = labcheck.read_assertions(f.read())
        got = labcheck.assertion_lines(labcheck.check(self.results, self.sessions))
        fails = labcheck.compare_assertions(got[:7] + got[8:], expected)
        self.assertEqual(len(fails), 1, fails)
        self.assertIn("missing from this run", fails[0])
        # a whole run dropped: its lines are missing
        fewer = [r for r in self.results if (r["mode"], r["delay_ms"]) != ("forwarding", 200)]
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

    def test_not_root_under_ci(self):
        import run
        self.assertEqual(run.root_check(1000, {"CI": "true"})[0], 1)
        self.assertEqual(run.root_check(1000, {"CI": "1"})[0], 1)
        self.assertEqual(run.root_check(1000, {"CI": ""})[0], 0)
        self.assertEqual(run.root_check(1000, {"CI": "false"})[0], 0)
        self.assertEqual(run.root_check(1000, {"CI": "0"})[0], 0)
        self.assertEqual(run.root_check(1000, {})[0], 0)
        self.assertEqual(run.root_check(0, {"CI": "true"}), (None, None))


if __name__ == "__main__":
    unittest.main()
