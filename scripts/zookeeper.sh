#!/usr/bin/env bash
# A throwaway ZooKeeper for replicated ClickHouse tables (tests, local
# clusters): own config, data dir and port under run/zookeeper-<port>
# (ignored by git), never a system-wide service. Debian's `zookeeper`
# package (3.8.0 on Debian 12), run standalone.
#
#   scripts/zookeeper.sh start   start it (idempotent), print its address
#   scripts/zookeeper.sh stop    stop it
#   scripts/zookeeper.sh addr    print the client address (127.0.0.1:PORT)
#   scripts/zookeeper.sh wipe    stop it and delete its data
#
# Environment: XHEP_ZOOKEEPER_PORT (client port, default 25970),
# XHEP_ZOOKEEPER_DIR (default run/zookeeper-PORT). No admin server (its
# default port 8080 is not taken), four-letter words ruok, srvr, mntr.
# tickTime is 1 s, so sessions may be 2-20 s (scripts/clickhouse.sh asks
# for 6 s: a killed replica's session ends soon).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
port=${XHEP_ZOOKEEPER_PORT:-25970}
dir=${XHEP_ZOOKEEPER_DIR:-$top/run/zookeeper-$port}
pidf=$dir/zookeeper.pid
jar=/usr/share/java/zookeeper.jar

running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }

# ask sends a four-letter word and prints the answer.
ask() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%s' "$1" >&3
  reply=$(timeout 2 cat <&3) || true
  exec 3<&- 3>&-
  printf '%s' "$reply"
}

# serving: the server answers srvr as a standalone server (its answer is
# read whole: grep -q in a pipe could end ask with SIGPIPE, which
# pipefail turns into a failure).
serving() {
  local out
  out=$(ask srvr 2>/dev/null) || true
  case "$out" in *"Mode: standalone"*) return 0 ;; esac
  return 1
}

start() {
  if running; then echo "127.0.0.1:$port"; return; fi
  [ -f "$jar" ] && command -v java >/dev/null ||
    { echo "zookeeper.sh: ZooKeeper not installed (apt-get install zookeeper)" >&2; exit 1; }
  mkdir -p "$dir/data" "$dir/log"
  cat >"$dir/zoo.cfg" <<CFG
tickTime=1000
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr
preAllocSize=4096
snapCount=100000
CFG
  # Debian's zookeeper.jar names its dependencies in its manifest;
  # slf4j-simple (libslf4j-java, a dependency) writes the log.
  java -Xms64m -Xmx256m -XX:+UseSerialGC \
    -Dorg.slf4j.simpleLogger.logFile="$dir/log/zookeeper.log" -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
    -Dorg.slf4j.simpleLogger.showDateTime=true -Dzookeeper.jmx.log4j.disable=true \
    -cp "$jar:/usr/share/java/slf4j-simple.jar" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" \
    >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$pidf"
  for _ in $(seq 1 240); do
    serving && break
    running || break
    sleep 0.25
  done
  serving || { echo "zookeeper.sh: server did not start (process $(running && echo running || echo gone), srvr: $(ask srvr 2>/dev/null | head -1)); see $dir/log" >&2
    tail -n 20 "$dir/log/zookeeper.log" "$dir/log/stdout.log" >&2 || true; exit 1; }
  echo "127.0.0.1:$port"
}

stop() {
  if running; then
    kill "$(cat "$pidf")"
    for _ in $(seq 1 120); do running || break; sleep 0.25; done
    if running; then kill -9 "$(cat "$pidf")"; fi
  fi
  rm -f "$pidf"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  addr) echo "127.0.0.1:$port" ;;
  wipe) stop; rm -rf "$dir" ;;
  *) echo "usage: $0 start|stop|addr|wipe" >&2; exit 2 ;;
esac
