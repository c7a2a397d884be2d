#!/usr/bin/env bash
# A real OpenSSH server in a lab namespace, with throw-away keys in a directory you choose.
#
#   sshd.sh start DIR [NS] [PORT]   keys + config into DIR (created), sshd -D in NS
#                                   (default fhlab-ep, port 22) in the background; prints its PID
#   sshd.sh stop DIR                stop the sshd started with DIR (by its PID)
#   sshd.sh opts DIR                print ssh client options (key, known_hosts) for this server
#   sshd.sh ssh DIR HOST PORT [CMD...]
#                                   ssh as root from the controller namespace (fhlab-ctl)
#
# Host key checking stays on: DIR/known_hosts holds the host key for any host name.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=addrs.env
. "$LAB_DIR/addrs.env"

die() { echo "sshd.sh: $*" >&2; exit 1; }
SSHD=${SSHD:-/usr/sbin/sshd}

opts() {
    local dir=$1
    echo "-F none -i $dir/client_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes" \
        "-o UserKnownHostsFile=$dir/known_hosts -o StrictHostKeyChecking=yes -o ConnectTimeout=10"
}

start() {
    local dir=${1:-} ns=${2:-$FHLAB_NS_EP} port=${3:-22}
    [[ -n "$dir" ]] || die "usage: sshd.sh start DIR [NS] [PORT]"
    [[ -x "$SSHD" ]] || die "no $SSHD: apt-get install -y openssh-server"
    mkdir -p "$dir"
    chmod 700 "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f "$dir/sshd.pid" ]] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
        die "an sshd from $dir is already running (pid $(cat "$dir/sshd.pid"))"
    fi
    [[ -f "$dir/host_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C fhlab-host -f "$dir/host_ed25519"
    [[ -f "$dir/client_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C fhlab-client -f "$dir/client_ed25519"
    cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
    echo "* $(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
    cat >"$dir/sshd_config" <<EOF
Port $port
ListenAddress 0.0.0.0
HostKey $dir/host_ed25519
PidFile none
AuthorizedKeysFile $dir/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
LogLevel INFO
EOF
    mkdir -p /run/sshd
    "$SSHD" -t -f "$dir/sshd_config" || die "sshd rejects $dir/sshd_config"
    ip netns exec "$ns" "$SSHD" -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$dir/sshd.pid"
    for _ in $(seq 100); do
        grep -q "Server listening on 0.0.0.0 port $port" "$dir/sshd.log" && { echo "$pid"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$dir/sshd.log" >&2
    die "sshd did not start (log: $dir/sshd.log)"
}

stop() {
    local dir=${1:-}
    [[ -n "$dir" ]] || die "usage: sshd.sh stop DIR"
    [[ -f "$dir/sshd.pid" ]] || return 0
    local pid
    pid=$(cat "$dir/sshd.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    rm -f "$dir/sshd.pid"
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
opts) shift; [[ $# -eq 1 ]] || die "usage: sshd.sh opts DIR"; opts "$1" ;;
ssh)
    shift
    [[ $# -ge 3 ]] || die "usage: sshd.sh ssh DIR HOST PORT [CMD...]"
    dir=$1 host=$2 port=$3
    shift 3
    # shellcheck disable=SC2046
    exec ip netns exec "$FHLAB_NS_CTL" ssh $(opts "$dir") -p "$port" "root@$host" "$@"
    ;;
*) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2 ;;
esac
