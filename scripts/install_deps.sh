#!/usr/bin/env bash
# Installs what the tests need on Debian 12, as root: Deno 2, Dovecot (IMAP, LMTP), Postfix,
# isync and Chromium. Quiet and quick when everything is there already; safe to run again.
#
# Postfix is installed unconfigured ("No configuration"), and package installs are kept from
# starting the system's own Dovecot or Postfix: the tests run their own instances on loopback
# (scripts/mailstack.sh), and nothing should listen on ports 25, 143 or 993.
set -euo pipefail

APT_PACKAGES=(dovecot-imapd dovecot-lmtpd postfix isync chromium openssl ca-certificates)

die() {
  echo "install_deps: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (it installs Debian packages)"
export DEBIAN_FRONTEND=noninteractive

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  apt-get install -y -qq -o Dpkg::Use-Pty=0 "$@" >/dev/null
}

# Maintainer scripts ask invoke-rc.d whether they may start a service; exit 101 means no.
# An existing policy (containers often have one) is left as it is.
POLICY=/usr/sbin/policy-rc.d
our_policy=0
forbid_service_starts() {
  [ -e "$POLICY" ] && return 0
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  our_policy=1
}
allow_service_starts() {
  [ "$our_policy" -eq 0 ] || rm -f "$POLICY"
  our_policy=0
}
trap allow_service_starts EXIT

# A system Dovecot or Postfix, started by an earlier install or a boot, is stopped and kept from
# starting at boot.
running_pid_file() {
  local pid
  pid=$(tr -d ' ' 2>/dev/null <"$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
stop_system_services() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now dovecot postfix >/dev/null 2>&1 || true
    return 0
  fi
  update-rc.d dovecot disable >/dev/null 2>&1 || true
  update-rc.d postfix disable >/dev/null 2>&1 || true
  if running_pid_file /run/dovecot/master.pid; then
    service dovecot stop >/dev/null 2>&1 || true
    echo "install_deps: stopped the system's Dovecot"
  fi
  if running_pid_file /var/spool/postfix/pid/master.pid; then
    service postfix stop >/dev/null 2>&1 || true
    echo "install_deps: stopped the system's Postfix"
  fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  # Without these answers the postfix package stops to ask how mail should be sent.
  debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string example.test
EOF
  forbid_service_starts
  # An install cut short earlier would otherwise block this one.
  dpkg --configure -a >/dev/null
  apt_install "${missing[@]}"
  allow_service_starts
  stop_system_services
fi

deno_major() {
  deno --version 2>/dev/null | sed -n 's/^deno \([0-9]*\)\..*/\1/p'
}

if [ "$(deno_major)" != 2 ]; then
  echo "install_deps: installing Deno 2 from the npm registry"
  command -v npm >/dev/null || apt_install nodejs npm
  # Node.js trusts only its own CA list unless told otherwise; the system's list also holds any
  # CA this machine was given for its network.
  if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  fi
  npm install -g --no-fund --no-audit --loglevel=error deno@2
  # npm's global bin folder is not on every PATH.
  if ! command -v deno >/dev/null; then
    ln -sf "$(npm prefix -g)/bin/deno" /usr/local/bin/deno
  fi
  hash -r
  [ "$(deno_major)" = 2 ] || die "deno 2 is not on PATH after npm install -g deno@2 ($(command -v deno || echo none))"
  deno --version | head -n 1
fi
