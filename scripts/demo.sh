#!/usr/bin/env bash
# make demo: the whole job end to end on this machine.
#
# 1. a throwaway MariaDB (scripts/mariadb.sh; with STORAGE=clickhouse a
#    throwaway ClickHouse, scripts/clickhouse.sh) and xhep-collector on loopback
#    (HEP on udp/tcp 127.0.0.1:9060, API, UI and /metrics on 127.0.0.1:9080);
# 2. a small network: the host is the SIP proxy side (veth xdemo0), a network
#    namespace xdemo-phones holds the phones side (veth xdemo1);
# 3. xhep-agent attached to xdemo0 with XDP (ingress) and TC (egress) in
#    ring-buffer mode, sending HEP to the collector;
# 4. generated traffic (calls with RTCP, registrations, DNS, failed and
#    cancelled calls, B2BUA calls with two linked legs) played through the
#    veth pair in wire direction: proxy/PBX/trunk/resolver frames leave
#    xdemo0 (TC egress), phone frames arrive on it (XDP ingress);
# 5. what a user wants to see: rows per table, one B2BUA call's flow as a
#    text ladder with its RTCP summary, and where the API and metrics are.
#
# The namespace and veth are removed on exit or Ctrl-C; MariaDB and the
# collector stay up for you to explore until `make demo-stop`.
#
#   scripts/demo.sh        run the demo
#   scripts/demo.sh stop   stop the collector and the throwaway MariaDB
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
run=$top/run/demo
bin=$top/bin
ns=xdemo-phones
http=127.0.0.1:9080
db=xhep_demo
dbport=${XHEP_MARIADB_PORT:-33306} # scripts/mariadb.sh uses the same variable
storage=${STORAGE:-mysql}           # mysql, or clickhouse (make demo STORAGE=clickhouse)
chport=${XHEP_CLICKHOUSE_PORT:-25900} # scripts/clickhouse.sh uses the same variable
case "$storage" in mysql|clickhouse) ;; *) echo "demo: STORAGE=$storage: want mysql or clickhouse" >&2; exit 2 ;; esac

# sql runs one query on the demo's store and prints the rows, tab-separated.
sql() {
  if [ "$storage" = clickhouse ]; then
    clickhouse-client --port "$chport" -u xhep --password xhep -q "$1"
  else
    mariadb --no-defaults -h127.0.0.1 -P"$dbport" -uxhep -pxhep -N -e "$1"
  fi
}

stop() {
  if [ -f "$run/collector.pid" ] && kill -0 "$(cat "$run/collector.pid")" 2>/dev/null; then
    kill -TERM "$(cat "$run/collector.pid")"
    for _ in $(seq 1 100); do kill -0 "$(cat "$run/collector.pid")" 2>/dev/null || break; sleep 0.1; done
    echo "demo: collector stopped"
  fi
  rm -f "$run/collector.pid"
  scripts/mariadb.sh stop && echo "demo: MariaDB stopped (data kept in run/mariadb; scripts/mariadb.sh wipe deletes it)"
  if [ "$(cat "$run/storage" 2>/dev/null)" = clickhouse ]; then
    scripts/clickhouse.sh stop && echo "demo: ClickHouse stopped (data kept in run/clickhouse-$chport; scripts/clickhouse.sh wipe deletes it)"
  fi
  rm -f "$run/storage"
}

if [ "${1:-}" = stop ]; then stop; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it loads BPF programs and creates a network namespace)" >&2; exit 1; }

mkdir -p "$run"
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  ip link del xdemo0 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

urlenc() {
  local s=$1 out= c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in [a-zA-Z0-9.~_-]) out+=$c ;; *) printf -v c '%%%02X' "'$c"; out+=$c ;; esac
  done
  echo "$out"
}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "database and collector"
mkdir -p "$run"
echo "$storage" >"$run/storage"
if [ "$storage" = clickhouse ]; then
  chaddr=$(scripts/clickhouse.sh start)
  storeflags=(--clickhouse "$chaddr" --clickhouse-user xhep --clickhouse-password xhep)
else
  dsn=$(scripts/mariadb.sh start)
  storeflags=(--mysql "$dsn")
fi
sql "DROP DATABASE IF EXISTS $db" >/dev/null
if [ -f "$run/collector.pid" ] && kill -0 "$(cat "$run/collector.pid")" 2>/dev/null; then
  kill -TERM "$(cat "$run/collector.pid")"; sleep 1
fi
"$bin/xhep-collector" --listen udp://127.0.0.1:9060 --listen tcp://127.0.0.1:9060 \
  "${storeflags[@]}" --database "$db" --http "$http" --spill-dir "$run/spill" \
  >"$run/collector.log" 2>&1 &
echo $! >"$run/collector.pid"
for _ in $(seq 1 100); do curl -sf "http://$http/metrics" >/dev/null && break; sleep 0.1; done
curl -sf "http://$http/metrics" >/dev/null || { echo "demo: collector did not start:" >&2; cat "$run/collector.log" >&2; exit 1; }
echo "collector pid $(cat "$run/collector.pid"), log $run/collector.log"

say "network: host (SIP proxy side, xdemo0) <-veth-> namespace $ns (phones, xdemo1)"
cleanup
ip netns add "$ns"
ip link add xdemo0 type veth peer name xdemo1 netns "$ns"
ip link set xdemo0 up
ip -n "$ns" link set xdemo1 up
ip -br link show xdemo0

say "agent: XDP ingress + TC egress on xdemo0, ring buffer, HEP to udp://127.0.0.1:9060"
"$bin/xhep-agent" --iface xdemo0 --mode ringbuf --collector udp://127.0.0.1:9060 \
  --node-id 2001 --node-name demo-proxy --metrics 127.0.0.1:9081 >"$run/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:9081/metrics >/dev/null && break; sleep 0.1; done
curl -sf http://127.0.0.1:9081/metrics >/dev/null || { echo "demo: agent did not start:" >&2; cat "$run/agent.log" >&2; exit 1; }
echo "agent pid $agent_pid, log $run/agent.log"

say "traffic: generated calls, registrations, OPTIONS, DNS and RTCP"
"$bin/xhep-bench" gen --calls 24 --registrations 8 --options 4 --seed 7 --out "$run/traffic.pcap"
"$bin/xhep-bench" replay --read "$run/traffic.pcap" --iface xdemo0 --peer xdemo1 --peer-netns "$ns" \
  --local 10.0.0.0/24 --pps 3000

sleep 1
kill -TERM "$agent_pid"; wait "$agent_pid" || true; agent_pid=
say "agent summary"
sed -n '/^read:/,$p' "$run/agent.log" | head -40
sleep 1.5 # the collector's batch interval

say "rows stored per table ($storage, database $db)"
if [ "$storage" = clickhouse ]; then
  tables=$(sql "SELECT name FROM system.tables WHERE database='$db' AND match(name, '^hep_proto_[0-9]+_[a-z]+\$') ORDER BY name")
else
  tables=$(sql "SELECT table_name FROM information_schema.tables WHERE table_schema='$db' AND table_name LIKE 'hep_proto_%' ORDER BY table_name" 2>/dev/null)
fi
for t in $tables; do
  printf '  %-28s %s\n' "$t" "$(sql "SELECT COUNT(*) FROM $db.$t")"
done

callid=$(sql "SELECT callid_aleg FROM $db.hep_proto_1_call WHERE callid_aleg IS NOT NULL AND callid_aleg <> '' ORDER BY callid_aleg LIMIT 1")
if [ -z "$callid" ]; then
  callid=$(sql "SELECT callid FROM $db.hep_proto_1_call ORDER BY callid LIMIT 1")
fi
say "call flow of $callid and its linked legs (GET /api/v1/calls/{callid}/text)"
enc=$(urlenc "$callid")
curl -sf "http://$http/api/v1/calls/$enc/text" | sed '/^====/,$d' || echo "(the API did not answer; see $run/collector.log)"
say "RTCP of that call (GET /api/v1/calls/{callid}/flow)"
curl -sf "http://$http/api/v1/calls/$enc/flow" | jq -r '
  .rtcp_streams[] | "  \(.src) -> \(.dst)  leg \(.callid[0:24])  reports \(.points | length)" +
    "  max jitter \([.points[].jitter_ms] | max) ms  max loss \([.points[].loss_pct] | max | . * 10 | round / 10) %" +
    "  lost \(.points[-1].packets_lost)"' || echo "(no RTCP)"

say "where to look"
cat <<EOT
  web UI        http://$http/#call=$enc
  search API    curl 'http://$http/api/v1/calls?from_user=1001'
  call flow     curl 'http://$http/api/v1/calls/$enc/flow'
  pcap export   curl -o call.pcap 'http://$http/api/v1/calls/$enc/pcap'
  metrics       curl http://$http/metrics   (collector)
  database      $(if [ "$storage" = clickhouse ]; then echo "clickhouse-client --port $chport -u xhep --password xhep -d $db"; else echo "mariadb -h127.0.0.1 -P$dbport -uxhep -pxhep $db"; fi)
  still running: the collector (pid $(cat "$run/collector.pid")) and the $storage server; stop both with: make demo-stop
EOT
