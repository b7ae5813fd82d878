#!/usr/bin/env bash
# A throwaway MariaDB for tests and the demo: own datadir, socket and port
# under run/mariadb (ignored by git), never the system's server.
#
#   scripts/mariadb.sh start   start it (idempotent), print the DSN
#   scripts/mariadb.sh stop    stop it
#   scripts/mariadb.sh dsn     print the DSN
#   scripts/mariadb.sh wipe    stop it and delete its data
#
# Environment: XHEP_MARIADB_DIR (default run/mariadb), XHEP_MARIADB_PORT
# (default 33306), XHEP_MARIADB_BUFFER_POOL (InnoDB buffer pool, default
# 2G; the 10-million-row API benchmark uses more so its data fits in RAM,
# as a production server's would).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${XHEP_MARIADB_DIR:-$top/run/mariadb}
port=${XHEP_MARIADB_PORT:-33306}
pool=${XHEP_MARIADB_BUFFER_POOL:-2G}
sock=$dir/mysqld.sock
pidf=$dir/mysqld.pid
user=xhep
pass=xhep
dsn="$user:$pass@tcp(127.0.0.1:$port)/"

running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }

start() {
  if running; then echo "$dsn"; return; fi
  # Its own tmpdir: a starting mariadbd deletes every "#sql*" file in its
  # tmpdir (mysql_rm_tmp_tables), so with the default /tmp each server the
  # fault and outage tests start removed the shared server's internal
  # temporary tables mid-query (CI: "Error on delete of
  # '/tmp/#sql-temptable-…MAI' (Errcode: 2)").
  mkdir -p "$dir" "$dir/tmp"
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
      --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1 ||
      { cat "$dir/install.log" >&2; exit 1; }
  fi
  # The LZ4 page compression provider (scripts/deps.sh), when installed:
  # loaded only, the algorithm stays zlib (innodb_compression_algorithm;
  # README "Storage figures": zlib level 1 is smaller and no slower).
  plugins=()
  plugdir=$(mariadbd --no-defaults --help --verbose 2>/dev/null | awk '$1 == "plugin-dir" {print $2}')
  if [ -n "$plugdir" ] && [ -e "$plugdir/provider_lz4.so" ]; then plugins+=(--plugin-load-add=provider_lz4); fi
  # Sized for a 2-core test box: enough buffer pool for tens of millions of
  # rows, binlog off, relaxed flushing (this is a throwaway server).
  mariadbd --no-defaults --user=root --datadir="$dir/data" --socket="$sock" \
    --tmpdir="$dir/tmp" --pid-file="$pidf" --port="$port" --bind-address=127.0.0.1 \
    --log-error="$dir/error.log" --innodb-buffer-pool-size="$pool" \
    --innodb-log-file-size=512M --innodb-flush-log-at-trx-commit=2 \
    --skip-log-bin --max-connections=500 --local-infile=1 \
    --innodb-autoinc-lock-mode=2 --innodb-io-capacity=2000 --innodb-log-buffer-size=64M \
    --innodb-flush-neighbors=0 \
    --max-allowed-packet=64M "${plugins[@]}" >/dev/null 2>&1 &
  for _ in $(seq 1 120); do
    if mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; then break; fi
    sleep 0.25
  done
  mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1 ||
    { echo "mariadb.sh: server did not start; see $dir/error.log" >&2; tail -20 "$dir/error.log" >&2; exit 1; }
  mariadb --no-defaults --socket="$sock" -uroot -e "
    CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$pass';
    CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$pass';
    GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1' WITH GRANT OPTION;
    GRANT ALL PRIVILEGES ON *.* TO '$user'@'localhost' WITH GRANT OPTION;"
  echo "$dsn"
}

stop() {
  if running; then
    mariadb-admin --no-defaults --socket="$sock" -uroot shutdown 2>/dev/null || kill "$(cat "$pidf")"
    for _ in $(seq 1 120); do running || break; sleep 0.25; done
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  dsn) echo "$dsn" ;;
  wipe) stop; rm -rf "$dir" ;;
  *) echo "usage: $0 start|stop|dsn|wipe" >&2; exit 2 ;;
esac
