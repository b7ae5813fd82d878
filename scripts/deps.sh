#!/usr/bin/env bash
# Installs, idempotently and only what is missing, every Debian package that
# building, testing and the demo need. Safe to run again and again.
set -euo pipefail

pkgs=(
  clang-19 llvm-19 libbpf-dev bpftool   # BPF programs (make generate) and inspection
  mariadb-server mariadb-client         # the throwaway database (scripts/mariadb.sh)
  mariadb-plugin-provider-lz4           # LZ4 page compression (--mysql-page-compression lz4; its test)
  tshark                                # tests compare our dissection with Wireshark's
  tcpreplay                             # live-capture tests and benchmarks replay pcaps
  iproute2 ethtool curl jq              # network namespaces and veth pairs for tests/demo
  kamailio                              # HEP v2/v3 interop test against a real siptrace
  chromium                              # the web UI test drives a real headless browser
  slapd ldap-utils                      # the console's LDAP login test runs its own OpenLDAP server
  qemu-system-x86 busybox-static cpio   # BPF tests on real older kernels under QEMU (scripts/vm)
  zstd xz-utils kmod                    # unpacking Debian kernel packages (depmod) for the VM tests
  clickhouse-server clickhouse-client   # the scale-out backend's throwaway server (scripts/clickhouse.sh)
  zookeeper                             # replicated ClickHouse tables' throwaway ZooKeeper (scripts/zookeeper.sh)
  prometheus                            # promtool checks metrics, rules and dashboards' queries
  systemd                               # systemd-analyze verifies the service units (deploy/)
  ca-certificates
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # Never let the package start a system-wide MariaDB: we run our own throwaway one.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tests start their own Prometheus (own port and data dir); the
# package's system-wide service must not run or start at boot.
if [ -d /run/systemd/system ] && [ "$(id -u)" = 0 ]; then
  systemctl disable --now prometheus.service prometheus-node-exporter.service >/dev/null 2>&1 || true
fi

if ! command -v go >/dev/null; then
  echo "deps.sh: Go 1.26 or newer is needed on PATH (/usr/local/go/bin)" >&2
  exit 1
fi
