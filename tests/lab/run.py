#!/usr/bin/env python3
"""tests/lab/run.py — farhand's timing signals measured end to end on real software.

    tests/lab/run.py [--farhand BIN] [--relay BIN] [--delays 0,60,120,200]
                     [--modes terminating,forwarding] [--sessions ssh,vnc,rdp]
                     [--out LAB.md] [--json results.json] [--pcap DIR] [--keep]
                     [--expect-assertions LAB.md]

For each relay mode and added delay, brings up the lab network (topology.sh: controller —
relay — gateway — endpoint in network namespaces), runs farhand live on the gateway's
endpoint-facing interface, and drives real sessions from the controller:

- SSH: OpenSSH's client in a pseudo-terminal logs in to a real sshd on the endpoint
  (ClientAliveInterval 1, so idle periods carry keepalive exchanges), types a scripted text
  with known inter-key intervals, idles, then from the endpoint's shell opens an outbound SSH
  session to a second sshd (the "corp" server, behind the gateway) and types through it —
  the endpoint as a stepping stone;
- VNC: TigerVNC's viewer on the controller's Xvfb shows x11vnc serving the endpoint's Xvfb
  (an xterm), and xdotool types into the viewer at scripted intervals;
- RDP: FreeRDP 3's xfreerdp3 on the controller's Xvfb, connected (TLS security, GFX pipeline)
  to freerdp-shadow-cli3 serving the endpoint's Xvfb (an xterm whose input is saved to a
  file, so the run can check that the keys arrived), xdotool typing at scripted intervals;
- an idle SSH session (logged in, nothing typed).

`--sessions` picks the session kinds (`ssh` = the plain, stepping-stone, idle and obfuscated
SSH sessions; `vnc`; `rdp`) and the assertions follow the selection: e.g.
`--sessions rdp --modes terminating --delays 0,60` runs only the RDP session. `--pcap DIR`
also records each run's traffic on gw-ep with tcpdump (DIR/gw-ep-MODE-DELAY.pcap).

Then it reads farhand's alerts and checks the issue's assertions (labcheck.py: in
terminating mode the relay latency gap follows the added delay (after the 0 ms baseline, which
must itself be within 10 ms of zero) within 10 ms; in forwarding mode the transport RTT follows
it and the gap stays near zero; every relayed session has its own relayed_remote_control alert
(by 5-tuple) and no other flow has one; the keystroke IKI median is within 10 % of the scripted
one; the stepping stone's outbound flow raises interactive_relay_chain, driven from the inbound
session, and no other flow does; the idle session raises none of these; farhand exits 0 after
SIGINT without a panic). It writes the measured table and one line per assertion (LAB.md) and
exits 1 if an assertion fails or, with --expect-assertions FILE, if the assertion lines differ
from FILE's. Without root: SKIP (exit 0), or a failure when CI is set (not empty, false or 0).

Needs root (namespaces), the packages of tests/lab/deps.sh, and a release build of farhand.
"""
import argparse, json, os, pty, random, select, signal, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labcheck import (SESSION_KINDS, TOLERANCE_MS, GAP_THRESHOLD_MS, assertion_lines, check, compare_assertions,
                      failures, read_assertions)

LAB = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(LAB))
ENV = {}
for line in open(os.path.join(LAB, "addrs.env")):
    line = line.split("#", 1)[0].strip()
    if "=" in line and not line.startswith("FHLAB_TCP") and not line.startswith("FHLAB_UDP") and "$" not in line:
        k, v = line.split("=", 1)
        ENV[k] = v.strip('"')
NS_CTL, NS_GW, NS_EP = ENV["FHLAB_NS_CTL"], ENV["FHLAB_NS_GW"], ENV["FHLAB_NS_EP"]
EP_IP, GW_EP_IP = ENV["EP_IP"], ENV["GW_EP_IP"]
CORP_PORT = 2022
VNC_PORT = 5900
RDP_PORT = 3389


def log(msg):
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def nsx(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def topology(*args, env=None):
    e = dict(os.environ)
    e["FHLAB_TCP_FORWARDS"] = f"2222:22 {VNC_PORT}:{VNC_PORT} {RDP_PORT}:{RDP_PORT}"
    e.update(env or {})
    run([os.path.join(LAB, "topology.sh"), *args], env=e, stdout=subprocess.DEVNULL)


def mode_env():
    out = {}
    for line in open(os.path.join(os.environ.get("FHLAB_RUN", "/tmp/fhlab"), "mode.env")):
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v.strip()
    return out


class Daemons:
    """Background processes of one run, stopped in reverse order."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, log_path, env=None):
        p = subprocess.Popen(cmd, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def mark(self):
        """A position in the start order, for stop_since."""
        return len(self.procs)

    def stop_since(self, mark, timeout=5.0):
        """Stops the processes started since `mark`, newest first, each before the next (a
        client goes before its server, so the session ends with the client's disconnect)."""
        for p in reversed(self.procs[mark:]):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        del self.procs[mark:]

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        self.procs = []


def ssh_keys(work):
    for name in ("host_ed25519", "client_ed25519"):
        path = os.path.join(work, name)
        if not os.path.exists(path):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fhlab", "-f", path])
    with open(os.path.join(work, "authorized_keys"), "w") as f:
        f.write(open(os.path.join(work, "client_ed25519.pub")).read())
    host = open(os.path.join(work, "host_ed25519.pub")).read().split()[:2]
    with open(os.path.join(work, "known_hosts"), "w") as f:
        f.write("* " + " ".join(host) + "\n")


def sshd_config(work, port, name):
    path = os.path.join(work, f"sshd_{name}.conf")
    with open(path, "w") as f:
        f.write(f"""Port {port}
ListenAddress 0.0.0.0
HostKey {work}/host_ed25519
PidFile none
AuthorizedKeysFile {work}/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
ClientAliveInterval 1
ClientAliveCountMax 30
LogLevel ERROR
""")
    return path


def ssh_version():
    out = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr
    try:
        return float(out.split("OpenSSH_", 1)[1][:4].rstrip("p"))
    except (IndexError, ValueError):
        return 0.0


def ssh_cmd(work, host, port, obfuscate=False):
    cmd = ["ssh", "-F", "none", "-i", f"{work}/client_ed25519", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
           "-o", f"UserKnownHostsFile={work}/known_hosts", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
           "-tt", "-p", str(port)]
    if ssh_version() >= 9.5:
        cmd += ["-o", f"ObscureKeystrokeTiming={'yes' if obfuscate else 'no'}"]
    return cmd + [f"root@{host}"]


class Pty:
    """A program in a pseudo-terminal, read continuously."""

    def __init__(self, cmd):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp(cmd[0], cmd)
        self.buf = b""

    def pump(self, t=0.0):
        end = time.monotonic() + t
        while True:
            left = max(0.0, end - time.monotonic())
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.buf += data
            elif time.monotonic() >= end:
                return

    def expect(self, token, timeout=20.0):
        end = time.monotonic() + timeout
        while token.encode() not in self.buf:
            if time.monotonic() > end:
                raise RuntimeError(f"timeout waiting for {token!r}; got {self.buf[-300:]!r}")
            self.pump(0.05)
        self.buf = self.buf.split(token.encode(), 1)[1]

    def send(self, s):
        os.write(self.fd, s.encode())

    def type(self, words, intervals, word_pause):
        """Types words one key at a time: `intervals` between keys in a word, `word_pause`
        between words (a new typing burst)."""
        it = iter(intervals)
        for wi, w in enumerate(words):
            if wi:
                self.send(" ")
                self.pump(word_pause)
            for ci, ch in enumerate(w):
                if ci:
                    self.pump(next(it))
                self.send(ch)
        self.pump(0.3)

    def close(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return
            self.pump(0.1)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


WORDS = ["lorem", "ipsum", "dolor", "amet", "consectetur", "adipiscing", "elit", "sed", "eiusmod", "tempor"]


def scripted_intervals(seed, n):
    """Human-like inter-key intervals (log-normal, median 180 ms), reproducible."""
    rnd = random.Random(seed)
    return [min(0.6, max(0.07, rnd.lognormvariate(-1.715, 0.35))) for _ in range(n)]


def ssh_session(work, host, port, stepping, idle_s=6.0, obfuscate=False):
    """Logs in, types the words, idles (keepalives), optionally types through an outbound
    session to the corp server; returns the scripted in-word intervals (seconds)."""
    keys_in_words = sum(len(w) - 1 for w in WORDS)
    iv = scripted_intervals(1 if not stepping else 2, keys_in_words)
    p = Pty(nsx(NS_CTL, *ssh_cmd(work, host, port, obfuscate)) + ["env PS1='lab$ ' bash --norc --noprofile -i"])
    p.expect("lab$ ")
    p.pump(1.5)
    p.type(WORDS, iv, 1.2)
    p.send("\x15")  # ^U: discard the line
    p.pump(idle_s)
    if stepping:
        # From the endpoint's own shell: an outbound SSH session to the corp server.
        inner = " ".join(ssh_cmd(work, GW_EP_IP, CORP_PORT)) + " \"env PS1='corp$ ' bash --norc --noprofile -i\""
        p.send(inner + "\r")
        p.expect("corp$ ")
        p.pump(1.5)
        p.type(WORDS, iv, 1.2)
        p.send("\x15")
        p.pump(1.0)
        p.send("exit\r")
        p.expect("lab$ ")
    p.pump(0.5)
    p.send("exit\r")
    p.close()
    return iv


def idle_ssh_session(work, host, port, seconds=8.0):
    p = Pty(nsx(NS_CTL, *ssh_cmd(work, host, port)) + ["env PS1='idle$ ' bash --norc --noprofile -i"])
    p.expect("idle$ ")
    p.pump(seconds)
    p.send("exit\r")
    p.close()


def xdotool_typing(words, iv, word_pause=1.2):
    """One xdotool command line that types `words`: `key` then `sleep` per character, so a key
    press follows the previous one by the scripted interval (from `iv`, one per in-word key
    pair) plus xdotool's own sub-millisecond work; the space between two words stands alone
    between two `word_pause`s (a burst of its own, no interval)."""
    script, it = [], iter(iv)
    for wi, w in enumerate(words):
        if wi:
            script += ["sleep", f"{word_pause}", "key", "--delay", "0", "space", "sleep", f"{word_pause}"]
        for ci, ch in enumerate(w):
            script += ["key", "--delay", "0", ch]
            if ci < len(w) - 1:
                script += ["sleep", f"{next(it):.4f}"]
    return script


def vnc_session(d, work, host, port):
    """x11vnc on the endpoint's Xvfb (an xterm), TigerVNC's viewer on the controller's Xvfb,
    xdotool pressing keys in the viewer with scripted intervals (xdotool_typing). Returns the
    scripted intervals."""
    words = WORDS[:6]
    iv = scripted_intervals(3, sum(len(w) - 1 for w in words))
    script = xdotool_typing(words, iv)
    ep_env = dict(os.environ, DISPLAY=":71")
    ctl_env = dict(os.environ, DISPLAY=":72")
    d.start(nsx(NS_EP, "Xvfb", ":71", "-screen", "0", "800x600x24", "-nolisten", "tcp"), f"{work}/xvfb-ep.log")
    d.start(nsx(NS_CTL, "Xvfb", ":72", "-screen", "0", "1024x768x24", "-nolisten", "tcp"), f"{work}/xvfb-ctl.log")
    time.sleep(1.0)
    # The xterm covers the screen: with no window manager, keys go to the window under the
    # pointer, wherever the viewer puts it.
    d.start(nsx(NS_EP, "xterm", "-geometry", "140x50+0+0"), f"{work}/xterm.log", env=ep_env)
    d.start(nsx(NS_EP, "x11vnc", "-display", ":71", "-rfbport", str(VNC_PORT), "-forever", "-shared", "-nopw",
                "-quiet", "-noxdamage"), f"{work}/x11vnc.log", env=ep_env)
    time.sleep(2.0)
    viewer = d.start(nsx(NS_CTL, "xtigervncviewer", "-SecurityTypes", "None", "-AutoSelect=0",
                         f"{host}::{port}"), f"{work}/viewer.log", env=ctl_env)
    time.sleep(3.0)
    if viewer.poll() is not None:
        raise RuntimeError("vncviewer exited: " + open(f"{work}/viewer.log").read()[-500:])
    win = subprocess.run(nsx(NS_CTL, "xdotool", "search", "--sync", "--name", "TigerVNC"),
                         env=ctl_env, capture_output=True, text=True, timeout=20).stdout.split()
    if not win:
        raise RuntimeError("no viewer window")
    run(nsx(NS_CTL, "xdotool", "windowfocus", "--sync", win[0]), env=ctl_env, timeout=20)
    time.sleep(0.5)
    run(nsx(NS_CTL, "xdotool", *script), env=ctl_env, timeout=120)
    time.sleep(2.0)
    return iv


RDP_WORDS = WORDS[:6]


def wait_listening(ns, port, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = subprocess.run(nsx(ns, "ss", "-Hltn", f"sport = :{port}"), capture_output=True, text=True).stdout
        if out.strip():
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {ns} port {port}")


def rdp_session(d, work, host, port):
    """freerdp-shadow-cli3 (TLS security, no authentication) shares the endpoint's Xvfb, where an
    xterm covers the screen and saves what is typed into it to `rdp-typed.txt` (a cat with the
    terminal non-canonical, so each key lands at once and is echoed on screen); xfreerdp3 on the
    controller's Xvfb connects (GFX pipeline, 640x480: the server streams frames continuously,
    and the screen size sets their bandwidth); xdotool presses keys in the client window at
    scripted intervals (xdotool_typing). Stops the RDP programs (client first) and returns the
    scripted intervals."""
    iv = scripted_intervals(4, sum(len(w) - 1 for w in RDP_WORDS))
    script = xdotool_typing(RDP_WORDS, iv)
    typed = os.path.join(work, "rdp-typed.txt")
    if os.path.exists(typed):
        os.unlink(typed)
    ep_env = dict(os.environ, DISPLAY=":73")
    ctl_env = dict(os.environ, DISPLAY=":74")
    mark = d.mark()
    try:
        d.start(nsx(NS_EP, "Xvfb", ":73", "-screen", "0", "640x480x24", "-nolisten", "tcp"), f"{work}/xvfb-rdp-ep.log")
        d.start(nsx(NS_CTL, "Xvfb", ":74", "-screen", "0", "800x600x24", "-nolisten", "tcp"), f"{work}/xvfb-rdp-ctl.log")
        time.sleep(1.0)
        # No window manager: keys go to the window under the pointer (the screen's centre), so
        # the xterm covers the screen.
        d.start(nsx(NS_EP, "xterm", "-geometry", "110x40+0+0", "-e", "sh", "-c",
                    f"stty -icanon; exec cat >{typed}"), f"{work}/xterm-rdp.log", env=ep_env)
        d.start(nsx(NS_EP, "freerdp-shadow-cli3", f"/port:{RDP_PORT}", "/sec:tls", "-auth", "/log-level:WARN"),
                f"{work}/rdp-shadow.log", env=ep_env)
        wait_listening(NS_EP, RDP_PORT)
        client = d.start(nsx(NS_CTL, "xfreerdp3", f"/v:{host}:{port}", "/sec:tls", "/cert:ignore", "/u:lab", "/p:x",
                             "/gfx", "/size:640x480", "/log-level:WARN"), f"{work}/rdp-client.log", env=ctl_env)
        win = subprocess.run(nsx(NS_CTL, "xdotool", "search", "--sync", "--name", "FreeRDP"),
                             env=ctl_env, capture_output=True, text=True, timeout=30).stdout.split()
        if not win or client.poll() is not None:
            raise RuntimeError("no xfreerdp3 window: " + open(f"{work}/rdp-client.log").read()[-500:])
        time.sleep(2.0)  # the window is mapped before the session's first frames
        run(nsx(NS_CTL, "xdotool", "windowfocus", "--sync", win[0]), env=ctl_env, timeout=20)
        time.sleep(0.5)
        run(nsx(NS_CTL, "xdotool", *script), env=ctl_env, timeout=120)
        time.sleep(2.0)
    finally:
        d.stop_since(mark)
    return iv


def rdp_typed(work):
    """What reached the endpoint's xterm in the RDP session (None: nothing)."""
    try:
        return open(os.path.join(work, "rdp-typed.txt")).read()
    except OSError:
        return None


def alerts_of(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def one_run(args, mode, delay, work):
    log(f"mode {mode}, added delay {delay} ms")
    topology("down")
    topology("up", mode, str(delay), env={"FHLAB_RELAY_BIN": args.relay})
    me = mode_env()
    host, port = me["SSH_HOST"], int(me["SSH_PORT"])
    vnc_host = me["SSH_HOST"]
    sessions = args.sessions
    d = Daemons()
    alerts_path = os.path.join(work, f"alerts-{mode}-{delay}.json")
    cfg = os.path.join(work, "farhand.toml")
    with open(cfg, "w") as f:
        f.write(f'[sensor]\nworkers = 2\nhome_networks = ["{EP_IP}/32"]\n'
                '[flow]\ntcp_close_linger = 1\n')
    scripted, extra = {}, {}
    try:
        os.makedirs("/run/sshd", exist_ok=True)
        d.start(nsx(NS_EP, "/usr/sbin/sshd", "-D", "-e", "-f", sshd_config(work, 22, "ep")), f"{work}/sshd-ep.log")
        d.start(nsx(NS_GW, "/usr/sbin/sshd", "-D", "-e", "-f", sshd_config(work, CORP_PORT, "corp")),
                f"{work}/sshd-corp.log")
        if args.pcap:
            d.start(nsx(NS_GW, "tcpdump", "-i", ENV["GW_EP_IF"], "-n", "-s", "0", "-U", "-w",
                        os.path.join(args.pcap, f"gw-ep-{mode}-{delay}.pcap")), f"{work}/tcpdump-{mode}-{delay}.log")
        fh = d.start(nsx(NS_GW, args.farhand, "-q", "-i", ENV["GW_EP_IF"], "-c", cfg, "-o", alerts_path),
                     f"{work}/farhand-{mode}-{delay}.log")
        time.sleep(1.5)
        if "ssh" in sessions:
            scripted["ssh"] = ssh_session(work, host, port, stepping=False)
            scripted["ssh_chain"] = ssh_session(work, host, port, stepping=True)
            idle_ssh_session(work, host, port)
            if delay == 0 and ssh_version() >= 9.5:
                # OpenSSH >= 9.5 with keystroke-timing obfuscation on: its 20 ms cadence.
                ssh_session(work, host, port, stepping=False, idle_s=2.0, obfuscate=True)
        if "vnc" in sessions:
            mark = d.mark()
            scripted["vnc"] = vnc_session(d, work, vnc_host, VNC_PORT)
            time.sleep(1.0)
            d.stop_since(mark)  # the VNC session ends before the next one starts
        if "rdp" in sessions:
            if not me.get("RDP_PORT"):
                raise RuntimeError("mode.env has no RDP_PORT (no relay for 3389?)")
            scripted["rdp"] = rdp_session(d, work, me["RDP_HOST"], int(me["RDP_PORT"]))
            extra["rdp_typed"] = rdp_typed(work)
            extra["rdp_expected"] = " ".join(RDP_WORDS)
            time.sleep(1.0)
        # Stop what is left (sshds) first, then farhand.
        for p in reversed(d.procs):
            if p is not fh and p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        time.sleep(2.5)
        os.killpg(fh.pid, signal.SIGINT)
        try:
            extra["farhand_exit"] = fh.wait(timeout=20)
        except subprocess.TimeoutExpired:
            extra["farhand_exit"] = "still running 20 s after SIGINT"
    finally:
        d.stop_all()
        if not args.keep:
            topology("down")
    r = summarise(alerts_of(alerts_path), mode, delay, scripted)
    r.update(extra)
    r.setdefault("farhand_exit", None)
    r["farhand_panic"] = panic_line(f"{work}/farhand-{mode}-{delay}.log")
    return r


def panic_line(path):
    """The first line of a Rust panic in farhand's log (stdout and stderr), if any."""
    try:
        for line in open(path, errors="replace"):
            if "panicked at" in line or "RUST_BACKTRACE" in line:
                return line.strip()[:300]
    except OSError:
        return f"no log at {path}"
    return None


def _flow(a):
    """An alert's 5-tuple (TCP): [src ip, src port, dst ip, dst port] as its src/dst endpoints say."""
    return [a["src_endpoint"]["ip"], a["src_endpoint"]["port"], a["dst_endpoint"]["ip"], a["dst_endpoint"]["port"]]


def summarise(alerts, mode, delay, scripted):
    """Per session: the figures farhand reported, the session's 5-tuple and time span; the
    relayed_remote_control and interactive_relay_chain alerts with theirs (labcheck.py's
    input). An alert reported more than once (same id) counts once, as last reported."""
    uniq = {}
    for a in alerts:
        uniq[(a["unmapped"]["farhand"]["kind"], a["finding_info"]["uid"])] = a
    alerts = list(uniq.values())
    rows = {}
    sessions = [a for a in alerts if a["unmapped"]["farhand"]["kind"] == "remote_control_session"]
    by_kind = {}
    for a in alerts:
        by_kind.setdefault(a["unmapped"]["farhand"]["kind"], []).append(a)
    inbound = [a for a in sessions if a["unmapped"]["farhand"]["direction"] == "inbound"]

    def fig(a):
        f = a["unmapped"]["farhand"]
        b = f.get("behaviour") or {}
        tr = (b.get("transport_rtt_ms") or {}).get("peer_leg") or {}
        app = b.get("app_rtt_far_ms") or {}
        gap = b.get("gap") or {}
        k = b.get("keystrokes") or {}
        return {
            "flow": _flow(a), "first_seen": f["first_seen"], "last_seen": f["last_seen"],
            "transport_min_ms": tr.get("min_ms"), "transport_n": tr.get("n"),
            "app_p10_ms": app.get("p10_ms"), "app_p50_ms": app.get("p50_ms"), "app_n": app.get("n"),
            "gap_ms": gap.get("gap_ms"), "relayed": gap.get("relayed"),
            "alternatives_ms": b.get("app_rtt_far_alternatives_ms"),
            "iki_median_ms": k.get("iki_median_ms"), "keys": k.get("keys"), "rhythm": k.get("rhythm"),
            "chained": (b.get("chain") or {}).get("chained"),
            "duration_ms": f["duration_ms"], "id": a["finding_info"]["uid"],
        }

    ssh_in = sorted([a for a in inbound if a["unmapped"]["farhand"]["tool"] == "ssh"],
                    key=lambda a: a["unmapped"]["farhand"]["first_seen"])
    vnc_in = [a for a in inbound if a["unmapped"]["farhand"]["tool"] == "vnc"]
    rdp_in = [a for a in inbound if a["unmapped"]["farhand"]["tool"] == "rdp"
              and a["unmapped"]["farhand"]["endpoint"]["port"] == RDP_PORT]
    # the stepping stone's own session: the endpoint to the corp sshd
    outbound_ssh = sorted([a for a in sessions if a["unmapped"]["farhand"]["tool"] == "ssh"
                           and a["unmapped"]["farhand"]["direction"] == "outbound"
                           and a["dst_endpoint"]["ip"] == GW_EP_IP and a["dst_endpoint"]["port"] == CORP_PORT],
                          key=lambda a: a["unmapped"]["farhand"]["first_seen"])
    names = ["ssh", "ssh_chain", "ssh_idle", "ssh_obfuscated"]
    for name, a in zip(names, ssh_in):
        rows[name] = fig(a)
    if vnc_in:
        rows["vnc"] = fig(max(vnc_in, key=lambda a: a["unmapped"]["farhand"]["packets_in"]))
    if rdp_in:
        rows["rdp"] = fig(max(rdp_in, key=lambda a: a["unmapped"]["farhand"]["packets_in"]))
    if outbound_ssh:
        rows["ssh_outbound"] = fig(outbound_ssh[0])
    for name, iv in scripted.items():
        if name in rows:
            rows[name]["scripted_iki_median_ms"] = round(statistics.median(iv) * 1000, 1)
    relayed = by_kind.get("relayed_remote_control", [])
    chain = by_kind.get("interactive_relay_chain", [])
    return {"mode": mode, "delay_ms": delay, "rows": rows,
            "relayed_alerts": [{"tool": a["unmapped"]["farhand"]["tool"], "flow": _flow(a),
                                "uid": a["finding_info"]["uid"]} for a in relayed],
            "chain_alerts": [{"tool": a["unmapped"]["farhand"]["tool"], "flow": _flow(a),
                              "driver": ((a["unmapped"]["farhand"].get("behaviour") or {}).get("chain") or {})
                              .get("driver"), "first_seen": a["unmapped"]["farhand"]["first_seen"],
                              "uid": a["finding_info"]["uid"]} for a in chain],
            "alert_kinds": sorted(by_kind)}


def write_md(results, assertions, path):
    L = ["# Lab: timing signals on real software", "",
         "Generated by `tests/lab/run.py` (run by `scripts/test.sh`). Controller — relay — gateway — "
         "endpoint in network namespaces; farhand captures live on the gateway's endpoint-facing "
         "interface, so the visible peer is the relay (terminating mode: `farhand-lab-relay tcp`, a "
         "jump host) or the controller itself (forwarding mode: `farhand-lab-relay bridge`, an L2 "
         "path that delays every frame). Sessions: OpenSSH (client in a pseudo-terminal typing "
         "log-normal intervals, median ~180 ms; sshd with `ClientAliveInterval 1`), TigerVNC "
         "viewer ↔ x11vnc with xdotool pressing keys at log-normal intervals, FreeRDP 3 (xfreerdp3 ↔ "
         "freerdp-shadow-cli3, TLS, GFX pipeline, 640x480) with xdotool pressing keys at log-normal intervals, "
         "an SSH session typed through the endpoint to a second sshd (stepping stone), and an idle SSH session.", "",
         "Figures are farhand's own alert fields (milliseconds): transport RTT to the visible peer "
         "(smallest, samples), far-leg application RTT (10th percentile / median, samples), "
         "the gap, and the keystroke IKI median against the scripted one.", "",
         "| mode | added delay | session | transport RTT min (n) | app RTT p10 / p50 (n) | gap | relayed | "
         "IKI median (scripted) | rhythm |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for name in ("ssh", "vnc", "rdp", "ssh_chain", "ssh_outbound", "ssh_idle", "ssh_obfuscated"):
            row = r["rows"].get(name)
            if not row:
                continue
            iki = "–" if row.get("iki_median_ms") is None else f"{row['iki_median_ms']}"
            if row.get("scripted_iki_median_ms"):
                iki += f" ({row['scripted_iki_median_ms']})"
            app = f"{row.get('app_p10_ms')} / {row.get('app_p50_ms')} ({row.get('app_n')})"
            if row.get("alternatives_ms"):
                alts = row["alternatives_ms"]
                app += "; also fits " + ", ".join(map(str, alts[:3])) + (" …" if len(alts) > 3 else "")
            L.append(f"| {r['mode']} | {r['delay_ms']} | {name} | {row.get('transport_min_ms')} ({row.get('transport_n')}) | "
                     f"{app} | {row.get('gap_ms')} | "
                     f"{'yes' if row.get('relayed') else 'no'} | {iki} | {row.get('rhythm') or '–'} |")
    if results and "rdp_expected" in results[0]:
        L += ["", "RDP typing reached the endpoint's xterm: " + ", ".join(
            f"{r['mode']} {r['delay_ms']} ms {'yes' if r.get('rdp_typed') == r.get('rdp_expected') else 'NO'}"
            for r in results)]
    if any(r["rows"].get("rdp") for r in results):
        L += ["", "RDP's far-leg RTT is read from TLS record sizes and times: each graphics-frame "
              "acknowledgement votes for the time since every recent burst of server records, and the "
              "figure is the smallest delay nearly all acknowledgements share. FreeRDP's shadow server "
              "streams frames all the time; when its stream is strictly periodic, delays a whole number "
              "of periods apart fit equally well (\"also fits\"): farhand reports the smallest (a gap that "
              "can only be too low, so no false alert) and lists the others; the lab counts a figure off the "
              "added delay as a failure all the same. A transport RTT on the far "
              "leg rules out what is below it (forwarding mode)."]
    L += ["", "Alerts per run (sessions matched by 5-tuple; farhand's exit status after SIGINT):", ""]
    for r in results:
        rows = r["rows"]
        names = {tuple(row["flow"]): n for n, row in rows.items() if row.get("flow")}
        rel = [names.get(tuple(x["flow"]), f"unmatched {x['flow']}") for x in r["relayed_alerts"]]
        ch = [f"{names.get(tuple(x['flow']), 'unmatched ' + str(x['flow']))} driven from {x.get('driver')}"
              for x in r["chain_alerts"]]
        L.append(f"- {r['mode']} {r['delay_ms']} ms: relayed_remote_control on {', '.join(rel) or 'none'}; "
                 f"interactive_relay_chain on {', '.join(ch) or 'none'}; kinds {', '.join(r['alert_kinds'])}; "
                 f"farhand exit {r.get('farhand_exit')}{'; PANIC' if r.get('farhand_panic') else ''}")
    held = sum(x.ok for x in assertions)
    L += ["", "## Assertions", "",
          f"Every assertion checked, one a line ({held} of {len(assertions)} held); the lines do not depend on the "
          "measured figures, and `run.py --expect-assertions LAB.md` fails when a run's lines differ from the "
          "committed ones. Tolerances: gap and transport RTT ± 10 ms of the added delay, |gap| <= 10 ms at 0 ms, "
          f"direct sessions' |gap| <= 20 ms, IKI median ± 10 %; relayed_remote_control required behind the "
          f"terminating relay beyond farhand's {GAP_THRESHOLD_MS:g} ms gap threshold, forbidden at 0 ms and on "
          "direct sessions.", ""]
    L += assertion_lines(assertions)
    fails = failures(assertions)
    if fails:
        L += ["", "## Failures", "", "What was measured where an assertion failed:", ""] + [f"- {f}" for f in fails]
    open(path, "w").write("\n".join(L) + "\n")


def root_check(euid, env):
    """(exit code, message) when the lab cannot run, else (None, None): not root is a skip,
    but a failure under CI (CI set, not empty, "false" or "0", as scripts/test.sh reads it),
    where the lab must run."""
    if euid == 0:
        return None, None
    if env.get("CI", "") not in ("", "false", "0"):
        return 1, "lab: FAIL: needs root (network namespaces), and CI is set: the lab must run in CI, not skip"
    return 0, "SKIP lab: needs root (network namespaces)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--farhand", default=os.path.join(ROOT, "target", "release", "farhand"))
    ap.add_argument("--relay", default=os.path.join(ROOT, "target", "release", "farhand-lab-relay"))
    ap.add_argument("--delays", default="0,60,120,200")
    ap.add_argument("--modes", default="terminating,forwarding")
    ap.add_argument("--out", default=os.path.join(ROOT, "LAB.md"))
    ap.add_argument("--json", default="", help="also write the run's results (labcheck.py's input) as JSON")
    ap.add_argument("--sessions", default=",".join(SESSION_KINDS),
                    help="session kinds to run and check: ssh (plain, stepping stone, idle, obfuscated), vnc, rdp")
    ap.add_argument("--pcap", default="", metavar="DIR", help="also capture gw-ep with tcpdump: DIR/gw-ep-MODE-DELAY.pcap")
    ap.add_argument("--expect-assertions", default="", metavar="LAB.md",
                    help="fail unless this run's assertion lines are exactly those of the file's '## Assertions' "
                         "section (read before --out is written, so it may be the same file)")
    ap.add_argument("--keep", action="store_true", help="leave the last topology up")
    args = ap.parse_args()
    args.sessions = [k for k in args.sessions.split(",") if k]
    bad = [k for k in args.sessions if k not in SESSION_KINDS]
    if bad or not args.sessions:
        ap.error(f"--sessions: choose from {','.join(SESSION_KINDS)}, not {bad or 'nothing'}")
    expected = None
    if args.expect_assertions:
        try:
            expected = read_assertions(open(args.expect_assertions).read())
        except OSError as e:
            print(f"lab: FAIL: --expect-assertions: {e}", file=sys.stderr)
            return 1
    code, msg = root_check(os.geteuid(), os.environ)
    if code is not None:
        print(msg, file=sys.stderr if code else sys.stdout)
        return code
    for b in (args.farhand, args.relay):
        if not os.access(b, os.X_OK):
            print(f"lab: {b} missing: build it first (cargo build --release --workspace)", file=sys.stderr)
            return 2
    if args.pcap:
        os.makedirs(args.pcap, exist_ok=True)
    work = tempfile.mkdtemp(prefix="fhlab-")
    os.chmod(work, 0o755)
    ssh_keys(work)
    results = []
    started = time.monotonic()
    try:
        for mode in args.modes.split(","):
            for delay in [int(x) for x in args.delays.split(",")]:
                results.append(one_run(args, mode, delay, work))
    finally:
        if not args.keep:
            topology("down")
    assertions = check(results, args.sessions)
    write_md(results, assertions, args.out)
    if args.json:
        json.dump({"sessions": args.sessions, "results": results}, open(args.json, "w"), indent=1)
    fails = failures(assertions)
    if expected is not None:
        fails += compare_assertions(assertion_lines(assertions), expected, args.expect_assertions)
    for f in fails:
        print("FAIL", f)
    log(f"{len(results)} runs in {time.monotonic() - started:.0f} s, {len(assertions)} assertions, "
        f"{len(fails)} failures; table in {args.out}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
