#!/usr/bin/env bash
# Debian packages the lab needs (tests/lab/run.py, record-rdp-case.sh). OpenSSH 10 and FreeRDP 3
# come from bookworm-backports (keystroke-timing obfuscation exists from OpenSSH 9.5, Debian 12
# ships 9.2; Debian 12 has only FreeRDP 2): the source is added when missing. Debian 12's own
# OpenSSH 9.2 client is unpacked (not installed) into /opt/openssh-9.2 for the lab's 9.2
# session (newest 9.2p1 build apt knows). Idempotent; quiet when everything is present.
set -euo pipefail
need=()
for p in xvfb x11vnc tigervnc-viewer xdotool xterm ethtool iproute2 tcpdump openssh-server openssh-client; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
# from bookworm-backports: the RDP shadow server (freerdp-shadow-cli3) and client (xfreerdp3)
bpo=(freerdp3-shadow-x11 freerdp3-x11)
bpo_missing=0
for p in "${bpo[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || bpo_missing=1
done
ver=$(dpkg-query -W -f '${Version}' openssh-server 2>/dev/null || echo 0)
if [ ${#need[@]} -gt 0 ] || [ $bpo_missing = 1 ] || dpkg --compare-versions "$ver" lt 1:10; then
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/bookworm-backports.list
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    [ ${#need[@]} -eq 0 ] || apt-get install -y -qq "${need[@]}" >/dev/null
    apt-get install -y -qq -t bookworm-backports openssh-server openssh-client "${bpo[@]}" >/dev/null
fi

# OpenSSH 9.2 (Debian 12's client), beside the installed 10: apt-get download + dpkg -x
OSSH92=${FHLAB_OPENSSH92:-/opt/openssh-9.2}
if ! "$OSSH92/usr/bin/ssh" -V 2>&1 | grep -q '^OpenSSH_9\.2p1'; then
    newest_92() {
        local v best=""
        for v in $(apt-cache madison openssh-client | awk '{print $3}' | grep '^1:9\.2p1-'); do
            if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
        done
        echo "$best"
    }
    v=$(newest_92)
    if [ -z "$v" ]; then
        apt-get update -qq
        v=$(newest_92)
    fi
    [ -n "$v" ] || { echo "deps.sh: apt knows no openssh-client 9.2p1 (Debian 12's)" >&2; exit 1; }
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq "openssh-client=$v" 2>/dev/null) \
        || { rm -rf "$tmp"; echo "deps.sh: apt-get download openssh-client=$v failed" >&2; exit 1; }
    rm -rf "$OSSH92"
    mkdir -p "$OSSH92"
    dpkg -x "$tmp"/openssh-client_*.deb "$OSSH92"
    rm -rf "$tmp"
    "$OSSH92/usr/bin/ssh" -V 2>&1 | grep -q '^OpenSSH_9\.2p1' \
        || { echo "deps.sh: $OSSH92/usr/bin/ssh does not run as OpenSSH 9.2" >&2; exit 1; }
fi
