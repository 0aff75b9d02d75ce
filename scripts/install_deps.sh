#!/usr/bin/env bash
# Installs what the tests need on Debian 12, as root: Deno 2, Dovecot (IMAP, LMTP), Postfix,
# isync, Chromium and, when no PostgreSQL server is installed, Debian's `postgresql`. Quiet and
# quick when everything is there already; safe to run again.
#
#   scripts/install_deps.sh           install what is missing (as root)
#   scripts/install_deps.sh --check   print what is missing, one name a line, and exit 1 if
#                                     anything is; installs nothing, any user may run it
#
# Postfix is installed unconfigured ("No configuration"), and package installs are kept from
# starting the system's own Dovecot, Postfix or PostgreSQL: the tests run their own instances on
# loopback (scripts/mailstack.sh, scripts/test.sh), and nothing should listen on ports 25, 143 or
# 993. PostgreSQL is installed without its default cluster: scripts/test.sh makes one for the tests.
set -euo pipefail

APT_PACKAGES=(dovecot-imapd dovecot-lmtpd postfix isync chromium openssl ca-certificates)

die() {
  echo "install_deps: $*" >&2
  exit 1
}

# The installed packages among those named (patterns allowed), one name a line; one dpkg-query.
installed_packages() {
  dpkg-query -W -f='${db:Status-Status} ${Package}\n' "$@" 2>/dev/null |
    sed -n 's/^installed //p' || true
}

deno_major() {
  deno --version 2>/dev/null | sed -n 's/^deno \([0-9]*\)\..*/\1/p'
}

missing=()
have=$(installed_packages "${APT_PACKAGES[@]}" 'postgresql-[0-9]*')
for p in "${APT_PACKAGES[@]}"; do grep -qxF "$p" <<<"$have" || missing+=("$p"); done
# Any major version's server (postgresql-15, postgresql-16 from PGDG…) will do.
grep -Eqx 'postgresql-[0-9]+' <<<"$have" || missing+=(postgresql)

if [ "${1:-}" = --check ]; then
  status=0
  if [ "${#missing[@]}" -gt 0 ]; then
    printf '%s\n' "${missing[@]}"
    status=1
  fi
  if [ "$(deno_major)" != 2 ]; then
    echo "deno 2"
    status=1
  fi
  exit "$status"
fi
[ $# -eq 0 ] || die "usage: install_deps.sh [--check]"

[ "$(id -u)" -eq 0 ] || die "run as root (it installs Debian packages)"
export DEBIAN_FRONTEND=noninteractive

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

# The postgresql package makes a cluster "main" on install unless createcluster.conf (which reads
# the createcluster.d folder last) says otherwise; this file says so while we install.
NO_MAIN_CLUSTER=/etc/postgresql-common/createcluster.d/zz-carteiro-install.conf
our_no_main=0
our_no_main_dir=0
forbid_main_cluster() {
  [ -e "$NO_MAIN_CLUSTER" ] && return 0
  if [ ! -d "${NO_MAIN_CLUSTER%/*}" ]; then
    mkdir -p "${NO_MAIN_CLUSTER%/*}"
    our_no_main_dir=1
  fi
  printf '# Left by scripts/install_deps.sh while it runs.\ncreate_main_cluster = false\n' \
    >"$NO_MAIN_CLUSTER"
  our_no_main=1
}
allow_main_cluster() {
  [ "$our_no_main" -eq 0 ] || rm -f "$NO_MAIN_CLUSTER"
  [ "$our_no_main_dir" -eq 0 ] || rmdir "${NO_MAIN_CLUSTER%/*}" 2>/dev/null || true
  our_no_main=0
  our_no_main_dir=0
}

cleanup() {
  allow_service_starts
  allow_main_cluster
}
trap cleanup EXIT

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

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  # Without these answers the postfix package stops to ask how mail should be sent.
  debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string example.test
EOF
  forbid_service_starts
  forbid_main_cluster
  # An install cut short earlier would otherwise block this one.
  dpkg --configure -a >/dev/null
  apt_install "${missing[@]}"
  allow_main_cluster
  allow_service_starts
  stop_system_services
fi

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
