#!/usr/bin/env python3
"""Records two SSH sessions through the terminating relay, for a regression case.

    tests/lab/record-ssh-case.py OUT.pcap [DELAY_MS]      (as root; DELAY_MS default 120)

Brings the lab up in terminating mode with DELAY_MS added on the controller's side
(topology.sh, the relay from target/release), starts the lab's sshd on the endpoint
(run.py's sshd_config: ClientAliveInterval 1) and captures gw-ep with tcpdump, where farhand
would. Then, with run.py's own session code (ssh_session: the ten words typed key by key at
the seed-1 intervals, median 183.9 ms, 1.2 s after each space, ^U, 4 s idle, exit):

1. OpenSSH with client keepalives (`-o ServerAliveInterval=1`, obfuscation off): the client
   sends keepalive@openssh.com every second of server silence, which resets sshd's own timer;
2. OpenSSH >= 9.5 with keystroke obfuscation on (`ObscureKeystrokeTiming=yes`): a packet
   every 20 ms while typing, keys and chaff alike; sshd's keepalives in the idle time.

Writes OUT.pcap and tears the lab down.
"""
import os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as lab  # noqa: E402


def main():
    if len(sys.argv) < 2:
        print("usage: record-ssh-case.py OUT.pcap [DELAY_MS]", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("record-ssh-case.py: needs root", file=sys.stderr)
        return 2
    out = os.path.abspath(sys.argv[1])
    delay = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    relay = os.path.join(lab.ROOT, "target", "release", "farhand-lab-relay")
    work = os.path.join(os.path.dirname(out), "record-ssh-work")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    lab.ssh_keys(work)
    plain = lab.ssh_cmd

    def with_client_keepalives(work, host, port, obfuscate=False):
        cmd = plain(work, host, port, obfuscate)
        return cmd[:-1] + ["-o", "ServerAliveInterval=1"] + cmd[-1:]

    lab.topology("down")
    lab.topology("up", "terminating", str(delay), env={"FHLAB_RELAY_BIN": relay})
    me = lab.mode_env()
    host, port = me["SSH_HOST"], int(me["SSH_PORT"])
    d = lab.Daemons()
    try:
        os.makedirs("/run/sshd", exist_ok=True)
        d.start(lab.nsx(lab.NS_EP, "/usr/sbin/sshd", "-D", "-e", "-f", lab.sshd_config(work, 22, "ep")),
                f"{work}/sshd.log")
        d.start(lab.nsx(lab.NS_GW, "tcpdump", "-i", lab.ENV["GW_EP_IF"], "-n", "-s", "0", "-U", "-w", out),
                f"{work}/tcpdump.log")
        time.sleep(1.5)
        lab.ssh_cmd = with_client_keepalives
        lab.ssh_session(work, host, port, stepping=False, idle_s=4.0)
        lab.ssh_cmd = plain
        lab.ssh_session(work, host, port, stepping=False, idle_s=4.0, obfuscate=True)
        time.sleep(2)
    finally:
        d.stop_all()
        lab.topology("down")
    print(f"record-ssh-case.py: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
