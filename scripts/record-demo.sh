#!/usr/bin/env bash
# record-demo.sh [OUT.pcap] — record farhand's demo capture from REAL remote-control sessions
# of real software, run between two network namespaces this script creates.
# Default OUT: tests/cases/demo/input.pcap (relative to the repository root).
#
# Topology (nothing leaves the machine; no external address is ever contacted):
#
#   fhd-endpoint  "company laptop"                    fhd-inet  "the internet"
#   10.20.0.10/24  dev fhd-ep  <====== veth ======>   dev fhd-in  203.0.113.66  remote controller
#     sshd            :22                                          203.0.113.53  dnsmasq (DNS)
#     Xvfb :71 640x400x16 + xterm, x11vnc :5900                    203.0.113.80  nginx :80, :443
#     xrdp            :3389                                        Xvfb :72 (display for xfreerdp)
#
#   tcpdump -s 0 on fhd-ep, i.e. what the corporate gateway sees on its inside leg.
#   Offloads are off on both veth ends, so frames are wire-sized with valid checksums.
#   IPv6 is disabled in both namespaces (no ND/MLD noise); ARP stays.
#
#   The controller is then MOVED to a public address: once recorded, the capture is
#   rewritten by scripts/readdress-pcap.py (203.0.113.66 -> 157.90.0.66, an address in
#   157.90.0.0/16: Hetzner Online GmbH, AS24940, Germany), IP/TCP/UDP checksums recomputed,
#   every timestamp and length kept. Why not record with that address: the namespaces would
#   then answer for an address of somebody else's network (a leaked route or a stray packet
#   would reach or impersonate a real host), while documentation addresses (RFC 5737) are
#   safe -- but enrichment never looks them up, so the demo could show no country, ASN or
#   from-abroad judgement. Rewriting afterwards keeps the recording safe and the timing real.
#   The recording before the rewrite is kept in the scratch dir as capture-recorded.pcap.
#
# Sessions, in this order, a few seconds apart (whole run ~1 minute):
#   1. ordinary traffic from the laptop: dig of 4 names @203.0.113.53, 2 HTTP + 2 HTTPS fetches (curl)
#   2. SSH:  controller -> laptop:22, key login, commands TYPED by expect with 100-350 ms
#            keystroke gaps (fixed seed): uptime, ls /, exit
#   3. VNC:  controller -> laptop:5900 with VNC Authentication (password), vncdotool (python API)
#            types two short shell lines into the xterm with 100-350 ms gaps (fixed seed),
#            requesting Hextile framebuffer updates after each key like a real viewer does
#   4. RDP:  controller runs xfreerdp (user farhand-demo, so "Cookie: mstshash=farhand-demo")
#            against xrdp: X.224 CR/CC, TLS, MCS, capabilities, xrdp's login screen drawn as
#            bitmap updates; no password is sent and no xrdp-sesman runs, so the session ends at
#            the login screen when `timeout` stops xfreerdp after 8 s
#   5. a final dig + HTTP fetch from the laptop
#
# Usage (as root):  scripts/record-demo.sh [OUT.pcap]
#   Installs missing Debian packages (apt-get) and vncdotool (pip, into a venv kept at
#   $FHD_VENV, default /var/cache/farhand-demo/venv, so re-runs need no download).
#   Idempotent: first removes its own leftovers (namespaces fhd-*, processes via pid files and
#   inside those namespaces, X displays :71/:72, scratch dir $FHD_WORK, default /tmp/fhd-demo),
#   then overwrites OUT. Every daemon runs in the foreground under this script with its own
#   config in the scratch dir; all are killed on exit (trap). Logs stay in the scratch dir.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUT=${1:-$REPO/tests/cases/demo/input.pcap}
WORK=${FHD_WORK:-/tmp/fhd-demo}
VENV=${FHD_VENV:-/var/cache/farhand-demo/venv}
VNCDOTOOL_VERSION=1.4.2
EP=fhd-endpoint INET=fhd-inet
EP_IF=fhd-ep INET_IF=fhd-in
LAPTOP=10.20.0.10 CTRL=203.0.113.66 DNS=203.0.113.53 WEB=203.0.113.80
CTRL_PUBLIC=157.90.0.66         # where the controller appears in OUT (see the header)
EP_DPY=71 INET_DPY=72
VNC_PASS=fhd-demo              # VNC passwords are at most 8 characters
RDP_USER=farhand-demo

say() { printf '[record-demo %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$(dirname "$OUT")"
OUT=$(readlink -f "$OUT")

# ------------------------------------------------------------------ packages
PKGS="iproute2 ethtool tcpdump procps openssl curl bind9-dnsutils dnsmasq-base nginx
      openssh-server openssh-client expect xvfb x11-xkb-utils xkb-data xfonts-base xterm x11vnc
      xrdp freerdp2-x11 python3 python3-venv"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -q
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
fi
if ! "$VENV/bin/python" -c 'import vncdotool' 2>/dev/null; then
  say "installing vncdotool==$VNCDOTOOL_VERSION into $VENV"
  rm -rf "$VENV"; mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "vncdotool==$VNCDOTOOL_VERSION"
fi

# ------------------------------------------------------------------ leftovers, cleanup
kill_ns_procs() {  # every process inside one of OUR namespaces is one this script started
  local ns=$1 sig=$2 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill "-$sig" $pids 2>/dev/null || true
}
release_display() {  # remove a stale lock/socket of one of our X displays
  local n=$1 pid
  if [ -f "/tmp/.X$n-lock" ]; then
    pid=$(tr -d ' ' < "/tmp/.X$n-lock")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      [ -f "$WORK/xvfb$n.pid" ] && [ "$(cat "$WORK/xvfb$n.pid")" = "$pid" ] \
        || die "display :$n is in use by pid $pid, which this script did not start"
      kill "$pid" 2>/dev/null || true; sleep 0.5
    fi
  fi
  rm -f "/tmp/.X$n-lock" "/tmp/.X11-unix/X$n"
}
teardown() {
  local f
  for f in "$WORK"/*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  kill_ns_procs $EP TERM; kill_ns_procs $INET TERM
  sleep 0.5
  kill_ns_procs $EP KILL; kill_ns_procs $INET KILL
  ip netns del $EP 2>/dev/null || true
  ip netns del $INET 2>/dev/null || true
  release_display $EP_DPY; release_display $INET_DPY
  # xrdp keeps its pid file in /run/xrdp even with --nodaemon
  if [ -f /run/xrdp/xrdp.pid ] && ! kill -0 "$(cat /run/xrdp/xrdp.pid)" 2>/dev/null; then
    rm -f /run/xrdp/xrdp.pid
  fi
}
PIDS=()
on_exit() {
  local rc=$? i
  set +e
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[$i]}" 2>/dev/null; done
  teardown
  say "cleaned up (namespaces, processes); logs kept in $WORK"
  exit $rc
}

say "removing leftovers of earlier runs"
teardown
rm -rf "$WORK"
mkdir -p "$WORK"/{ssh,vnc,rdp,www,home} /run/sshd /run/xrdp/sockdir
trap on_exit EXIT
trap 'exit 130' INT TERM

inep()   { ip netns exec $EP "$@"; }
ininet() { ip netns exec $INET "$@"; }
spawn() {  # spawn NS NAME CMD...: daemon in namespace NS, output to $WORK/NAME.log, pid kept
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!); echo $! > "$WORK/$name.pid"
}
wait_for() {  # wait_for SECONDS DESCRIPTION CMD...: poll (without sending any packet)
  local t=$1 what=$2 i; shift 2
  for ((i=0; i<t*10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "timed out waiting for $what"
}
listening() {  # listening NS tcp|udp IP PORT
  ip netns exec "$1" ss -Hln --"$2" | grep -qF " $3:$4 "
}

# ------------------------------------------------------------------ topology
say "creating namespaces $EP ($LAPTOP) and $INET ($CTRL, $DNS, $WEB)"
ip netns add $EP; ip netns add $INET
ip link add $EP_IF type veth peer name $INET_IF
ip link set $EP_IF netns $EP; ip link set $INET_IF netns $INET
for ns in $EP $INET; do
  ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip netns exec $ns ip link set lo up
done
inep   ip link set $EP_IF address 02:00:0a:14:00:0a
ininet ip link set $INET_IF address 02:00:cb:00:71:42
inep   ip addr add $LAPTOP/24 dev $EP_IF
ininet ip addr add $CTRL/24 dev $INET_IF
ininet ip addr add $DNS/32 dev $INET_IF
ininet ip addr add $WEB/32 dev $INET_IF
inep   ip link set $EP_IF up
ininet ip link set $INET_IF up
inep   ip route add 203.0.113.0/24 dev $EP_IF
ininet ip route add 10.20.0.0/24 dev $INET_IF src $CTRL   # the controller's address
inep   ethtool -K $EP_IF tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
ininet ethtool -K $INET_IF tso off gso off gro off tx off rx off >/dev/null 2>&1 || true

# ------------------------------------------------------------------ internet side: DNS + web
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=www.example.com" \
  -addext "subjectAltName=DNS:www.example.com,DNS:cdn.example.net" \
  -keyout www.key -out www.crt >/dev/null 2>&1
printf '<!doctype html><title>example</title><p>Hello from the demo web server.</p>\n' > www/index.html
printf 'console.log("farhand demo asset");\n' > www/app.js
printf '{"version":"1.2.3","channel":"stable"}\n' > www/update.json
cat > nginx.conf <<EOF
worker_processes 1; pid $WORK/nginx.pid.d; error_log $WORK/nginx.err; user root;
events { worker_connections 64; }
http {
  access_log $WORK/nginx.access; keepalive_timeout 5; server_tokens off;
  types { text/html html; application/javascript js; application/json json; }
  server {
    listen $WEB:80; listen $WEB:443 ssl; server_name _;
    ssl_certificate $WORK/www.crt; ssl_certificate_key $WORK/www.key;
    ssl_protocols TLSv1.2 TLSv1.3; root $WORK/www;
  }
}
EOF
spawn $INET nginx nginx -e "$WORK/nginx.err" -c "$WORK/nginx.conf" -g 'daemon off;'
spawn $INET dnsmasq dnsmasq -k --conf-file=/dev/null -u root --no-resolv --no-hosts \
  --listen-address=$DNS --bind-interfaces --pid-file="$WORK/dnsmasq.pid.d" --cache-size=0 \
  --address=/www.example.com/$WEB --address=/cdn.example.net/$WEB \
  --address=/updates.example.org/$WEB --address=/mail.example.com/203.0.113.25 \
  --log-queries --log-facility="$WORK/dnsmasq-queries.log"
say "started nginx ($WEB:80,443) and dnsmasq ($DNS:53) in $INET"

# ------------------------------------------------------------------ laptop: sshd
ssh-keygen -q -t ed25519 -N '' -C laptop-host -f ssh/host_ed25519
ssh-keygen -q -t ed25519 -N '' -C operator@controller -f ssh/operator
cp ssh/operator.pub ssh/authorized_keys
cat > ssh/sshd_config <<EOF
Port 22
ListenAddress $LAPTOP
HostKey $WORK/ssh/host_ed25519
PidFile $WORK/sshd.pid.d
AuthorizedKeysFile $WORK/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
Banner none
EOF
spawn $EP sshd /usr/sbin/sshd -D -f "$WORK/ssh/sshd_config" -E "$WORK/sshd-debug.log"

# ------------------------------------------------------------------ laptop: Xvfb + xterm + x11vnc
release_display $EP_DPY; release_display $INET_DPY
spawn $EP xvfb$EP_DPY Xvfb :$EP_DPY -screen 0 640x400x16 -nolisten tcp -noreset
wait_for 10 "Xvfb :$EP_DPY" test -S /tmp/.X11-unix/X$EP_DPY
spawn $EP xterm env DISPLAY=:$EP_DPY HOME="$WORK/home" \
  xterm -geometry 80x24+0+0 -e env PS1='laptop$ ' bash --norc --noprofile
x11vnc -storepasswd "$VNC_PASS" "$WORK/vnc/passwd" >/dev/null 2>&1
spawn $EP x11vnc x11vnc -display :$EP_DPY -rfbport 5900 -listen $LAPTOP -noipv6 \
  -rfbauth "$WORK/vnc/passwd" -forever -shared -norc -nolookup -xkb -noxdamage

# ------------------------------------------------------------------ laptop: xrdp
# xrdp reads its RSA keys for standard RDP security from /etc/xrdp/rsakeys.ini (package file)
[ -s /etc/xrdp/rsakeys.ini ] || xrdp-keygen xrdp /etc/xrdp/rsakeys.ini >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=laptop" \
  -keyout rdp/key.pem -out rdp/cert.pem >/dev/null 2>&1
cat > rdp/xrdp.ini <<EOF
[Globals]
ini_version=1
fork=false
port=tcp://$LAPTOP:3389
use_vsock=false
tcp_nodelay=true
tcp_keepalive=true
security_layer=negotiate
crypt_level=high
certificate=$WORK/rdp/cert.pem
key_file=$WORK/rdp/key.pem
ssl_protocols=TLSv1.2, TLSv1.3
autorun=
allow_channels=true
allow_multimon=false
bitmap_cache=true
bitmap_compression=true
bulk_compression=true
max_bpp=16
new_cursors=true
use_fastpath=both
blue=009cb5
grey=dedede
ls_top_window_bg_color=009cb5
ls_width=350
ls_height=430
ls_bg_color=dedede

[Logging]
LogFile=$WORK/xrdp-debug.log
LogLevel=INFO
EnableSyslog=false

[Channels]
rdpdr=false
rdpsnd=false
drdynvc=false
cliprdr=false
rail=false
xrdpvr=false
tcutils=false

[Xorg]
name=Xorg
lib=libxup.so
username=ask
password=ask
ip=127.0.0.1
port=-1
code=20
EOF
spawn $EP xrdp xrdp --nodaemon -c "$WORK/rdp/xrdp.ini"

# ------------------------------------------------------------------ controller: display for xfreerdp
spawn $INET xvfb$INET_DPY Xvfb :$INET_DPY -screen 0 800x600x24 -nolisten tcp -noreset
wait_for 10 "Xvfb :$INET_DPY" test -S /tmp/.X11-unix/X$INET_DPY

wait_for 10 "nginx"   listening $INET tcp $WEB 443
wait_for 10 "dnsmasq" listening $INET udp $DNS 53
wait_for 10 "sshd"    listening $EP tcp $LAPTOP 22
wait_for 15 "x11vnc"  listening $EP tcp $LAPTOP 5900
wait_for 10 "xrdp"    listening $EP tcp $LAPTOP 3389
say "started sshd (:22), Xvfb :$EP_DPY + xterm + x11vnc (:5900), xrdp (:3389) in $EP"
sleep 1   # let the xterm draw its first prompt

# ------------------------------------------------------------------ session scripts
cat > ssh/typist.exp <<'EOF'
# expect: an operator types an interactive SSH session with human-like keystroke gaps
set key [lindex $argv 0]; set src [lindex $argv 1]; set dst [lindex $argv 2]
expr {srand(4242)}
set timeout 20
spawn ssh -F /dev/null -tt -i $key -b $src -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes root@$dst
expect -re {[#$] $}
after 1200
foreach c {"uptime" "ls /" "exit"} {
  foreach ch [split $c ""] { send -- $ch; after [expr {100 + int(rand()*250)}] }
  after [expr {150 + int(rand()*200)}]
  send "\r"
  if {$c eq "exit"} { expect eof; break }
  expect -re {[#$] $}
  after [expr {900 + int(rand()*900)}]
}
EOF
cat > vnc/typist.py <<'EOF'
"""An operator types into the laptop's xterm over VNC (vncdotool), like a human would."""
import random
import sys
import time

from vncdotool import api, client, rfb


class ViewerClient(client.VNCDoToolClient):
    encoding = rfb.Encoding.HEXTILE  # compact tiled updates, as real viewers ask for


class ViewerFactory(client.VNCDoToolFactory):
    protocol = ViewerClient


server, password = sys.argv[1], sys.argv[2]
rng = random.Random(1705)  # deterministic keystroke gaps
vnc = api.connect(server, password=password, factory_class=ViewerFactory, timeout=20)
try:
    vnc.refreshScreen(False)  # first full frame
    time.sleep(1.0)
    for line in ("echo hi from vnc", "date"):
        for ch in line:
            vnc.keyPress(ch)
            vnc.refreshScreen(True)  # incremental update showing the echoed character
            time.sleep(rng.uniform(0.10, 0.35))
        time.sleep(rng.uniform(0.2, 0.4))
        vnc.keyPress("enter")
        vnc.refreshScreen(True)
        time.sleep(rng.uniform(0.8, 1.4))
finally:
    vnc.disconnect()
    api.shutdown()
EOF

# ------------------------------------------------------------------ capture
CAP=$WORK/capture.pcap
say "capturing on $EP_IF in $EP"
ip netns exec $EP tcpdump -Z root -i $EP_IF -s 0 -n -U -w "$CAP" 2> "$WORK/tcpdump.log" &
TCPDUMP=$!; PIDS+=($TCPDUMP)
wait_for 10 "tcpdump" grep -q 'listening on' "$WORK/tcpdump.log"
sleep 1
T0=$(date +%s)

say "1/5 ordinary traffic: DNS lookups and HTTP/HTTPS fetches from the laptop"
for n in www.example.com cdn.example.net updates.example.org mail.example.com; do
  inep dig @$DNS +tries=1 +time=2 +short "$n" A >> "$WORK/dig.out"; sleep 0.3
done
inep curl -sS -o /dev/null -w '%{http_code} %{url_effective}\n' \
  --resolve www.example.com:80:$WEB http://www.example.com/ >> "$WORK/curl.out"
sleep 0.5
inep curl -sS -k -o /dev/null -w '%{http_code} %{url_effective}\n' \
  --resolve www.example.com:443:$WEB https://www.example.com/ >> "$WORK/curl.out"
sleep 0.5
inep curl -sS -o /dev/null -w '%{http_code} %{url_effective}\n' \
  --resolve cdn.example.net:80:$WEB http://cdn.example.net/app.js >> "$WORK/curl.out"
sleep 0.5
inep curl -sS -k -o /dev/null -w '%{http_code} %{url_effective}\n' \
  --resolve cdn.example.net:443:$WEB https://cdn.example.net/app.js >> "$WORK/curl.out"
sleep 3

say "2/5 SSH: $CTRL -> $LAPTOP:22, key login, typed commands (expect)"
ininet expect -f ssh/typist.exp "$WORK/ssh/operator" $CTRL $LAPTOP > "$WORK/ssh-session.log" 2>&1 \
  || die "SSH session failed, see $WORK/ssh-session.log"
sleep 3

say "3/5 VNC: $CTRL -> $LAPTOP:5900, VNC auth, typing into the xterm (vncdotool)"
ininet timeout 60 "$VENV/bin/python" vnc/typist.py "$LAPTOP::5900" "$VNC_PASS" \
  > "$WORK/vnc-session.log" 2>&1 || die "VNC session failed, see $WORK/vnc-session.log"
sleep 3

say "4/5 RDP: $CTRL -> $LAPTOP:3389, xfreerdp as $RDP_USER (time-boxed, login is not completed)"
rc=0
ininet env DISPLAY=:$INET_DPY HOME="$WORK/home" timeout -k 2 8 xfreerdp /v:$LAPTOP:3389 \
  /u:$RDP_USER /client-hostname:OPERATOR-PC /cert:ignore /size:640x400 /bpp:16 -clipboard \
  /log-level:INFO < /dev/null > "$WORK/rdp-session.log" 2>&1 || rc=$?
say "    xfreerdp ended with status $rc (124 = stopped by timeout, expected)"
sleep 3

say "5/5 final DNS lookup + HTTP fetch from the laptop"
inep dig @$DNS +tries=1 +time=2 +short updates.example.org A >> "$WORK/dig.out"
sleep 0.3
inep curl -sS -o /dev/null -w '%{http_code} %{url_effective}\n' \
  --resolve updates.example.org:80:$WEB http://updates.example.org/update.json >> "$WORK/curl.out"
sleep 2

kill -TERM $TCPDUMP; wait $TCPDUMP || true
cat "$WORK/tcpdump.log" >&2
mv -f "$CAP" "$WORK/capture-recorded.pcap"
say "moving the controller $CTRL -> $CTRL_PUBLIC (scripts/readdress-pcap.py)"
python3 "$REPO/scripts/readdress-pcap.py" "$WORK/capture-recorded.pcap" "$OUT" "$CTRL=$CTRL_PUBLIC" \
  || die "readdress-pcap.py failed"
if tcpdump -vvnr "$OUT" 2>/dev/null | grep -qiE 'incorrect|bad (cksum|udp|tcp)'; then
  die "$OUT: tcpdump reports a bad checksum after the rewrite"
fi
say "sessions took $(( $(date +%s) - T0 )) s"
say "dig answers: $(tr '\n' ' ' < "$WORK/dig.out")"
say "curl: $(tr '\n' ';' < "$WORK/curl.out")"
say "wrote $OUT: $(stat -c %s "$OUT") bytes, $(tcpdump -r "$OUT" -n 2>/dev/null | wc -l) packets"
if command -v tshark >/dev/null; then
  tshark -r "$OUT" -q -z conv,tcp -z conv,udp 2>/dev/null | grep -E '<->' >&2 || true
fi
