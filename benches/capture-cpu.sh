#!/usr/bin/env bash
# benches/capture-cpu.sh — CPU cost of farhand's two live captures on bulk traffic.
#
# Usage (root): benches/capture-cpu.sh [--farhand PATH] [--mb 2000] [--runs 5]
#
# Two network namespaces joined by a veth (offloads off: MTU-sized packets); farhand captures on one end (`-i fhb0`, once
# `--capture pcap`, once `--capture ebpf`, alternating, RUNS times each) while one TCP
# connection carries MB megabytes across it (python sockets, sender in the other namespace).
# Per run: the transfer's time, farhand's CPU time (/proc/PID/stat), the whole host's busy CPU
# time (/proc/stat: the kernel's share — softirq, AF_PACKET copies, the eBPF program — included),
# the eBPF programs' own run time (kernel.bpf_stats_enabled, eBPF runs only) and the packets
# farhand read vs the kernel saw (its summary line). Prints one markdown row per run and the
# medians per mode. Numbers are for BENCHMARKS.md ("Live capture: CPU per Gbit/s").
set -euo pipefail
cd "$(dirname "$0")/.."
FARHAND=target/release/farhand
MB=2000
RUNS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --farhand) FARHAND=$2; shift 2 ;;
    --mb) MB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "capture-cpu.sh: needs root (namespaces, eBPF)" >&2; exit 2; }
A=fhbench-a$$ B=fhbench-b$$
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
ip -n "$A" link add fhb0 type veth peer name fhb1 netns "$B"
ip -n "$A" addr add 10.78.0.1/24 dev fhb0; ip -n "$B" addr add 10.78.0.2/24 dev fhb1
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set fhb0 up; ip -n "$B" link set fhb1 up
# As the deployment guide asks of a capture interface: no segmentation or receive offloads,
# so the capture sees the packets of the wire (MTU-sized) rather than 64 KB super-packets.
ip netns exec "$A" ethtool -K fhb0 tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$B" ethtool -K fhb1 tso off gso off gro off >/dev/null 2>&1 || true

python3 - "$FARHAND" "$MB" "$RUNS" "$A" "$B" <<'PY'
import json, os, re, signal, statistics, subprocess, sys, time
farhand, mb, runs, A, B = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
TCK = os.sysconf("SC_CLK_TCK")
SINK = r"""
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.78.0.1", 5201)); l.listen(1); print("ready", flush=True)
c, _ = l.accept(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    n += len(b)
print(n, flush=True)
"""
SOURCE = r"""
import socket, sys
left = int(sys.argv[1]) * 1000 * 1000
s = socket.create_connection(("10.78.0.1", 5201)); chunk = b"\xa5" * (1 << 20)
while left > 0: left -= s.send(chunk[:min(left, len(chunk))])
s.close()
"""
def host_busy():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / TCK
def proc_cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TCK
def bpf_ns():
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout or "[]")
    return sum(p.get("run_time_ns", 0) for p in progs if p.get("name") in ("fh_ingress", "fh_egress"))
def one(mode):
    log = open(f"/tmp/capture-cpu-{mode}.log", "w+")
    fh = subprocess.Popen(["ip", "netns", "exec", A, farhand, "-i", "fhb0", "--capture", mode, "-w", "1",
                           "--metrics", "127.0.0.1:9760", "-o", "/dev/null"], stderr=log, stdout=subprocess.DEVNULL)
    time.sleep(1.5)
    sink = subprocess.Popen(["ip", "netns", "exec", A, "python3", "-c", SINK], stdout=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready"
    open("/proc/sys/kernel/bpf_stats_enabled", "w").write("1")
    c0, h0, b0, t0 = proc_cpu(fh.pid), host_busy(), bpf_ns(), time.monotonic()
    subprocess.run(["ip", "netns", "exec", B, "python3", "-c", SOURCE, str(mb)], check=True)
    got = int(sink.stdout.readline())
    wall = time.monotonic() - t0
    h1, b1 = host_busy(), bpf_ns()
    open("/proc/sys/kernel/bpf_stats_enabled", "w").write("0")
    time.sleep(1.0)
    c1 = proc_cpu(fh.pid)
    fh.send_signal(signal.SIGINT); fh.wait(timeout=20); sink.wait()
    log.seek(0); text = log.read()
    user = int(re.search(r"([\d,]+) packets,", text).group(1).replace(",", ""))
    k = re.search(r"kernel: packets ([\d,]+)", text)
    gbit = got * 8 / 1e9
    return dict(mode=mode, s=wall, gbps=gbit / wall, farhand=(c1 - c0) / gbit, host=(h1 - h0) / gbit,
                prog=(b1 - b0) / 1e9 / gbit if mode == "ebpf" else None, user=user,
                kernel=int(k.group(1).replace(",", "")) if k else None)
rows = []
def opt(v, fmt):
    return "" if v is None else format(v, fmt)
def line(label, r):
    return (f"| {label} | {r['s']:.2f} | {r['gbps']:.1f} | {r['farhand']:.4f} | {r['host']:.3f} | "
            f"{opt(r['prog'], '.4f')} | {r['user']:,.0f} | {opt(r['kernel'], ',.0f')} |")
print("| mode | transfer s | Gbit/s | farhand CPU s/Gbit | host CPU s/Gbit | eBPF program s/Gbit | packets read by farhand | packets the kernel saw |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for i in range(runs):
    for mode in ("pcap", "ebpf"):
        r = one(mode)
        rows.append(r)
        print(line(mode, r), flush=True)
for mode in ("pcap", "ebpf"):
    rs = [r for r in rows if r["mode"] == mode]
    med = {k: (None if rs[0][k] is None else statistics.median(r[k] for r in rs))
           for k in ("s", "gbps", "farhand", "host", "prog", "user", "kernel")}
    print(line(f"**{mode} median**", med))
PY
