#!/usr/bin/env bash
# A throwaway ClickHouse server for tests, benchmarks and the demo: own
# config, data dir and ports under run/clickhouse-<port> (ignored by git),
# never the system's server. Debian's clickhouse-server (18.16 here).
#
#   scripts/clickhouse.sh start   start it (idempotent), print its address
#   scripts/clickhouse.sh stop    stop it
#   scripts/clickhouse.sh addr    print the native address (127.0.0.1:PORT)
#   scripts/clickhouse.sh wipe    stop it and delete its data
#   scripts/clickhouse.sh kill    kill -9 it (fault tests); its data stays
#
# Environment: XHEP_CLICKHOUSE_PORT (native port, default 25900; HTTP is
# PORT+1, interserver PORT+2), XHEP_CLICKHOUSE_DIR (default
# run/clickhouse-PORT), XHEP_CLICKHOUSE_CLUSTER ("name=SHARD,SHARD,..." for
# --clickhouse-cluster, each SHARD its replicas host:port|host:port|...:
# "xhep=127.0.0.1:9000,127.0.0.1:9010" is two one-replica shards,
# "xhep=127.0.0.1:9000|127.0.0.1:9010" one shard of two replicas; shards
# are written with internal_replication, the replicas replicate themselves),
# XHEP_CLICKHOUSE_ZOOKEEPER ("host:port,host:port": ZooKeeper for
# ReplicatedMergeTree, session timeout 6 s; scripts/zookeeper.sh), and the
# macros {shard} and {replica} the replicated tables' paths use:
# XHEP_CLICKHOUSE_SHARD (default: the number of the cluster's shard that
# lists 127.0.0.1:PORT) and XHEP_CLICKHOUSE_REPLICA (default 127.0.0.1-PORT).
# User xhep, password xhep.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
port=${XHEP_CLICKHOUSE_PORT:-25900}
dir=${XHEP_CLICKHOUSE_DIR:-$top/run/clickhouse-$port}
http=$((port + 1))
inter=$((port + 2))
pidf=$dir/clickhouse.pid

running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }

cluster_xml() {
  local spec=${XHEP_CLICKHOUSE_CLUSTER:-}
  [ -n "$spec" ] || return 0
  local name=${spec%%=*} list=${spec#*=}
  echo "  <remote_servers><$name>"
  local IFS=, sh hp
  for sh in $list; do
    printf '    <shard><internal_replication>true</internal_replication>'
    IFS='|'
    for hp in $sh; do
      printf '<replica><host>%s</host><port>%s</port><user>xhep</user><password>xhep</password></replica>' "${hp%:*}" "${hp##*:}"
    done
    IFS=,
    echo '</shard>'
  done
  echo "  </$name></remote_servers>"
}

# my_shard is the number of the cluster's shard that lists this server.
my_shard() {
  local spec=${XHEP_CLICKHOUSE_CLUSTER:-} n=0 sh hp
  [ -n "$spec" ] || return 0
  local IFS=,
  for sh in ${spec#*=}; do
    n=$((n + 1))
    IFS='|'
    for hp in $sh; do
      if [ "$hp" = "127.0.0.1:$port" ] || [ "$hp" = "localhost:$port" ]; then echo "$n"; return; fi
    done
    IFS=,
  done
}

zookeeper_xml() {
  local spec=${XHEP_CLICKHOUSE_ZOOKEEPER:-} hp
  [ -n "$spec" ] || return 0
  printf '  <zookeeper>'
  local IFS=,
  for hp in $spec; do printf '<node><host>%s</host><port>%s</port></node>' "${hp%:*}" "${hp##*:}"; done
  echo '<session_timeout_ms>6000</session_timeout_ms><operation_timeout_ms>5000</operation_timeout_ms></zookeeper>'
}

macros_xml() {
  local shard=${XHEP_CLICKHOUSE_SHARD:-$(my_shard)}
  [ -n "$shard" ] || shard=1
  echo "  <macros><shard>$shard</shard><replica>${XHEP_CLICKHOUSE_REPLICA:-127.0.0.1-$port}</replica></macros>"
}

start() {
  if running; then echo "127.0.0.1:$port"; return; fi
  command -v clickhouse-server >/dev/null || { echo "clickhouse.sh: clickhouse-server not installed (apt-get install clickhouse-server)" >&2; exit 1; }
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/log" "$dir/format_schemas"
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog><size>100M</size><count>2</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port>
  <tcp_port>$port</tcp_port>
  <interserver_http_port>$inter</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>512</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <compression><case><method>zstd</method></case></compression>
$(cluster_xml)
$(zookeeper_xml)
$(macros_xml)
</yandex>
XML
  cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><load_balancing>random</load_balancing></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <xhep><password>xhep</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></xhep>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
  # 18.16 ignores --pid-file: the pid is the background job's.
  clickhouse-server --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$pidf"
  # Up to a minute: a loaded machine (CI shares two cores) starts it slowly.
  for _ in $(seq 1 240); do
    if clickhouse-client --port "$port" -u xhep --password xhep -q "SELECT 1" >/dev/null 2>&1; then break; fi
    running || break
    sleep 0.25
  done
  clickhouse-client --port "$port" -u xhep --password xhep -q "SELECT 1" >/dev/null 2>&1 ||
    { echo "clickhouse.sh: server did not start; see $dir/log" >&2; tail -n 20 "$dir/log/error.log" "$dir/log/stdout.log" >&2 || true; exit 1; }
  echo "127.0.0.1:$port"
}

stop() {
  if running; then
    kill "$(cat "$pidf")"
    for _ in $(seq 1 120); do running || break; sleep 0.25; done
  fi
}

kill9() {
  if running; then
    kill -9 "$(cat "$pidf")"
    for _ in $(seq 1 120); do running || break; sleep 0.25; done
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  kill) kill9 ;;
  addr) echo "127.0.0.1:$port" ;;
  wipe) stop; rm -rf "$dir" ;;
  *) echo "usage: $0 start|stop|kill|addr|wipe" >&2; exit 2 ;;
esac
