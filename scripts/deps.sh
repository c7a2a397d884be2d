#!/usr/bin/env bash
# scripts/deps.sh — install the Debian packages farhand needs to build and run (idempotent).
# Used by scripts/demo.sh and scripts/test.sh; safe to run again. Needs root (or sudo).
set -euo pipefail
PKGS="libpcap-dev pkg-config"
[ "$#" -gt 0 ] && PKGS="$PKGS $*"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Servers installed for the tests (rsyslog, PostgreSQL, Prometheus) must not start as
  # system services: the tests start their own on loopback. Without an init system a
  # package's maintainer script could still start its daemon through invoke-rc.d; a
  # policy-rc.d that forbids it does not outlive the install.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    policy=1
  fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing >&2
  if [ -n "$policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi
