#!/usr/bin/env bash
# Debian packages the lab needs (tests/lab/run.py, record-rdp-case.sh). OpenSSH 10 and FreeRDP 3
# come from bookworm-backports (keystroke-timing obfuscation exists from OpenSSH 9.5, Debian 12
# ships 9.2; Debian 12 has only FreeRDP 2): the source is added when missing. Idempotent; quiet
# when everything is present.
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
