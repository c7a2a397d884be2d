#!/usr/bin/env python3
"""tests/lab/run.py — farhand's timing signals measured end to end on real software.

    tests/lab/run.py [--farhand BIN] [--relay BIN] [--seed N]
                     [--slice ci | --relays plain,jitter --modes terminating,forwarding
                                  --delays 0,60,120,200]
                     [--sessions ssh,vnc,rdp] [--sequential]
                     [--jitter-ms 5] [--drop-pct 1] [--reorder-pct 1]
                     [--out LAB.md] [--json results.json] [--pcap DIR] [--keep]
                     [--expect-assertions LAB.md]

For each relay variant, relay mode and added delay (a "run"), brings up the lab network
(topology.sh: controller — relay — gateway — endpoint in network namespaces), runs farhand
live on the gateway's endpoint-facing interface, and drives real sessions from the
controller — one per configuration, each its own rows and assertions (labcheck.SPECS):

- SSH (OpenSSH's client in a pseudo-terminal typing a scripted text): server keepalives only
  (`ssh`), client keepalives only (`ssh_ka_client`), both (`ssh_ka_both`), neither
  (`ssh_ka_none`), Debian 12's OpenSSH 9.2 client (`ssh_92`), OpenSSH 10 with keystroke
  obfuscation on (`ssh_obfuscated`; `ssh` has it off), an idle session (`ssh_idle`). Each has
  its own endpoint port (two sshds: with and without ClientAliveInterval), so a row can only
  be its session's.
- Stepping stones: `ssh_chain` (typed, idle, then from the endpoint's shell an SSH session to
  the "corp" sshd behind the gateway, typed through) and `ssh_chain_short` (~25 s, 3–4 typing
  periods through the corp session); their outbound sessions must raise
  interactive_relay_chain. The NEGATIVE: while the controller types into `ssh_indep`, a second
  user on the endpoint types into its own outbound session (`ssh_indep_out`) with an
  independent schedule: no interactive_relay_chain there.
- VNC: TigerVNC's viewer ↔ x11vnc with xdotool typing: the viewer's default encoding (Tight,
  `vnc`), ZRLE (`vnc_zrle`), and a viewer typing into an x11vnc `-shared` that a second,
  view-only viewer watches (`vnc_shared`, `vnc_watch`). Each server its own displays and port.
- RDP: xfreerdp3 ↔ freerdp-shadow-cli3 (TLS, GFX) with xdotool typing; the keys must arrive.

Relay variants: `plain` (the fixed delay) and `jitter` (each hold moves within ±--jitter-ms,
order kept; in forwarding mode the bridge also drops --drop-pct and reorders --reorder-pct of
the frames, so TCP retransmits); the jitter relay's lines say "terminating+jitter 120 ms".

Typing is human-like and drawn from the run's seed (`--seed N` reproduces; by default a random
seed, printed and written into LAB.md): each typist has its own median (150–230 ms) and spread
(log-normal, each interval clamped to 70–600 ms), words from a list, pauses between words
above farhand's 1 s burst gap. Sessions that do not disturb one another run at the same time
(the SSH settings, VNC, RDP: no outbound flow exists then); each stepping stone and the
negative run alone. `--sequential` runs every session alone. Each session's 5-tuple is read
from the endpoint's sockets (`ss` in its namespace) while it runs, and farhand's alerts are
matched to sessions by it.

`--slice ci` runs the representative slice CI runs (CI_SLICE: every configuration once, the
0 ms baselines, one delay per mode, the jitter relay once per mode); with `--expect-assertions` a slice
compares its lines with the file's lines of the same runs. Without `--slice`: every relay
variant × mode × delay given (default: the full matrix, whose output is the committed LAB.md).

Then it checks the assertions (labcheck.py), writes the measured table and one line per
assertion (LAB.md) and exits 1 if an assertion fails or, with --expect-assertions FILE, if the
assertion lines differ from FILE's. Without root: SKIP (exit 0), or a failure when CI is set
(not empty, false or 0).

Needs root (namespaces), the packages of tests/lab/deps.sh, and a release build of farhand.
"""
import argparse, hashlib, json, math, os, pty, random, select, signal, statistics, subprocess, sys, tempfile, threading
import re, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labcheck import (GAP_THRESHOLD_MS, JITTER_TOLERANCE_MS, MATRIX_RELAYS, RELAYS, SESSION_KINDS,  # noqa: E402
                      TOLERANCE_MS, FORWARDING_GAP_MS, IKI_TOLERANCE, assertion_lines,
                      check, compare_assertions, failures, read_assertions, run_prefix, specs_for)

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
OPENSSH92 = os.path.join(os.environ.get("FHLAB_OPENSSH92", "/opt/openssh-9.2"), "usr", "bin", "ssh")

# Every inbound session its own endpoint port (and, in terminating mode, relay port), so a
# row can never be another session's. sshd "ka" has ClientAliveInterval 1, "noka" none.
SSH_PORTS = {"ssh": 22, "ssh_ka_both": 2201, "ssh_92": 2202, "ssh_obfuscated": 2203, "ssh_chain": 2204,
             "ssh_chain_short": 2205, "ssh_idle": 2206, "ssh_indep": 2207,
             "ssh_ka_client": 2210, "ssh_ka_none": 2211}
NOKA = ("ssh_ka_client", "ssh_ka_none")
# the SSH settings: client ("10" or "9.2"), obfuscation, client keepalives (ServerAliveInterval 1)
SSH_SETTINGS = {"ssh": ("10", False, False), "ssh_ka_client": ("10", False, True),
                "ssh_ka_both": ("10", False, True), "ssh_ka_none": ("10", False, False),
                "ssh_92": ("9.2", False, False), "ssh_obfuscated": ("10", True, False)}
# the corp sshd (gateway namespace, behind gw-ep): one port per outbound session
CORP_PORTS = {"ssh_chain_out": 2022, "ssh_chain_short_out": 2023, "ssh_indep_out": 2024}
# VNC: endpoint port, endpoint display, controller display, preferred encoding
VNC = {"vnc": (5900, ":71", ":72", None), "vnc_zrle": (5901, ":77", ":78", "ZRLE"),
       "vnc_shared": (5902, ":79", ":80", None)}
WATCH_DISPLAY = ":81"
RDP_PORT = 3389  # displays :73 / :74


def relay_port(ep_port):
    """The terminating relay's port for an endpoint port (22 is reached on 2222)."""
    return 2222 if ep_port == 22 else ep_port


def ep_ports():
    return sorted(set(SSH_PORTS.values()) | {v[0] for v in VNC.values()} | {RDP_PORT})


TCP_FORWARDS = " ".join(f"{relay_port(p)}:{p}" for p in ep_ports())

# The CI slice: every configuration once, at one delay per mode, with the 0 ms baselines the
# gap and transport assertions measure from, and each jitter relay once per mode (forwarding:
# with its drops and reordering, so TCP retransmits under the parsers).
CI_SLICE = (("plain", "terminating", 0), ("plain", "terminating", 120), ("plain", "forwarding", 0),
            ("plain", "forwarding", 60), ("jitter", "terminating", 120), ("jitter", "forwarding", 120),
            ("jitter20", "terminating", 120), ("jitter20", "forwarding", 60))


def log(msg):
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def nsx(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def topology(*args, env=None):
    e = dict(os.environ)
    e["FHLAB_TCP_FORWARDS"] = TCP_FORWARDS
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
    """Background processes, stopped newest first, each before the next (a client goes before
    its server, so the session ends with the client's disconnect)."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, log_path, env=None):
        p = subprocess.Popen(cmd, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self, timeout=5.0):
        for p in reversed(self.procs):
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


def sshd_config(work, ports, name, client_alive=True):
    path = os.path.join(work, f"sshd_{name}.conf")
    with open(path, "w") as f:
        f.write("".join(f"Port {p}\n" for p in ports))
        f.write(f"""ListenAddress 0.0.0.0
HostKey {work}/host_ed25519
PidFile none
AuthorizedKeysFile {work}/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 50
LogLevel ERROR
""")
        if client_alive:
            f.write("ClientAliveInterval 1\nClientAliveCountMax 30\n")
    return path


def ssh_version(binary="ssh"):
    try:
        out = subprocess.run([binary, "-V"], capture_output=True, text=True).stderr
        return float(out.split("OpenSSH_", 1)[1][:4].rstrip("p"))
    except (OSError, IndexError, ValueError):
        return 0.0


def ssh_cmd(work, host, port, client="10", obfuscate=False, client_keepalive=False):
    cmd = ["ssh" if client == "10" else OPENSSH92, "-F", "none", "-i", f"{work}/client_ed25519", "-o",
           "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={work}/known_hosts", "-o",
           "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10", "-tt", "-p", str(port)]
    if client == "10":
        cmd += ["-o", f"ObscureKeystrokeTiming={'yes' if obfuscate else 'no'}"]
    if client_keepalive:
        cmd += ["-o", "ServerAliveInterval=1"]
    return cmd + [f"root@{host}"]


def remote_shell(prompt):
    return f"env PS1='{prompt}' bash --norc --noprofile -i"


class Pty:
    """A program in a pseudo-terminal, read continuously (safe to use from a thread: started
    with subprocess, not fork)."""

    def __init__(self, cmd):
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                     close_fds=True)
        os.close(slave)
        self.fd = master
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
                    data = b""
                if not data:
                    time.sleep(max(0.0, end - time.monotonic()))
                    return
                self.buf += data
            elif time.monotonic() >= end:
                return

    def expect(self, token, timeout=25.0):
        end = time.monotonic() + timeout
        while token.encode() not in self.buf:
            if time.monotonic() > end:
                raise RuntimeError(f"timeout waiting for {token!r}; got {self.buf[-300:]!r}")
            if self.proc.poll() is not None:
                self.pump(0.05)
                if token.encode() in self.buf:
                    break
                raise RuntimeError(f"exited ({self.proc.returncode}) before {token!r}; got {self.buf[-300:]!r}")
            self.pump(0.05)
        self.buf = self.buf.split(token.encode(), 1)[1]

    def send(self, s):
        os.write(self.fd, s.encode())

    def type(self, script):
        """Types a Script: its bursts key by key at its intervals, its pauses between bursts."""
        for bi, (burst, iv) in enumerate(zip(script.bursts, script.intervals)):
            if bi:
                self.pump(script.pauses[bi - 1])
            for ci, ch in enumerate(burst):
                if ci:
                    self.pump(iv[ci - 1])
                self.send(ch)
        self.pump(0.3)

    def close(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            self.pump(0.1)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        try:
            os.close(self.fd)
        except OSError:
            pass


# -- scripted, seeded typing -------------------------------------------------------------------

WORD_POOL = ("lorem ipsum dolor amet consectetur adipiscing elit sed eiusmod tempor incididunt labore "
             "dolore magna aliqua enim minim veniam quis nostrud exercitation ullamco laboris nisi aliquip "
             "commodo consequat duis aute irure reprehenderit voluptate velit esse cillum fugiat nulla "
             "pariatur excepteur sint occaecat cupidatat proident sunt culpa officia deserunt mollit anim "
             "laborum status config backup server network printer invoice payroll report deploy").split()


class Typist:
    """A human-like typist drawn from a seeded generator: log-normal intervals around its own
    median (150–230 ms) with its own spread, each clamped to 70–600 ms."""

    def __init__(self, rnd):
        self.rnd = rnd
        self.median = rnd.uniform(0.150, 0.230)
        self.sigma = rnd.uniform(0.25, 0.45)

    def interval(self):
        return min(0.6, max(0.07, self.rnd.lognormvariate(math.log(self.median), self.sigma)))


class Script:
    """What one typist types: bursts (a word and the space after it), the intervals between
    the keys of each burst, and the pauses between bursts (above farhand's 1 s burst gap)."""

    def __init__(self, bursts, intervals, pauses):
        self.bursts, self.intervals, self.pauses = bursts, intervals, pauses

    def flat(self):
        return [x for iv in self.intervals for x in iv]

    @property
    def text(self):
        return "".join(self.bursts)


def script_of(rnd, keys=45, words=None):
    """A Script of at least `keys` in-burst intervals (or of the given words), drawn from `rnd`."""
    t = Typist(rnd)
    if words is None:
        words = []
        while sum(len(w) for w in words) < keys:
            words.append(rnd.choice(WORD_POOL))
    bursts = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    intervals = [[t.interval() for _ in range(len(b) - 1)] for b in bursts]
    pauses = [rnd.uniform(1.15, 1.8) for _ in bursts[1:]]
    return Script(bursts, intervals, pauses)


def xdotool_typing(script):
    """One xdotool command line that types `script`: `key` then `sleep` per key, so a key press
    follows the previous one by the scripted interval plus xdotool's own sub-millisecond work."""
    out = []
    for bi, (burst, iv) in enumerate(zip(script.bursts, script.intervals)):
        if bi:
            out += ["sleep", f"{script.pauses[bi - 1]:.4f}"]
        for ci, ch in enumerate(burst):
            if ci:
                out += ["sleep", f"{iv[ci - 1]:.4f}"]
            out += ["key", "--delay", "0", "space" if ch == " " else ch]
    return out


# -- the endpoint's sockets: each session's 5-tuple as farhand on gw-ep sees it ----------------

def ep_conns(port, local):
    """Established TCP connections in the endpoint namespace whose local (`local`) or remote
    port is `port`, as alert 5-tuples: (client ip, client port, server ip, server port)."""
    filt = f"( sport = :{port} )" if local else f"( dport = :{port} )"
    out = subprocess.run(nsx(NS_EP, "ss", "-Htn", "state", "established", filt), capture_output=True,
                         text=True, timeout=10).stdout
    flows = set()
    for line in out.splitlines():
        cols = line.split()
        if len(cols) < 4:
            continue
        (lip, lport), (pip, pport) = (c.rsplit(":", 1) for c in cols[2:4])
        lip, pip = lip.strip("[]"), pip.strip("[]")
        flows.add((pip, int(pport), lip, int(lport)) if local else (lip, int(lport), pip, int(pport)))
    return flows


def wait_conns(port, local, before=frozenset(), timeout=20.0):
    """The connections to/from `port` not in `before`, once there is one."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        new = ep_conns(port, local) - set(before)
        if new:
            return sorted(new)
        time.sleep(0.2)
    raise RuntimeError(f"no new connection on port {port} in the endpoint namespace")


def wait_listening(ns, port, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = subprocess.run(nsx(ns, "ss", "-Hltn", f"sport = :{port}"), capture_output=True, text=True).stdout
        if out.strip():
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {ns} port {port}")


# -- one run's sessions --------------------------------------------------------------------------

class Run:
    """One relay variant, mode and delay: where to connect, the seeded generators, and what the
    sessions record (scripted intervals, 5-tuples, errors), shared by the session threads."""

    def __init__(self, work, relay, mode, delay, seed):
        self.work, self.relay, self.mode, self.delay, self.seed = work, relay, mode, delay, seed
        self.host = mode_env()["SSH_HOST"]
        self.scripted, self.flows, self.errors, self.extra = {}, {}, [], {}
        self.lock = threading.Lock()

    def rng(self, name):
        return random.Random(f"{self.seed}/{self.relay}/{self.mode}/{self.delay}/{name}")

    def addr(self, ep_port):
        return (self.host, relay_port(ep_port)) if self.mode == "terminating" else (self.host, ep_port)

    def record(self, **kw):
        with self.lock:
            for k, v in kw.items():
                getattr(self, k).update(v)


def ssh_setting_session(ctx, name):
    """One SSH setting: log in, type a script, idle (keepalives, if any), leave."""
    client, obfuscate, client_ka = SSH_SETTINGS[name]
    rnd = ctx.rng(name)
    script = script_of(rnd)
    host, port = ctx.addr(SSH_PORTS[name])
    p = Pty(nsx(NS_CTL, *ssh_cmd(ctx.work, host, port, client, obfuscate, client_ka)) + [remote_shell("lab$ ")])
    try:
        p.expect("lab$ ")
        ctx.record(flows={name: wait_conns(SSH_PORTS[name], True)})
        p.pump(1.5)
        p.type(script)
        p.send("\x15")  # ^U: discard the line
        p.pump(rnd.uniform(4.0, 6.0))
        p.send("exit\r")
    finally:
        p.close()
    ctx.record(scripted={name: script.flat()})


def idle_session(ctx, name="ssh_idle"):
    host, port = ctx.addr(SSH_PORTS[name])
    p = Pty(nsx(NS_CTL, *ssh_cmd(ctx.work, host, port)) + [remote_shell("idle$ ")])
    try:
        p.expect("idle$ ")
        ctx.record(flows={name: wait_conns(SSH_PORTS[name], True)})
        p.pump(8.0)
        p.send("exit\r")
    finally:
        p.close()


def corp_login(ctx, p, out_name):
    """From the endpoint's shell in `p`: an outbound SSH session to the corp sshd."""
    inner = " ".join(ssh_cmd(ctx.work, GW_EP_IP, CORP_PORTS[out_name])) + f' "{remote_shell("corp$ ")}"'
    p.send(inner + "\r")
    p.expect("corp$ ")
    ctx.record(flows={out_name: wait_conns(CORP_PORTS[out_name], False)})


def chain_session(ctx, name="ssh_chain"):
    """The stepping stone: typed, idle, then an outbound session to the corp sshd typed through."""
    rnd = ctx.rng(name)
    first, second = script_of(rnd, keys=38), script_of(rnd, keys=38)
    host, port = ctx.addr(SSH_PORTS[name])
    p = Pty(nsx(NS_CTL, *ssh_cmd(ctx.work, host, port)) + [remote_shell("lab$ ")])
    try:
        p.expect("lab$ ")
        ctx.record(flows={name: wait_conns(SSH_PORTS[name], True)})
        p.pump(1.5)
        p.type(first)
        p.send("\x15")
        p.pump(rnd.uniform(4.0, 6.0))
        corp_login(ctx, p, "ssh_chain_out")
        p.pump(1.5)
        p.type(second)
        p.send("\x15")
        p.pump(1.0)
        p.send("exit\r")
        p.expect("lab$ ")
        p.pump(0.5)
        p.send("exit\r")
    finally:
        p.close()
    ctx.record(scripted={name: first.flat() + second.flat()})


def short_chain_session(ctx, name="ssh_chain_short"):
    """A short stepping stone (~25 s): straight to the corp sshd, then 3–4 typing periods (one
    or two words and a ^U each) with pauses of 2–4 s."""
    rnd = ctx.rng(name)
    t = Typist(rnd)
    periods = []
    for _ in range(rnd.choice((3, 4))):
        text = " ".join(rnd.choice(WORD_POOL) for _ in range(rnd.choice((1, 2)))) + "\x15"
        periods.append((rnd.uniform(2.0, 4.0), text, [t.interval() for _ in text[1:]]))
    host, port = ctx.addr(SSH_PORTS[name])
    p = Pty(nsx(NS_CTL, *ssh_cmd(ctx.work, host, port)) + [remote_shell("lab$ ")])
    try:
        p.expect("lab$ ")
        ctx.record(flows={name: wait_conns(SSH_PORTS[name], True)})
        p.pump(rnd.uniform(0.8, 1.5))
        corp_login(ctx, p, "ssh_chain_short_out")
        for pause, text, iv in periods:
            p.pump(pause)
            for ci, ch in enumerate(text):
                if ci:
                    p.pump(iv[ci - 1])
                p.send(ch)
        p.pump(1.0)
        p.send("exit\r")
        p.expect("lab$ ")
        p.pump(0.3)
        p.send("exit\r")
    finally:
        p.close()
    ctx.record(scripted={name: [x for _, _, iv in periods for x in iv]})


def independent_sessions(ctx, name="ssh_indep", out_name="ssh_indep_out"):
    """The negative: the controller types into its inbound session while a second user on the
    endpoint types into the endpoint's own outbound session to the corp sshd, each with its own
    schedule, at the same time."""
    scripts = {name: script_of(ctx.rng(name)), out_name: script_of(ctx.rng(out_name))}
    starts = {name: ctx.rng(name + "/start").uniform(0.0, 2.0), out_name: ctx.rng(out_name + "/start").uniform(0.0, 2.0)}
    host, port = ctx.addr(SSH_PORTS[name])
    ptys = {name: Pty(nsx(NS_CTL, *ssh_cmd(ctx.work, host, port)) + [remote_shell("lab$ ")]),
            out_name: Pty(nsx(NS_EP, *ssh_cmd(ctx.work, GW_EP_IP, CORP_PORTS[out_name])) + [remote_shell("corp$ ")])}
    try:
        ptys[name].expect("lab$ ")
        ptys[out_name].expect("corp$ ")
        ctx.record(flows={name: wait_conns(SSH_PORTS[name], True), out_name: wait_conns(CORP_PORTS[out_name], False)})

        def typist(n):
            ptys[n].pump(1.0 + starts[n])
            ptys[n].type(scripts[n])
            ptys[n].send("\x15")
            ptys[n].pump(1.0)

        together([lambda: typist(name), lambda: typist(out_name)], stagger=0.0)
        for p in ptys.values():
            p.send("exit\r")
    finally:
        for p in ptys.values():
            p.close()
    ctx.record(scripted={n: s.flat() for n, s in scripts.items()})


def vnc_session(ctx, name):
    """x11vnc on an endpoint Xvfb (an xterm covering it), TigerVNC's viewer on a controller Xvfb,
    xdotool pressing keys in the viewer at the scripted intervals. vnc_shared also has a second,
    view-only viewer on its own display watching (vnc_watch)."""
    port, ep_disp, ctl_disp, encoding = VNC[name]
    script = script_of(ctx.rng(name), keys=38)
    work, d = ctx.work, Daemons()
    ep_env, ctl_env = dict(os.environ, DISPLAY=ep_disp), dict(os.environ, DISPLAY=ctl_disp)
    host, cport = ctx.addr(port)
    viewer_opts = ["-SecurityTypes", "None", "-AutoSelect=0"] + ([f"-PreferredEncoding={encoding}"] if encoding else [])
    try:
        d.start(nsx(NS_EP, "Xvfb", ep_disp, "-screen", "0", "800x600x24", "-nolisten", "tcp"), f"{work}/xvfb-{name}-ep.log")
        d.start(nsx(NS_CTL, "Xvfb", ctl_disp, "-screen", "0", "1024x768x24", "-nolisten", "tcp"),
                f"{work}/xvfb-{name}-ctl.log")
        if name == "vnc_shared":
            d.start(nsx(NS_CTL, "Xvfb", WATCH_DISPLAY, "-screen", "0", "1024x768x24", "-nolisten", "tcp"),
                    f"{work}/xvfb-vnc_watch-ctl.log")
        time.sleep(1.0)
        # The xterm covers the screen: with no window manager, keys go to the window under the
        # pointer, wherever the viewer puts it.
        d.start(nsx(NS_EP, "xterm", "-geometry", "140x50+0+0"), f"{work}/xterm-{name}.log", env=ep_env)
        d.start(nsx(NS_EP, "x11vnc", "-display", ep_disp, "-rfbport", str(port), "-forever", "-shared", "-nopw",
                    "-quiet", "-noxdamage"), f"{work}/x11vnc-{name}.log", env=ep_env)
        wait_listening(NS_EP, port)
        time.sleep(1.0)
        viewer = d.start(nsx(NS_CTL, "xtigervncviewer", *viewer_opts, f"{host}::{cport}"), f"{work}/viewer-{name}.log",
                         env=ctl_env)
        win = subprocess.run(nsx(NS_CTL, "xdotool", "search", "--sync", "--name", "TigerVNC"),
                             env=ctl_env, capture_output=True, text=True, timeout=25).stdout.split()
        if not win or viewer.poll() is not None:
            raise RuntimeError(f"{name}: no viewer window: " + open(f"{work}/viewer-{name}.log").read()[-500:])
        mine = wait_conns(port, True)
        ctx.record(flows={name: mine})
        if name == "vnc_shared":
            watch_env = dict(os.environ, DISPLAY=WATCH_DISPLAY)
            watcher = d.start(nsx(NS_CTL, "xtigervncviewer", *viewer_opts, "-ViewOnly", f"{host}::{cport}"),
                              f"{work}/viewer-vnc_watch.log", env=watch_env)
            subprocess.run(nsx(NS_CTL, "xdotool", "search", "--sync", "--name", "TigerVNC"), env=watch_env,
                           capture_output=True, text=True, timeout=25)
            if watcher.poll() is not None:
                raise RuntimeError("vnc_watch: viewer exited: " + open(f"{work}/viewer-vnc_watch.log").read()[-500:])
            ctx.record(flows={"vnc_watch": wait_conns(port, True, before=mine)})
        time.sleep(2.0)
        run(nsx(NS_CTL, "xdotool", "windowfocus", "--sync", win[0]), env=ctl_env, timeout=20)
        time.sleep(0.5)
        run(nsx(NS_CTL, "xdotool", *xdotool_typing(script)), env=ctl_env, timeout=180)
        time.sleep(2.0)
    finally:
        d.stop()
    ctx.record(scripted={name: script.flat()})


def rdp_session(ctx, name="rdp"):
    """freerdp-shadow-cli3 (TLS security, no authentication) shares the endpoint's Xvfb, where an
    xterm covers the screen and saves what is typed into it to `rdp-typed.txt` (a cat with the
    terminal non-canonical, so each key lands at once and is echoed on screen); xfreerdp3 on the
    controller's Xvfb connects (GFX pipeline, 640x480: the server streams frames continuously,
    and the screen size sets their bandwidth); xdotool presses keys in the client window at
    scripted intervals. Stops the RDP programs (client first)."""
    rnd = ctx.rng(name)
    script = script_of(rnd, words=[rnd.choice(WORD_POOL) for _ in range(6)])
    work = ctx.work
    typed = os.path.join(work, "rdp-typed.txt")
    if os.path.exists(typed):
        os.unlink(typed)
    ep_env, ctl_env = dict(os.environ, DISPLAY=":73"), dict(os.environ, DISPLAY=":74")
    host, port = ctx.addr(RDP_PORT)
    d = Daemons()
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
        ctx.record(flows={name: wait_conns(RDP_PORT, True)})
        run(nsx(NS_CTL, "xdotool", "windowfocus", "--sync", win[0]), env=ctl_env, timeout=20)
        time.sleep(0.5)
        run(nsx(NS_CTL, "xdotool", *xdotool_typing(script)), env=ctl_env, timeout=120)
        time.sleep(2.0)
    finally:
        d.stop()
    ctx.record(scripted={name: script.flat()}, extra={"rdp_expected": script.text})


def together(fns, stagger=0.3):
    """Runs `fns` at the same time (one thread each), staggered by `stagger` s; re-raises the
    first exception after all have ended."""
    errors = []

    def wrap(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - reported after the others end
            errors.append(e)

    threads = []
    for fn in fns:
        t = threading.Thread(target=wrap, args=(fn,), daemon=True)
        t.start()
        threads.append(t)
        time.sleep(stagger)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def phases(kinds, sequential):
    """The sessions of a run as (label, [session functions]) phases, one after the other; a
    phase's sessions run at the same time. The SSH settings, VNC and RDP do not disturb one
    another (no outbound flow exists while they run, and farhand's figures are per flow); each
    stepping stone and the negative run alone."""
    sessions = []
    if "ssh" in kinds:
        sessions += [(n, lambda c, n=n: ssh_setting_session(c, n)) for n in SSH_SETTINGS] + [("ssh_idle", idle_session)]
    if "vnc" in kinds:
        sessions += [(n, lambda c, n=n: vnc_session(c, n)) for n in VNC]
    if "rdp" in kinds:
        sessions += [("rdp", rdp_session)]
    alone = []
    if "ssh" in kinds:
        alone = [("ssh_chain", chain_session), ("ssh_chain_short", short_chain_session),
                 ("ssh_indep", independent_sessions)]
    if sequential:
        return [(n, [f]) for n, f in sessions + alone]
    return ([("settings: " + ", ".join(n for n, _ in sessions), [f for _, f in sessions])] if sessions else []) + \
        [(n, [f]) for n, f in alone]


def relay_seed(seed, relay, mode, delay):
    return int(hashlib.sha256(f"{seed}/{relay}/{mode}/{delay}/relay".encode()).hexdigest()[:12], 16)


def one_run(args, relay, mode, delay, work):
    started = time.monotonic()
    log(f"relay {relay}, mode {mode}, added delay {delay} ms")
    topology("down")
    env = {"FHLAB_RELAY_BIN": args.relay, "FHLAB_RELAY_SEED": str(relay_seed(args.seed, relay, mode, delay))}
    if relay in ("jitter", "jitter20"):
        # jitter20's figure is the round trip's (the unit of the added delay): half of it per hold
        env.update(FHLAB_JITTER_MS=str(args.jitter_ms if relay == "jitter" else args.wide_jitter_ms // 2),
                   FHLAB_DROP_PCT=str(args.drop_pct),
                   FHLAB_REORDER_PCT=str(args.reorder_pct))
    topology("up", mode, str(delay), env=env)
    ctx = Run(work, relay, mode, delay, args.seed)
    d = Daemons()
    tag = f"{relay}-{mode}-{delay}"
    alerts_path = os.path.join(work, f"alerts-{tag}.json")
    cfg = os.path.join(work, "farhand.toml")
    with open(cfg, "w") as f:
        f.write(LAB_CONFIG)
    try:
        os.makedirs("/run/sshd", exist_ok=True)
        ka = [p for n, p in SSH_PORTS.items() if n not in NOKA]
        noka = [SSH_PORTS[n] for n in NOKA]
        d.start(nsx(NS_EP, "/usr/sbin/sshd", "-D", "-e", "-f", sshd_config(work, ka, "ep")), f"{work}/sshd-ep.log")
        d.start(nsx(NS_EP, "/usr/sbin/sshd", "-D", "-e", "-f", sshd_config(work, noka, "ep-noka", client_alive=False)),
                f"{work}/sshd-ep-noka.log")
        d.start(nsx(NS_GW, "/usr/sbin/sshd", "-D", "-e", "-f", sshd_config(work, sorted(CORP_PORTS.values()), "corp")),
                f"{work}/sshd-corp.log")
        for p in ka + noka:
            wait_listening(NS_EP, p)
        if args.pcap:
            d.start(nsx(NS_GW, "tcpdump", "-i", ENV["GW_EP_IF"], "-n", "-s", "0", "-U", "-w",
                        os.path.join(args.pcap, f"gw-ep-{tag}.pcap")), f"{work}/tcpdump-{tag}.log")
        # No -q: the summary line (packets read, and the eBPF capture's kernel counters) goes
        # to the log, read back by capture_summary().
        fh = d.start(nsx(NS_GW, args.farhand, "-i", ENV["GW_EP_IF"], "--capture", args.capture, "-c", cfg,
                         "-o", alerts_path), f"{work}/farhand-{tag}.log")
        time.sleep(1.5)
        for label, fns in phases(args.sessions, args.sequential):
            t0 = time.monotonic()
            try:
                together([lambda f=f: f(ctx) for f in fns])
            except Exception as e:  # noqa: BLE001 - the run goes on; the missing rows fail
                log(f"  {label}: ERROR {e}")
                ctx.errors.append(f"{label}: {e}"[:400])
            log(f"  {label}: {time.monotonic() - t0:.0f} s")
            time.sleep(1.0)
        if args.bulk_mb:
            ctx.extra["bulk"] = bulk_transfer(fh.pid, args.bulk_mb, work)
            log(f"  bulk: {ctx.extra['bulk']}")
        # Stop what is left (sshds, tcpdump) first, then farhand.
        for p in reversed(d.procs):
            if p is not fh and p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        time.sleep(2.5)
        os.killpg(fh.pid, signal.SIGINT)
        t0 = time.monotonic()
        try:
            ctx.extra["farhand_exit"] = fh.wait(timeout=20)
        except subprocess.TimeoutExpired:
            ctx.extra["farhand_exit"] = "still running 20 s after SIGINT"
        log(f"  farhand: exit {ctx.extra['farhand_exit']} {time.monotonic() - t0:.1f} s after SIGINT")
    finally:
        d.stop()
        if not args.keep:
            topology("down")
    r = summarise(alerts_of(alerts_path), relay, mode, delay, ctx.scripted, ctx.flows)
    r.update(ctx.extra)
    if "rdp" in args.sessions:
        r["rdp_typed"] = rdp_typed(work)
    r.setdefault("farhand_exit", None)
    r["farhand_panic"] = panic_line(f"{work}/farhand-{tag}.log")
    r["capture"] = dict(capture_summary(f"{work}/farhand-{tag}.log"), mode=args.capture)
    r["session_errors"] = ctx.errors
    r["wall_s"] = round(time.monotonic() - started, 1)
    log(f"  run took {r['wall_s']:.0f} s")
    return r


BULK_SINK = r"""
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], 5201)); l.listen(1)
print("ready", flush=True)
c, _ = l.accept()
n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n, flush=True)
"""

BULK_SOURCE = r"""
import socket, sys, time
left = int(sys.argv[2]) * 1000 * 1000
s = socket.create_connection((sys.argv[1], 5201))
chunk = b"\xa5" * (1 << 20)
t0 = time.monotonic()
while left > 0:
    left -= s.send(chunk[:min(left, len(chunk))])
s.close()
print(round(time.monotonic() - t0, 3))
"""

METRICS_SCRAPE = r"""
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9750/metrics", timeout=5).read().decode())
"""


def cpu_seconds(pid):
    """User + system CPU time of a process so far (from /proc), or None."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def scrape_packets():
    """farhand's packets read (userspace) and, with the eBPF capture, the kernel's packets
    seen, from its metrics endpoint in the gateway namespace."""
    try:
        text = subprocess.run(nsx(NS_GW, "python3", "-c", METRICS_SCRAPE), capture_output=True, text=True,
                              timeout=10).stdout
    except subprocess.TimeoutExpired:
        return None, None
    user = kernel = None
    for line in text.splitlines():
        if line.startswith("farhand_packets_total "):
            user = float(line.split()[-1])
        elif line.startswith('farhand_ebpf_total{counter="packets"}'):
            kernel = float(line.split()[-1])
    return user, kernel


def host_cpu_seconds():
    """CPU seconds all cores spent busy so far (/proc/stat: everything but idle and iowait):
    the kernel's share of a capture (softirq, the eBPF program, AF_PACKET copies) included."""
    try:
        f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def bpf_run_ns():
    """Total run time of farhand's kernel programs (kernel.bpf_stats_enabled), or None."""
    try:
        out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True, timeout=10).stdout
        progs = json.loads(out or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    runs = [p.get("run_time_ns") for p in progs if p.get("name") in ("fh_ingress", "fh_egress")]
    return sum(r for r in runs if r) if runs else None


def bulk_transfer(fh_pid, mb, work):
    """MB megabytes from the endpoint to the gateway over one TCP connection across the
    captured interface, with farhand's CPU time and the packets it read meanwhile."""
    sink = subprocess.Popen(nsx(NS_GW, "python3", "-c", BULK_SINK, ENV["GW_EP_IP"]), stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        if sink.stdout.readline().strip() != "ready":
            return {"error": "bulk sink did not start"}
        time.sleep(1.5)  # a publish tick: the counters below are current
        user0, kernel0 = scrape_packets()
        stats = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        bpf0 = bpf_run_ns()
        cpu0, host0 = cpu_seconds(fh_pid), host_cpu_seconds()
        t0 = time.monotonic()
        src = subprocess.run(nsx(NS_EP, "python3", "-c", BULK_SOURCE, ENV["GW_EP_IP"], str(mb)),
                             capture_output=True, text=True, timeout=600)
        received = int(sink.stdout.readline().strip() or 0)
        wall = time.monotonic() - t0
        host1, bpf1 = host_cpu_seconds(), bpf_run_ns()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats)
        time.sleep(2.0)  # farhand catches up and publishes
        cpu1 = cpu_seconds(fh_pid)
        user1, kernel1 = scrape_packets()
    finally:
        if sink.poll() is None:
            os.killpg(sink.pid, signal.SIGTERM)
        sink.wait()
    gbit = received * 8 / 1e9
    out = {"mb": mb, "received_bytes": received, "send_s": float(src.stdout.strip() or 0), "wall_s": round(wall, 2),
           "gbit": round(gbit, 3)}
    if cpu0 is not None and cpu1 is not None:
        out["farhand_cpu_s"] = round(cpu1 - cpu0, 3)
        out["farhand_cpu_s_per_gbit"] = round((cpu1 - cpu0) / gbit, 4) if gbit else None
    if host0 is not None and host1 is not None:
        out["host_cpu_s"] = round(host1 - host0, 3)
        out["host_cpu_s_per_gbit"] = round((host1 - host0) / gbit, 4) if gbit else None
    if bpf0 is not None and bpf1 is not None:
        out["ebpf_program_s"] = round((bpf1 - bpf0) / 1e9, 4)
    if user0 is not None and user1 is not None:
        out["userspace_packets"] = int(user1 - user0)
    if kernel0 is not None and kernel1 is not None:
        out["kernel_packets"] = int(kernel1 - kernel0)
    return out


def capture_summary(path):
    """From farhand's summary line: packets it read, and the eBPF kernel counters."""
    out = {}
    try:
        text = open(path, errors="replace").read()
    except OSError:
        return out
    m = re.search(r"farhand: interface \S+: ([\d,]+) packets", text)
    if m:
        out["userspace_packets"] = int(m.group(1).replace(",", ""))
    k = re.search(r"kernel: (.*)", text)
    if k:
        for part in k.group(1).split(", "):
            name, _, v = part.rpartition(" ")
            if v.replace(",", "").isdigit():
                out["kernel_" + name.replace(" ", "_")] = int(v.replace(",", ""))
    return out


def rdp_typed(work):
    """What reached the endpoint's xterm in the RDP session (None: nothing)."""
    try:
        return open(os.path.join(work, "rdp-typed.txt")).read()
    except OSError:
        return None


def alerts_of(path):
    out = []
    try:
        for line in open(path):
            line = line.strip()
            if line:
                out.append(json.loads(line))
    except OSError:
        pass
    return out


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


def fig(a):
    """A session alert's figures (labcheck.py's row)."""
    f = a["unmapped"]["farhand"]
    b = f.get("behaviour") or {}
    tr = (b.get("transport_rtt_ms") or {}).get("peer_leg") or {}
    tr_est = (b.get("transport_rtt_estimate") or {}).get("peer_leg") or {}
    app = b.get("app_rtt_far_ms") or {}
    est = b.get("app_rtt_far_estimate") or {}
    gap = b.get("gap") or {}
    k = b.get("keystrokes") or {}
    return {
        "flow": _flow(a), "first_seen": f["first_seen"], "last_seen": f["last_seen"],
        "transport_min_ms": tr.get("min_ms"), "transport_n": tr.get("n"),
        # the path figure the gap subtracts (where the samples agree when the far-leg figure lies
        # in their window, else the smallest); without a gap, the smallest
        "transport_ms": gap.get("transport_ms", tr.get("min_ms")) if gap else tr.get("min_ms"),
        "transport_agreed_ms": tr_est.get("ms"),
        "app_p10_ms": app.get("p10_ms"), "app_p50_ms": app.get("p50_ms"), "app_n": app.get("n"),
        "far_ms": est.get("ms"), "far_agreeing": est.get("agreeing"), "far_of": est.get("of"),
        "far_spread_ms": est.get("spread_ms"), "far_status": est.get("status"),
        "gap_ms": gap.get("gap_ms"), "relayed": gap.get("relayed"),
        "alternatives_ms": b.get("app_rtt_far_alternatives_ms"),
        "iki_median_ms": k.get("iki_median_ms"), "keys": k.get("keys"), "rhythm": k.get("rhythm"),
        "chained": (b.get("chain") or {}).get("chained"),
        "duration_ms": f["duration_ms"], "id": a["finding_info"]["uid"],
        "packets_in": f.get("packets_in"),
    }


def summarise(alerts, relay, mode, delay, scripted, flows):
    """Per session: the figures of the remote_control_session alert whose 5-tuple the session
    recorded from the endpoint's sockets (the busiest, should several match); the
    relayed_remote_control and interactive_relay_chain alerts with theirs (labcheck.py's
    input). An alert reported more than once (same id) counts once, as last reported."""
    uniq = {}
    for a in alerts:
        uniq[(a["unmapped"]["farhand"]["kind"], a["finding_info"]["uid"])] = a
    alerts = list(uniq.values())
    by_kind = {}
    for a in alerts:
        by_kind.setdefault(a["unmapped"]["farhand"]["kind"], []).append(a)
    by_flow = {}
    for a in by_kind.get("remote_control_session", []):
        by_flow.setdefault(tuple(_flow(a)), []).append(a)
    rows = {}
    for name, fl in flows.items():
        cands = [a for f in fl for a in by_flow.get(tuple(f), [])]
        if cands:
            rows[name] = fig(max(cands, key=lambda a: a["unmapped"]["farhand"].get("packets_in") or 0))
    for name, iv in scripted.items():
        if name in rows and iv:
            rows[name]["scripted_iki_median_ms"] = round(statistics.median(iv) * 1000, 1)
    relayed = by_kind.get("relayed_remote_control", [])
    chain = by_kind.get("interactive_relay_chain", [])
    return {"relay": relay, "mode": mode, "delay_ms": delay, "rows": rows,
            "session_flows": {n: [list(f) for f in fl] for n, fl in flows.items()},
            "relayed_alerts": [{"tool": a["unmapped"]["farhand"]["tool"], "flow": _flow(a),
                                "uid": a["finding_info"]["uid"]} for a in relayed],
            "chain_alerts": [{"tool": a["unmapped"]["farhand"]["tool"], "flow": _flow(a),
                              "driver": ((a["unmapped"]["farhand"].get("behaviour") or {}).get("chain") or {})
                              .get("driver"), "first_seen": a["unmapped"]["farhand"]["first_seen"],
                              "uid": a["finding_info"]["uid"]} for a in chain],
            "alert_kinds": sorted(by_kind)}


def _cell(v):
    return "–" if v is None else f"{v}"


def write_md(results, assertions, path, meta):
    """LAB.md: how the run was made, the sessions, farhand's figures, the alerts per run and
    the assertion lines. `meta`: seed, command, sessions, jitter settings, versions, wall time."""
    sessions = meta["sessions"]
    L = ["# Lab: timing signals on real software", "",
         "Generated by `tests/lab/run.py` (CI runs its `--slice ci` through `scripts/test.sh` and compares the "
         "slice's assertion lines with the lines of the same runs below). Controller — relay — gateway — "
         "endpoint in network namespaces; farhand captures live on the gateway's endpoint-facing interface, so "
         "the visible peer is the relay (terminating mode: `farhand-lab-relay tcp`, a jump host) or the "
         "controller itself (forwarding mode: `farhand-lab-relay bridge`, an L2 path that delays every frame). "
         f"Relay variants: `plain` (the fixed added delay), `jitter` (each hold moves uniformly within "
         f"±{meta['jitter_ms']} ms, order kept; the bridge also drops {meta['drop_pct']} % and reorders "
         f"{meta['reorder_pct']} % of the frames in each direction, so TCP retransmits) and `jitter20` (the "
         f"same with the round trip it adds moving within ±{meta.get('wide_jitter_ms', 20)} ms, the unit of its "
         f"delay: holds within ±{meta.get('wide_jitter_ms', 20) // 2} ms).", "",
         f"Command: `{meta['command']}`. Seed: **{meta['seed']}** (`--seed {meta['seed']}` draws the same typing "
         f"schedules and relay disturbances). {len(results)} runs in {meta['wall_s']:.0f} s"
         f"{'' if not meta.get('sequential') else ', every session alone'}. Versions: {meta['versions']}.", "",
         "Typing is drawn from the seed for every session of every run: each typist has its own median "
         "(150–230 ms) and spread (log-normal, each interval clamped to 70–600 ms), words from a list, pauses "
         "between words of 1.15–1.8 s. The SSH settings, the VNC sessions and RDP run at the same time (each "
         "its own endpoint port, display and server; farhand's figures are per flow, and no outbound flow exists "
         "then); each stepping stone and the negative run alone. Every session's 5-tuple is read from the "
         "endpoint's sockets while it runs, and farhand's alerts are matched to sessions by it.", "",
         "| session | what |", "|---|---|"]
    L += [f"| {s.name} | {s.what} |" for s in specs_for(sessions)]
    L += ["", "Figures are farhand's own alert fields (milliseconds): transport RTT to the visible peer "
          "(smallest / where its samples agree — the figure the gap subtracts, or – when too few agree —, "
          "samples), far-leg application RTT (10th percentile / median, samples), the far-leg "
          "estimate (`app_rtt_far_estimate`: figure, agreeing/of, status; – where the binary has none), the gap, "
          "and the keystroke IKI median against the scripted one.", "",
          "| run | session | transport RTT min / agreed (n) | app RTT p10 / p50 (n) | far estimate | gap | relayed | "
          "IKI median (scripted) | rhythm |",
          "|---|---|---|---|---|---|---|---|---|"]
    order = [s.name for s in specs_for(sessions)]
    for r in results:
        for name in order:
            row = r["rows"].get(name)
            if not row:
                L.append(f"| {run_prefix(r)} | {name} | no session alert | | | | | | |")
                continue
            iki = _cell(row.get("iki_median_ms"))
            if row.get("scripted_iki_median_ms"):
                iki += f" ({row['scripted_iki_median_ms']})"
            app = f"{row.get('app_p10_ms')} / {row.get('app_p50_ms')} ({row.get('app_n')})"
            if row.get("alternatives_ms"):
                alts = row["alternatives_ms"]
                app += "; also fits " + ", ".join(map(str, alts[:3])) + (" …" if len(alts) > 3 else "")
            far = "–"
            if row.get("far_status"):
                far = f"{_cell(row.get('far_ms'))} ({_cell(row.get('far_agreeing'))}/{_cell(row.get('far_of'))}, " \
                      f"{row['far_status']})"
            agreed = _cell(row.get("transport_agreed_ms"))
            L.append(f"| {run_prefix(r)} | {name} | {row.get('transport_min_ms')} / {agreed} ({row.get('transport_n')}) | "
                     f"{app} | "
                     f"{far} | {row.get('gap_ms')} | {'yes' if row.get('relayed') else 'no'} | {iki} | "
                     f"{row.get('rhythm') or '–'} |")
    if "rdp" in sessions:
        L += ["", "RDP typing reached the endpoint's xterm: " + ", ".join(
            f"{run_prefix(r)} {'yes' if r.get('rdp_typed') == r.get('rdp_expected') else 'NO'}" for r in results)]
        L += ["", "RDP's far-leg RTT is read from TLS record sizes and times: each graphics-frame "
              "acknowledgement votes for the time since every recent burst of server records, and the "
              "figure is the smallest delay nearly all acknowledgements share. FreeRDP's shadow server "
              "streams frames all the time; when its stream is strictly periodic, delays a whole number "
              "of periods apart fit equally well (\"also fits\"): farhand reports the smallest (a gap that "
              "can only be too low, so no false alert) and lists the others; the lab counts a figure off the "
              "added delay as a failure all the same. A transport RTT on the far "
              "leg rules out what is below it (forwarding mode)."]
    L += ["", "Alerts per run (sessions matched by 5-tuple; farhand's exit status after SIGINT; wall time):", ""]
    for r in results:
        rows = r["rows"]
        names = {tuple(row["flow"]): n for n, row in rows.items() if row.get("flow")}
        rel = [names.get(tuple(x["flow"]), f"unmatched {x['flow']}") for x in r["relayed_alerts"]]
        ch = [f"{names.get(tuple(x['flow']), 'unmatched ' + str(x['flow']))} driven from {x.get('driver')}"
              for x in r["chain_alerts"]]
        errs = r.get("session_errors") or []
        L.append(f"- {run_prefix(r)}: relayed_remote_control on {', '.join(rel) or 'none'}; "
                 f"interactive_relay_chain on {', '.join(ch) or 'none'}; kinds {', '.join(r['alert_kinds'])}; "
                 f"farhand exit {r.get('farhand_exit')}{'; PANIC' if r.get('farhand_panic') else ''}"
                 f"{'; session errors: ' + ' | '.join(errs) if errs else ''}; {r.get('wall_s', 0):.0f} s")
    held = sum(x.ok for x in assertions)
    L += ["", "## Assertions", "",
          f"Every assertion checked, one a line ({held} of {len(assertions)} held); the lines do not depend on the "
          "measured figures, and `run.py --expect-assertions LAB.md` fails when a run's lines differ from the "
          "committed ones (with `--slice`, from the committed lines of the slice's runs). Tolerances: gap "
          f"(terminating) and smallest transport RTT (forwarding) ± {TOLERANCE_MS:g} ms of "
          f"the added delay after the plain relay's 0 ms run of the same mode, ± {JITTER_TOLERANCE_MS:g} ms behind "
          f"either jitter relay; |gap| <= {TOLERANCE_MS:g} ms at 0 ms ({JITTER_TOLERANCE_MS:g} ms with jitter); "
          f"direct sessions' |gap| <= {FORWARDING_GAP_MS:g} ms; IKI median ± {IKI_TOLERANCE * 100:g} % of the "
          "scripted one behind every relay (every typed "
          "configuration but the obfuscated one, whose packets keep a 20 ms cadence); relayed_remote_control "
          f"required on every typed session behind the terminating relay beyond farhand's {GAP_THRESHOLD_MS:g} ms "
          "gap threshold, forbidden at 0 ms, in forwarding mode, on idle or watching sessions and on any other "
          "flow; interactive_relay_chain on each stepping stone's outbound flow, driven from its inbound session, "
          "and on no other flow — not on the negative's, typed independently.", ""]
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


def plan(args):
    """The runs, as (relay, mode, delay): the slice's, or relays × modes × delays."""
    if args.slice == "ci":
        return list(CI_SLICE)
    return [(relay, mode, int(delay)) for relay in args.relays.split(",") for mode in args.modes.split(",")
            for delay in args.delays.split(",")]


def versions():
    out = []
    for label, cmd in (("OpenSSH", ["ssh", "-V"]), ("OpenSSH 9.2", [OPENSSH92, "-V"])):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            out.append((p.stderr or p.stdout).split(",")[0].strip())
        except OSError:
            out.append(f"{label}: missing")
    for pkg in ("x11vnc", "tigervnc-viewer", "freerdp3-x11"):
        v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True).stdout
        out.append(f"{pkg} {v or 'missing'}")
    return ", ".join(out)


def parse_args(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--farhand", default=os.path.join(ROOT, "target", "release", "farhand"))
    ap.add_argument("--relay", default=os.path.join(ROOT, "target", "release", "farhand-lab-relay"))
    ap.add_argument("--slice", choices=("ci",), default=None,
                    help="the representative slice CI runs (every configuration once; instead of --relays/--modes/--delays)")
    ap.add_argument("--relays", default=None,
                    help="relay variants: plain, jitter, jitter20 (default all three: the full matrix)")
    ap.add_argument("--delays", default=None, help="added delays in ms (default 0,60,120,200)")
    ap.add_argument("--modes", default=None, help="relay modes (default terminating,forwarding)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the typing schedules and relay draws (default: random)")
    ap.add_argument("--jitter-ms", type=int, default=5, help="the jitter relay: each hold within ± this (default 5)")
    ap.add_argument("--wide-jitter-ms", type=int, default=20,
                    help="the jitter20 relay: the round trip it adds moves within ± this, each hold within ± half "
                         "of it (default 20)")
    ap.add_argument("--drop-pct", type=float, default=1.0, help="the jitter relay, forwarding: frames dropped (default 1)")
    ap.add_argument("--reorder-pct", type=float, default=1.0,
                    help="the jitter relay, forwarding: frames reordered (default 1)")
    ap.add_argument("--sequential", action="store_true", help="every session alone, one after the other")
    ap.add_argument("--capture", choices=("pcap", "ebpf"), default="pcap",
                    help="farhand's live capture (default pcap; ebpf needs scripts/build-ebpf.sh before the build)")
    ap.add_argument("--bulk-mb", type=int, default=0, metavar="MB",
                    help="after the sessions, a bulk TCP transfer of MB megabytes across the captured interface, "
                         "with farhand's CPU time and the packets it read (default 0: none)")
    ap.add_argument("--out", default=os.path.join(ROOT, "LAB.md"))
    ap.add_argument("--json", default="", help="also write the run's results (labcheck.py's input) as JSON")
    ap.add_argument("--sessions", default=",".join(SESSION_KINDS),
                    help="session kinds to run and check: ssh (every SSH setting, stepping stones, the negative), "
                         "vnc, rdp")
    ap.add_argument("--pcap", default="", metavar="DIR",
                    help="also capture gw-ep with tcpdump: DIR/gw-ep-RELAY-MODE-DELAY.pcap")
    ap.add_argument("--expect-assertions", default="", metavar="LAB.md",
                    help="fail unless this run's assertion lines are exactly those of the file's '## Assertions' "
                         "section (with --slice: those of the slice's runs; read before --out is written, so it "
                         "may be the same file)")
    ap.add_argument("--keep", action="store_true", help="leave the last topology up")
    ap.add_argument("--replay", default="", metavar="DIR",
                    help="no live run: replay the captures of an earlier run made with --pcap DIR --json DIR/r.json "
                         "through this farhand (-r, the lab's configuration), re-derive its figures with the "
                         "sessions' recorded 5-tuples and scripted medians, and check them (no root needed)")
    args = ap.parse_args(argv)
    if args.slice and any(x is not None for x in (args.relays, args.modes, args.delays)):
        ap.error("--slice picks the runs itself: no --relays, --modes or --delays with it")
    args.relays = args.relays or ",".join(MATRIX_RELAYS)
    args.modes = args.modes or "terminating,forwarding"
    args.delays = args.delays or "0,60,120,200"
    bad = [x for x in args.relays.split(",") if x not in RELAYS] + \
        [x for x in args.modes.split(",") if x not in ("terminating", "forwarding")]
    if bad:
        ap.error(f"unknown relay variant or mode: {bad}")
    try:
        [int(x) for x in args.delays.split(",")]
    except ValueError:
        ap.error(f"--delays: whole milliseconds, not {args.delays!r}")
    args.sessions = [k for k in args.sessions.split(",") if k]
    bad = [k for k in args.sessions if k not in SESSION_KINDS]
    if bad or not args.sessions:
        ap.error(f"--sessions: choose from {','.join(SESSION_KINDS)}, not {bad or 'nothing'}")
    return args


LAB_CONFIG = f'[sensor]\nworkers = 2\nhome_networks = ["{EP_IP}/32"]\n[flow]\ntcp_close_linger = 1\n'


def replay(args, work):
    """The results of the earlier run in `args.replay` (its r.json and gw-ep captures), re-derived
    from this farhand's alerts on those captures. What only the live run knows (farhand's exit
    after SIGINT, its log, the sessions' scripts, RDP's typed text) is kept from it, with this
    replay's own exit status and panic check added to it."""
    rec = json.load(open(os.path.join(args.replay, "r.json")))
    cfg = os.path.join(work, "farhand.toml")
    with open(cfg, "w") as f:
        f.write(LAB_CONFIG)
    out = []
    for old in rec["results"]:
        tag = f"{old['relay']}-{old['mode']}-{old['delay_ms']}"
        pcap = os.path.join(args.replay, f"gw-ep-{tag}.pcap")
        alerts = os.path.join(work, f"alerts-{tag}.json")
        log(f"replay {pcap}")
        with open(os.path.join(work, f"farhand-{tag}.log"), "w") as lf:
            code = subprocess.run([args.farhand, "-q", "-r", pcap, "-c", cfg, "-o", alerts], stdout=lf,
                                  stderr=subprocess.STDOUT, timeout=600).returncode
        scripted = {n: [row["scripted_iki_median_ms"] / 1000]
                    for n, row in old["rows"].items() if row.get("scripted_iki_median_ms") is not None}
        flows = {n: [tuple(f) for f in fl] for n, fl in old["session_flows"].items()}
        r = summarise(alerts_of(alerts), old["relay"], old["mode"], old["delay_ms"], scripted, flows)
        for k, v in old.items():
            r.setdefault(k, v)  # what summarise does not derive: the live run's own facts
        if code != 0:
            r["farhand_exit"] = f"replay exited {code}"
        r["farhand_panic"] = old.get("farhand_panic") or panic_line(os.path.join(work, f"farhand-{tag}.log"))
        out.append(r)
    return rec, out


def main():
    args = parse_args()
    if args.replay:
        return main_replay(args)
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
    if "ssh" in args.sessions and (ssh_version() < 9.5 or not 9.2 <= ssh_version(OPENSSH92) < 9.3):
        print(f"lab: needs OpenSSH >= 9.5 as ssh and OpenSSH 9.2 at {OPENSSH92}: run tests/lab/deps.sh",
              file=sys.stderr)
        return 2
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    runs = plan(args)
    log(f"seed {args.seed} (--seed {args.seed} repeats this run's typing and relay draws); {len(runs)} runs: "
        + ", ".join(run_prefix({"relay": r, "mode": m, "delay_ms": d}) for r, m, d in runs))
    if args.pcap:
        os.makedirs(args.pcap, exist_ok=True)
    work = tempfile.mkdtemp(prefix="fhlab-")
    os.chmod(work, 0o755)
    ssh_keys(work)
    results = []
    started = time.monotonic()
    try:
        for relay, mode, delay in runs:
            results.append(one_run(args, relay, mode, delay, work))
    finally:
        if not args.keep:
            topology("down")
    wall = time.monotonic() - started
    assertions = check(results, args.sessions)
    command = "tests/lab/run.py " + " ".join(a for a in sys.argv[1:])
    meta = {"seed": args.seed, "sessions": args.sessions, "command": command.strip(), "wall_s": wall,
            "jitter_ms": args.jitter_ms, "wide_jitter_ms": args.wide_jitter_ms, "drop_pct": args.drop_pct,
            "reorder_pct": args.reorder_pct, "sequential": args.sequential, "versions": versions()}
    write_md(results, assertions, args.out, meta)
    if args.json:
        json.dump({"sessions": args.sessions, "seed": args.seed, "slice": args.slice,
                   "jitter": {"jitter_ms": args.jitter_ms, "wide_jitter_ms": args.wide_jitter_ms,
                              "drop_pct": args.drop_pct, "reorder_pct": args.reorder_pct},
                   "wall_s": round(wall, 1), "results": results}, open(args.json, "w"), indent=1)
    fails = failures(assertions)
    if expected is not None:
        prefixes = [run_prefix(r) for r in results] if args.slice else None
        fails += compare_assertions(assertion_lines(assertions), expected, args.expect_assertions, prefixes)
    for f in fails:
        print("FAIL", f)
    log(f"seed {args.seed}: {len(results)} runs in {wall:.0f} s, {len(assertions)} assertions, "
        f"{len(fails)} failures; table in {args.out}")
    return 1 if fails else 0


def main_replay(args):
    """--replay DIR: LAB.md (and --json) from an earlier run's captures and this farhand."""
    if not os.access(args.farhand, os.X_OK):
        print(f"lab: {args.farhand} missing: build it first (cargo build --release --workspace)", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="fhlab-replay-")
    try:
        rec, results = replay(args, work)
    except (OSError, KeyError, ValueError, subprocess.TimeoutExpired) as e:
        print(f"lab: --replay {args.replay}: {e}", file=sys.stderr)
        return 2
    sessions = rec.get("sessions") or args.sessions
    assertions = check(results, sessions)
    jit = rec.get("jitter") or {}
    meta = {"seed": rec.get("seed"), "sessions": sessions, "wall_s": rec.get("wall_s") or 0,
            "command": ("tests/lab/run.py " + " ".join(sys.argv[1:])).strip() + " — replaying the captures of the "
                       f"live run `tests/lab/run.py --pcap DIR --json DIR/r.json` of seed {rec.get('seed')} (farhand "
                       "capturing live): figures and assertions from this build's alerts on those captures (`farhand -r`, "
                       "the lab's configuration); farhand's exit after SIGINT, its log and the sessions' scripts from the "
                       "live run",
            "jitter_ms": jit.get("jitter_ms", args.jitter_ms), "wide_jitter_ms": jit.get("wide_jitter_ms", args.wide_jitter_ms),
            "drop_pct": jit.get("drop_pct", args.drop_pct), "reorder_pct": jit.get("reorder_pct", args.reorder_pct),
            "sequential": False, "versions": versions()}
    write_md(results, assertions, args.out, meta)
    if args.json:
        json.dump({"sessions": sessions, "seed": rec.get("seed"), "slice": rec.get("slice"), "jitter": jit,
                   "wall_s": rec.get("wall_s"), "replayed": True, "results": results}, open(args.json, "w"), indent=1)
    fails = failures(assertions)
    for f in fails:
        print("FAIL", f)
    log(f"replay of seed {rec.get('seed')}: {len(results)} runs, {len(assertions)} assertions, {len(fails)} failures; "
        f"table in {args.out}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
