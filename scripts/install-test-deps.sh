#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: PostgreSQL, OpenSSH (server
# and client), inetutils telnetd, asciinema, Chromium and Firefox ESR for the browser tests; for the RDP
# door: xrdp with the Xvnc backend (TigerVNC) as the TLS target, FreeRDP's shadow server
# and winpr-hash as the NLA target, xfreerdp as the client, Xvfb for their displays,
# xwd/xclock/xsetroot to draw and capture them, xdotool to type into the client; the outside
# scanners ssh-audit and testssl.sh, and the other stock SSH clients (PuTTY's plink, paramiko,
# asyncssh) the door must keep serving; chattr (e2fsprogs) and prlimit (util-linux) for the
# resilience tests; rdesktop to present a ticket the wrong way; rsyslog as a real syslog receiver of audit streaming; OpenLDAP's slapd and ldap-utils
# for the directory targets (rotation, JIT entries, groups). Idempotent.
set -euo pipefail
PKGS=(postgresql openssh-server openssh-client inetutils-telnetd asciinema chromium firefox-esr fonts-dejavu-core
  xrdp tigervnc-standalone-server xvfb freerdp2-x11 freerdp2-shadow-x11 winpr-utils x11-apps x11-utils x11-xserver-utils xdotool openssl ffmpeg
  slapd ldap-utils ssh-audit testssl.sh putty-tools python3-paramiko python3-asyncssh e2fsprogs util-linux rdesktop sudo rsyslog)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test dependencies: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # slapd: no default directory; the tests configure their own on loopback.
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  # policy-rc.d keeps the packages' own services from starting: tests start their own on loopback.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
