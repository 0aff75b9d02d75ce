#!/usr/bin/env bash
# A real mail stack on loopback for the tests, `deno task dev` and the benchmarks:
#
#   Dovecot  IMAP  127.0.0.1:1143  plain; LOGIN and PLAIN allowed without TLS; IDLE
#            IMAPS 127.0.0.1:1993  TLS from the first byte, self-signed certificate (tls/cert.pem)
#   Postfix  SMTP  127.0.0.1:1025  plain, no AUTH, no STARTTLS
#            SMTPS 127.0.0.1:1465  TLS from the first byte, same certificate
#            Submission 127.0.0.1:1587  plain, AUTH required, checked by Dovecot (SASL): the
#                  password or an OAuth2 token (XOAUTH2, OAUTHBEARER), as IMAP takes them
#
# OAuth2 (RFC 7628): Dovecot takes XOAUTH2 and OAUTHBEARER logins and checks the bearer token by
# RFC 7662 introspection at http://127.0.0.1:1980/token/introspection, with the client id
# "dovecot" and secret "dovecot-introspection": the OpenID provider the tests start there
# (tests/support/oidc_server.ts). While none runs, token logins fail and nothing else changes;
# password logins never go to it.
#
# Usage (as root; every command is idempotent):
#   scripts/mailstack.sh start                 start both, or reload a changed config; waits
#                                              until all four ports accept connections
#   scripts/mailstack.sh stop                  stop both
#   scripts/mailstack.sh status                say what runs; exit 0 only when both do
#   scripts/mailstack.sh adduser NAME PASS     NAME is a local part or NAME@example.test; sets PASS
#   scripts/mailstack.sh deliver USER FILE...  put raw .eml files into USER's INBOX byte for byte,
#                                              in the order given, without SMTP (no Received:)
#   scripts/mailstack.sh doveadm ARGS...       doveadm against this Dovecot, e.g.
#       scripts/mailstack.sh doveadm mailbox status -u alice@example.test uidvalidity INBOX
#       scripts/mailstack.sh doveadm mailbox update -u alice@example.test --uid-validity 42 INBOX
#     which is `doveadm -c .mailstack/dovecot/dovecot.conf ARGS...` (`status` prints the path).
#
# Users and passwords: every address in example.test or a subdomain of it (x@cliente.example.test)
# has a mailbox, made on the first delivery, so mail can go to a fresh address with no set-up. Only
# an address given to `adduser` can log in over IMAP, with exactly the password given there, stored
# in plain text (these are throwaway test accounts). Logins are case-insensitive and a bare local
# part means @example.test. Mail to any other domain is refused at RCPT (554 5.7.1), and any that got
# past that would bounce: nothing leaves this machine.
#
# State lives in .mailstack/ at the project root (configs, certificate, mail, logs under log/).
# When the project's path can't be searched by other users (a checkout under /root, a umask of
# 077), the services' own users couldn't reach it, so the state goes to
# /var/lib/carteiro-mailstack/<hash of the path> instead and .mailstack/state points there.
# MAILSTACK_STATE=DIR puts the state in DIR instead: several checkouts of the project then share
# one running stack (the ports are fixed, so only one stack runs at a time).
# The system's own mail services, configs and ports are left alone.
set -euo pipefail
umask 022
PATH=$PATH:/usr/sbin:/sbin

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOMAIN=example.test
MAIL_USER=carteiro-mail
IMAP_PORT=1143
IMAPS_PORT=1993
SMTP_PORT=1025
SMTPS_PORT=1465
SUBMISSION_PORT=1587
OIDC_PORT=1980
WAIT_TENTHS=200

die() {
  echo "mailstack: $*" >&2
  exit 1
}

searchable_by_others() {
  setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$1" 2>/dev/null
}

if [ -n "${MAILSTACK_STATE:-}" ]; then
  STATE=$MAILSTACK_STATE
elif [ "$(id -u)" -eq 0 ] && ! searchable_by_others "$ROOT"; then
  STATE=/var/lib/carteiro-mailstack/$(printf '%s' "$ROOT" | sha256sum | cut -c1-16)
else
  STATE=$ROOT/.mailstack
fi
DOVECOT_CONF=$STATE/dovecot/dovecot.conf
POSTFIX_DIR=$STATE/postfix/etc
LMTP_SOCKET=$STATE/run/dovecot/lmtp
CHANGED=0

need_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root: Dovecot and Postfix switch to their own users"
}

need_tools() {
  local t
  for t in dovecot doveadm postfix postconf openssl setpriv flock; do
    command -v "$t" >/dev/null 2>&1 || die "$t is not installed; run scripts/install_deps.sh"
  done
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_until() {
  local what=$1 log=$2
  shift 2
  for _ in $(seq 1 "$WAIT_TENTHS"); do
    "$@" && return 0
    sleep 0.1
  done
  echo "mailstack: $what not ready after $((WAIT_TENTHS / 10)) s; last lines of $log:" >&2
  tail -n 30 "$log" >&2 2>/dev/null || true
  exit 1
}

port_closed() { ! port_open "$1"; }
socket_exists() { [ -S "$1" ]; }
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# Writes stdin to $1 only when it differs, so an unchanged `start` reloads nothing.
write_if_changed() {
  local dst=$1 tmp
  tmp=$(mktemp "$dst.XXXXXX")
  cat >"$tmp"
  if [ -f "$dst" ] && cmp -s "$tmp" "$dst"; then
    rm -f "$tmp"
  else
    chmod 0644 "$tmp"
    mv "$tmp" "$dst"
    CHANGED=1
  fi
}

ensure_mail_user() {
  id "$MAIL_USER" >/dev/null 2>&1 ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$MAIL_USER"
}

prepare_state() {
  mkdir -p "$STATE"/{dovecot/passwd,dovecot/state,run,log,mail,tls,tmp,postfix/etc,postfix/data,postfix/spool}
  chmod 0755 "$STATE" "$STATE"/{dovecot,run,log,mail,tls,tmp,postfix}
  # Mail left by an earlier mail user (created again with another uid) must stay readable.
  if [ "$(stat -c %u "$STATE/mail")" != "$(id -u "$MAIL_USER")" ]; then
    chown -R "$MAIL_USER:$MAIL_USER" "$STATE/mail"
  fi
  chown root:dovecot "$STATE/dovecot/passwd"
  chmod 0750 "$STATE/dovecot/passwd"
  chown postfix "$STATE/postfix/data"
  if [ "$STATE" != "$ROOT/.mailstack" ]; then
    mkdir -p "$ROOT/.mailstack"
    ln -sfn "$STATE" "$ROOT/.mailstack/state"
  fi
  if [ ! -s "$STATE/tls/key.pem" ] || [ ! -s "$STATE/tls/cert.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$STATE/tls/key.pem" -out "$STATE/tls/cert.pem" >"$STATE/log/openssl.log" 2>&1 ||
      { cat "$STATE/log/openssl.log" >&2; die "could not make the TLS certificate"; }
    chmod 0600 "$STATE/tls/key.pem"
  fi
}

write_dovecot_conf() {
  local uid gid
  uid=$(id -u "$MAIL_USER")
  gid=$(id -g "$MAIL_USER")
  write_if_changed "$DOVECOT_CONF" <<EOF
# Generated by scripts/mailstack.sh; edit the script, not this file.
instance_name = carteiro-mailstack
base_dir = $STATE/run/dovecot
state_dir = $STATE/dovecot/state
listen = 127.0.0.1
protocols = imap lmtp
log_path = $STATE/log/dovecot.log

ssl = yes
ssl_cert = <$STATE/tls/cert.pem
ssl_key = <$STATE/tls/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
# A loopback test server: plain-text logins without TLS, as Carteiro's IMAP_TLS=false expects.
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_default_realm = $DOMAIN
auth_username_format = %Lu
# Every client is 127.0.0.1: a failed login must not slow the next test's logins.
auth_failure_delay = 0

# OAuth2 bearer tokens (XOAUTH2, OAUTHBEARER) are checked by introspection against the tests'
# OpenID provider; password mechanisms never reach this passdb.
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $STATE/dovecot/oauth2.conf.ext
}
# One passwd-file per user: Dovecot rereads a shared file at most once a second, so a user added
# just after someone else's login would not exist yet. A new file is read on its first lookup.
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $STATE/dovecot/passwd/%d/%n
}
# Any address is a valid user with a mailbox: delivery needs no set-up (see the script header).
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$STATE/mail/%d/%n allow_all_users=yes
}
mail_location = maildir:~/Maildir
mail_uid = $uid
mail_gid = $gid
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid
# Test mail is disposable: skipping fsync makes bulk delivery several times faster.
mail_fsync = never
mail_max_userip_connections = 1000

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
  # One long-lived login process serves many connections: benchmarks open hundreds.
  service_count = 0
  client_limit = 1000
  process_min_avail = 1
}
service imap {
  process_limit = 1000
}
# Without this socket the auth process keeps no per-address penalty, which after a wrong password
# would hold every login from 127.0.0.1 for 2 to 15 s.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# Postfix's submission port asks Dovecot to check logins (SASL).
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
EOF
  write_if_changed "$STATE/dovecot/oauth2.conf.ext" <<EOF
# Generated by scripts/mailstack.sh: tokens are checked by RFC 7662 introspection, every time.
introspection_mode = post
introspection_url = http://dovecot:dovecot-introspection@127.0.0.1:$OIDC_PORT/token/introspection
force_introspection = yes
username_attribute = sub
active_attribute = active
active_value = true
EOF
}

write_postfix_conf() {
  write_if_changed "$POSTFIX_DIR/domains" <<EOF
# Generated by scripts/mailstack.sh: $DOMAIN and its subdomains are delivered here.
/(^|\\.)${DOMAIN//./\\.}\$/ OK
EOF
  write_if_changed "$POSTFIX_DIR/ascii_addresses" <<'EOF'
# Generated by scripts/mailstack.sh: printable ASCII only (see smtputf8_enable in main.cf).
/^[!-~]*$/ DUNNO
/./ REJECT 5.6.7 non-ASCII addresses can't be delivered by this test mail stack
EOF
  write_if_changed "$POSTFIX_DIR/main.cf" <<EOF
# Generated by scripts/mailstack.sh; edit the script, not this file.
compatibility_level = 3.6
queue_directory = $STATE/postfix/spool
data_directory = $STATE/postfix/data
# postfix-files (what \`postfix check\` expects) comes with the package.
meta_directory = /etc/postfix
maillog_file = $STATE/log/postfix.log
maillog_file_prefixes = $STATE/log
syslog_name = carteiro-postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mailstack.$DOMAIN
mydomain = $DOMAIN
myorigin = \$mydomain
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
smtpd_banner = \$myhostname ESMTP

virtual_mailbox_domains = regexp:$POSTFIX_DIR/domains
virtual_mailbox_maps =
virtual_transport = lmtp:unix:$LMTP_SOCKET

# Nothing leaves this machine: other domains are refused at RCPT even from loopback, and there is
# no smtp transport; anything that got past would bounce.
smtpd_relay_restrictions = reject_unauth_destination
default_transport = error:5.7.1 mail to other domains never leaves the Carteiro test mail stack
relay_transport = \$default_transport

# Retry soon after a Dovecot restart instead of the usual minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 10s
message_size_limit = 52428800
# Dovecot 2.3's LMTP takes neither SMTPUTF8 nor 8-bit addresses, so Postfix would accept such mail
# and then bounce it: refuse it at once instead. 8-bit headers with ASCII addresses are delivered.
smtputf8_enable = no
smtpd_sender_restrictions = check_sender_access regexp:$POSTFIX_DIR/ascii_addresses
smtpd_recipient_restrictions = check_recipient_access regexp:$POSTFIX_DIR/ascii_addresses

smtpd_tls_security_level = none
smtpd_tls_cert_file = $STATE/tls/cert.pem
smtpd_tls_key_file = $STATE/tls/key.pem
EOF
  write_if_changed "$POSTFIX_DIR/master.cf" <<EOF
# Generated by scripts/mailstack.sh; no chroot, no smtp client.
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
127.0.0.1:$SMTPS_PORT inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
127.0.0.1:$SUBMISSION_PORT inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot -o smtpd_sasl_path=$STATE/run/dovecot/auth-postfix -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
lmtp       unix  - - n -     - lmtp
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
}

dovecot_pid() {
  local pid
  pid=$(cat "$STATE/run/dovecot/master.pid" 2>/dev/null) || return 1
  # A pid file left by a crash may name an unrelated process by now.
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$DOVECOT_CONF" || return 1
  echo "$pid"
}

dovecot_running() { dovecot_pid >/dev/null; }

postfix_running() {
  local pid
  pid=$(tr -d ' ' 2>/dev/null <"$STATE/postfix/spool/pid/master.pid") || return 1
  # As for Dovecot: only a master started with this config counts (postfix(1) sets MAIL_CONFIG).
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "MAIL_CONFIG=$POSTFIX_DIR"
}

ensure_ports_free() {
  local p
  for p in "$@"; do
    port_open "$p" && die "127.0.0.1:$p is taken by another program; see: ss -ltnp 'sport = :$p'"
  done
  return 0
}

start_dovecot() {
  if dovecot_running; then
    [ "$1" -eq 0 ] || doveadm -c "$DOVECOT_CONF" reload
  else
    ensure_ports_free "$IMAP_PORT" "$IMAPS_PORT"
    # 9>&-: the daemon must not inherit, and so hold forever, the start/stop lock.
    dovecot -c "$DOVECOT_CONF" 2>"$STATE/log/dovecot-start.log" 9>&- || {
      cat "$STATE/log/dovecot-start.log" >&2
      tail -n 20 "$STATE/log/dovecot.log" >&2 2>/dev/null || true
      die "Dovecot did not start"
    }
  fi
  wait_until "Dovecot IMAP on 127.0.0.1:$IMAP_PORT" "$STATE/log/dovecot.log" port_open "$IMAP_PORT"
  wait_until "Dovecot IMAPS on 127.0.0.1:$IMAPS_PORT" "$STATE/log/dovecot.log" port_open "$IMAPS_PORT"
  wait_until "Dovecot LMTP at $LMTP_SOCKET" "$STATE/log/dovecot.log" socket_exists "$LMTP_SOCKET"
}

start_postfix() {
  if postfix_running; then
    [ "$1" -eq 0 ] || postfix -c "$POSTFIX_DIR" reload 2>>"$STATE/log/postfix-start.log"
  else
    ensure_ports_free "$SMTP_PORT" "$SMTPS_PORT" "$SUBMISSION_PORT"
    postfix -c "$POSTFIX_DIR" start 2>"$STATE/log/postfix-start.log" 9>&- || {
      cat "$STATE/log/postfix-start.log" >&2
      tail -n 20 "$STATE/log/postfix.log" >&2 2>/dev/null || true
      die "Postfix did not start"
    }
  fi
  wait_until "Postfix SMTP on 127.0.0.1:$SMTP_PORT" "$STATE/log/postfix.log" port_open "$SMTP_PORT"
  wait_until "Postfix SMTPS on 127.0.0.1:$SMTPS_PORT" "$STATE/log/postfix.log" port_open "$SMTPS_PORT"
  wait_until "Postfix submission on 127.0.0.1:$SUBMISSION_PORT" "$STATE/log/postfix.log" \
    port_open "$SUBMISSION_PORT"
}

start() {
  need_root
  need_tools
  ensure_mail_user
  prepare_state
  CHANGED=0
  write_dovecot_conf
  local dovecot_changed=$CHANGED
  CHANGED=0
  write_postfix_conf
  local postfix_changed=$CHANGED
  start_dovecot "$dovecot_changed"
  start_postfix "$postfix_changed"
  echo "mailstack: IMAP 127.0.0.1:$IMAP_PORT, IMAPS 127.0.0.1:$IMAPS_PORT," \
    "SMTP 127.0.0.1:$SMTP_PORT, SMTPS 127.0.0.1:$SMTPS_PORT," \
    "submission 127.0.0.1:$SUBMISSION_PORT; doveadm -c $DOVECOT_CONF"
}

stop() {
  need_root
  local pid
  if postfix_running; then
    postfix -c "$POSTFIX_DIR" stop 2>>"$STATE/log/postfix-start.log" || true
    wait_until "Postfix's exit" "$STATE/log/postfix.log" port_closed "$SMTP_PORT"
  fi
  if pid=$(dovecot_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    wait_until "Dovecot's exit (pid $pid)" "$STATE/log/dovecot.log" pid_gone "$pid"
  fi
  echo "mailstack: stopped"
}

status() {
  local ok=0
  echo "state: $STATE"
  if dovecot_running && port_open "$IMAP_PORT" && port_open "$IMAPS_PORT"; then
    echo "dovecot: running, IMAP 127.0.0.1:$IMAP_PORT, IMAPS 127.0.0.1:$IMAPS_PORT"
  else
    echo "dovecot: stopped"
    ok=1
  fi
  if postfix_running && port_open "$SMTP_PORT"; then
    echo "postfix: running, SMTP 127.0.0.1:$SMTP_PORT, SMTPS 127.0.0.1:$SMTPS_PORT"
  else
    echo "postfix: stopped"
    ok=1
  fi
  echo "doveadm: doveadm -c $DOVECOT_CONF ...   (or: scripts/mailstack.sh doveadm ...)"
  return $ok
}

# Prints NAME as a full, lower-case address in example.test (or a subdomain), or fails.
address_of() {
  local a
  a=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
  case "$a" in *@*) ;; *) a="$a@$DOMAIN" ;; esac
  [[ "$a" =~ ^[a-z0-9._+=-]+@([a-z0-9-]+\.)*example\.test$ ]] ||
    die "'$1' is not a local part or an address in $DOMAIN (letters, digits, . _ + = - only)"
  printf '%s' "$a"
}

adduser() {
  [ $# -eq 2 ] || { echo "usage: mailstack.sh adduser NAME PASS" >&2; exit 2; }
  need_root
  local user pass dir file line tmp old now
  user=$(address_of "$1")
  pass=$2
  [ -n "$pass" ] || die "the password is empty"
  case "$pass" in *:* | *$'\n'*) die "a password may not hold ':' or a newline" ;; esac
  dir="$STATE/dovecot/passwd/${user#*@}"
  file="$dir/${user%@*}"
  line="$user:{PLAIN}$pass"
  mkdir -p "$dir"
  chown root:dovecot "$dir"
  chmod 0750 "$dir"
  if [ -f "$file" ] && [ "$(cat "$file")" = "$line" ]; then
    echo "$user"
    return 0
  fi
  old=$(stat -c %Y "$file" 2>/dev/null || echo 0)
  tmp=$(mktemp "$file.XXXXXX")
  printf '%s\n' "$line" >"$tmp"
  chown root:dovecot "$tmp"
  chmod 0640 "$tmp"
  if [ "$old" -ne 0 ]; then
    # Dovecot notices a change by mtime and looks at most once a second: make the mtime new and
    # outlast that second, so the next login sees the new password.
    now=$(date +%s)
    touch -d "@$((now > old ? now : old + 1))" "$tmp"
    mv "$tmp" "$file"
    sleep 1.1
  else
    mv "$tmp" "$file"
  fi
  echo "$user"
}

# One `doveadm import` from a scratch Maildir is ~40x faster than a `doveadm save` per message.
# Maildir assigns UIDs in file-name order, so the messages keep the order they were given in.
deliver() {
  [ $# -ge 2 ] || { echo "usage: mailstack.sh deliver USER FILE..." >&2; exit 2; }
  need_root
  dovecot_running || die "Dovecot is not running; run: scripts/mailstack.sh start"
  local user src n=0 f
  user=$(address_of "$1")
  shift
  src=$(mktemp -d "$STATE/tmp/deliver.XXXXXX")
  DELIVER_SRC=$src
  trap 'rm -rf "$DELIVER_SRC"' EXIT
  mkdir "$src/cur" "$src/new" "$src/tmp"
  for f in "$@"; do
    [[ -f $f && -r $f ]] || die "cannot read message file $f"
    n=$((n + 1))
    cp -- "$f" "$src/new/$(printf '%09d' "$n").carteiro"
  done
  chown -R "$MAIL_USER:$MAIL_USER" "$src"
  doveadm -c "$DOVECOT_CONF" import -u "$user" "maildir:$src" "" mailbox INBOX ||
    die "doveadm import into $user's INBOX failed; see $STATE/log/dovecot.log"
}

main() {
  local cmd=${1:-}
  [ $# -eq 0 ] || shift
  case "$cmd" in
    start | stop)
      need_root
      mkdir -p "$STATE"
      # Serialised: test files may call `start` at the same moment.
      exec 9>"$STATE/start.lock"
      flock -w 120 9 || die "another start or stop has held $STATE/start.lock for 2 minutes"
      "$cmd"
      ;;
    status) status ;;
    adduser) adduser "$@" ;;
    deliver) deliver "$@" ;;
    doveadm)
      need_root
      [ -f "$DOVECOT_CONF" ] || die "no config yet; run: scripts/mailstack.sh start"
      exec doveadm -c "$DOVECOT_CONF" "$@"
      ;;
    *)
      echo "usage: $0 start|stop|status|adduser NAME PASS|deliver USER FILE...|doveadm ARGS..." >&2
      exit 2
      ;;
  esac
}

main "$@"
