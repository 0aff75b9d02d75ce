#!/usr/bin/env bash
# `deno task test`: everything the tests need, then the tests. Runs as root on Debian 12:
#
#   1. installs what is missing with scripts/install_deps.sh (Dovecot, Postfix, Chromium,
#      PostgreSQL…); nothing when everything is there;
#   2. starts the loopback mail stack (scripts/mailstack.sh start) unless it runs already;
#   3. finds a PostgreSQL for the tests and exports DATABASE_URL_TEST (below);
#   4. runs `deno test --allow-all` with the arguments given, or on tests/ when none of them
#      names a file or folder: `deno task test tests/domain/`, `deno task test --filter IDLE`.
#
# PostgreSQL, when DATABASE_URL_TEST is not set: the private cluster in .pgtest/ when there is one;
# otherwise the server at 127.0.0.1:5432 when it answers; otherwise a Debian cluster (started when
# it is down) that lets `postgres` in without a password; otherwise a private cluster made here:
# initdb --auth=trust in .pgtest/, owned by the postgres OS user, on a free loopback port, fsync
# off (test data is thrown away). A DATABASE_URL_TEST that is set is used as it is.
#
# As another user the tests can't run (they add mailbox users and run servers as root): the script
# stops at once with one line that says what to run, exit code 1. When all is in place it adds
# a few hundredths of a second and prints nothing.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PG_DEFAULT_URL=postgres://postgres@127.0.0.1:5432/postgres
PG_PRIVATE=$ROOT/.pgtest
PG_FIRST_PORT=55432

die() {
  echo "test: $*" >&2
  exit 1
}

say() { echo "test: $*" >&2; }

port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# `sudo deno task test ARGS`, with deno's full path when sudo's own PATH would not find it.
sudo_command() {
  local deno arg out
  deno=$(command -v deno || echo deno)
  case "${deno%/*}" in
    /usr/local/sbin | /usr/local/bin | /usr/sbin | /usr/bin | /sbin | /bin) deno=deno ;;
  esac
  out="sudo $deno task test"
  for arg in "$@"; do out+=" $(printf '%q' "$arg")"; done
  printf '%s' "$out"
}

ensure_installed() {
  local missing
  if missing=$(bash scripts/install_deps.sh --check); then
    return 0
  fi
  missing=$(printf '%s' "$missing" | paste -sd ' ' - | sed 's/ /, /g')
  if [ "$(id -u)" -ne 0 ]; then
    die "not installed: $missing; run: $(sudo_command "$@") (it installs them with scripts/install_deps.sh first)"
  fi
  bash scripts/install_deps.sh
}

ensure_mailstack() {
  bash scripts/mailstack.sh status >/dev/null 2>&1 && return 0
  bash scripts/mailstack.sh start >&2 || die "the loopback mail stack did not start (see above)"
}

# --- PostgreSQL ---------------------------------------------------------------------------------

run_as_postgres() {
  runuser -u postgres -- "$@"
}

# Whether postgres@127.0.0.1:$1 lets us in without a password, as the tests connect.
pg_trusts() {
  PGPASSFILE=/dev/null PGPASSWORD='' PGCONNECT_TIMEOUT=10 \
    psql -X -w -q -h 127.0.0.1 -p "$1" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1
}

pg_wait_ready() {
  local port=$1
  for _ in $(seq 1 300); do
    pg_isready -q -h 127.0.0.1 -p "$port" && return 0
    sleep 0.1
  done
  return 1
}

use_pg_port() {
  export DATABASE_URL_TEST="postgres://postgres@127.0.0.1:$1/postgres"
}

# The newest installed server's programs (Debian keeps each major version apart).
pg_bindir() {
  local dir
  # shellcheck disable=SC2012 # version-sorted folder names
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# The port the private cluster runs on, if it runs.
private_running_port() {
  local data=$PG_PRIVATE/data pid port
  [ -f "$data/postmaster.pid" ] || return 1
  pid=$(sed -n 1p "$data/postmaster.pid")
  port=$(sed -n 4p "$data/postmaster.pid")
  [ -n "$pid" ] && [ -n "$port" ] && kill -0 "$pid" 2>/dev/null || return 1
  port_open 127.0.0.1 "$port" || return 1
  echo "$port"
}

free_port() {
  local p
  for p in $(seq "$PG_FIRST_PORT" $((PG_FIRST_PORT + 100))); do
    port_open 127.0.0.1 "$p" || {
      echo "$p"
      return 0
    }
  done
  die "no free port on 127.0.0.1 from $PG_FIRST_PORT to $((PG_FIRST_PORT + 100)) for PostgreSQL"
}

# The postgres OS user must reach the folder: when the project's path can't be searched by others
# (a checkout under /root), the cluster lives under /var/lib and .pgtest points there.
private_home() {
  if runuser -u postgres -- test -x "$ROOT"; then
    echo "$PG_PRIVATE"
  else
    echo "/var/lib/carteiro-pgtest/$(printf '%s' "$ROOT" | sha256sum | cut -c1-16)"
  fi
}

make_private_cluster() {
  local bin=$1 home port
  home=$(private_home)
  port=$(free_port)
  mkdir -p "$home"
  [ "$home" = "$PG_PRIVATE" ] || ln -sfn "$home" "$PG_PRIVATE"
  chown postgres:postgres "$home"
  chmod 0700 "$home"
  run_as_postgres "$bin/initdb" --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
    -D "$home/data" >"$home/initdb.log" 2>&1 ||
    { cat "$home/initdb.log" >&2; die "initdb failed in $home/data"; }
  run_as_postgres tee -a "$home/data/postgresql.conf" >/dev/null <<EOF

# Added by scripts/test.sh: a throwaway cluster for the tests, on loopback only.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  say "made a PostgreSQL cluster for the tests in .pgtest/ (127.0.0.1:$port, trust auth)"
}

start_private_cluster() {
  local bin=$1 data=$PG_PRIVATE/data port
  port=$(sed -n "s/^port = \([0-9]*\).*/\1/p" "$data/postgresql.conf" | tail -n 1)
  # Another program may have taken the port since: start on a free one then.
  if [ -z "$port" ] || port_open 127.0.0.1 "$port"; then port=$(free_port); fi
  # 8<&-: the server must not inherit, and so hold forever, the lock taken in ensure_postgres.
  run_as_postgres "$bin/pg_ctl" -D "$data" -l "$PG_PRIVATE/server.log" -o "-p $port" \
    -w -t 120 -s start 8<&- || {
    tail -n 20 "$PG_PRIVATE/server.log" >&2 2>/dev/null || true
    die "the tests' PostgreSQL in .pgtest/ did not start"
  }
  pg_wait_ready "$port" || die "the tests' PostgreSQL in .pgtest/ does not answer on port $port"
  say "started the tests' PostgreSQL in .pgtest/ (127.0.0.1:$port)"
}

# The first Debian cluster (pg_lsclusters) that runs, or is started, and trusts postgres over TCP.
use_debian_cluster() {
  local version name port status started
  command -v pg_lsclusters >/dev/null || return 1
  while read -r version name port status _; do
    started=0
    if [[ $status != online* ]]; then
      pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >/dev/null 2>&1 8<&- ||
        continue
      started=1
      pg_wait_ready "$port" || true
    fi
    if pg_trusts "$port"; then
      [ "$started" -eq 0 ] || say "started PostgreSQL cluster $version/$name (127.0.0.1:$port)"
      use_pg_port "$port"
      return 0
    fi
    # Not one the tests can use (it asks for a password): left as it was found.
    [ "$started" -eq 0 ] ||
      pg_ctlcluster --skip-systemctl-redirect "$version" "$name" stop >/dev/null 2>&1 || true
  done < <(pg_lsclusters -h 2>/dev/null)
  return 1
}

ensure_postgres() {
  local port
  if [ -n "${DATABASE_URL_TEST:-}" ]; then
    return 0
  fi
  if port=$(private_running_port); then
    use_pg_port "$port"
    return 0
  fi
  if [ ! -d "$PG_PRIVATE/data" ] && port_open 127.0.0.1 5432; then
    export DATABASE_URL_TEST=$PG_DEFAULT_URL
    return 0
  fi
  # The slow paths, one run at a time (two runs may start together): a lock on the project folder.
  exec 8<"$ROOT"
  flock -w 180 8 || die "another test run has been starting PostgreSQL for 3 minutes"
  start_postgres
  exec 8<&-
}

start_postgres() {
  local port bin
  if port=$(private_running_port); then
    use_pg_port "$port"
    return 0
  fi
  bin=$(pg_bindir) || die "PostgreSQL is not installed; run: bash scripts/install_deps.sh"
  if [ ! -d "$PG_PRIVATE/data" ]; then
    use_debian_cluster && return 0
    make_private_cluster "$bin"
  fi
  start_private_cluster "$bin"
  port=$(private_running_port) || die "the tests' PostgreSQL in .pgtest/ stopped at once; see .pgtest/server.log"
  use_pg_port "$port"
}

# --- main ---------------------------------------------------------------------------------------

main() {
  ensure_installed "$@"
  if [ "$(id -u)" -ne 0 ]; then
    die "the tests run Dovecot, Postfix and PostgreSQL and add mailbox users, which needs root;" \
      "run: $(sudo_command "$@")"
  fi
  ensure_mailstack
  ensure_postgres
  local arg named=0
  for arg in "$@"; do
    [ -e "$arg" ] && named=1
  done
  if [ "$named" -eq 1 ]; then
    exec deno test --allow-all "$@"
  fi
  exec deno test --allow-all "$@" tests/
}

main "$@"
