#!/usr/bin/env bash
# test.sh: the BPF tests on real Debian kernels. Boots Debian 11's 5.10
# (bullseye) and Debian 12's 6.1 (bookworm) under QEMU, one VM each, and
# runs inside them the program-load tests, the prog.Run filter tests and
# live captures over a veth pair between two network namespaces (XDP in,
# TC out; ringbuf, perf buffer and the forced Linux 5.4 feature set, and
# afxdp), from test binaries built here. Fails when a guest test fails or
# skips, or a guest does not finish in time. Kernels are fetched once
# with apt and cached under run/vm (scripts/vm/kernel.sh).
#
#   XHEP_VM_KERNELS="bullseye:5.10.0 bookworm:6.1.0"  suites and series to boot
#   XHEP_VM_TIMEOUT=900                               seconds per guest
#   XHEP_VM=0                                         skip the VM tests
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH=$PATH:/usr/sbin:/sbin
if [ "${XHEP_VM:-1}" = 0 ]; then
  echo "vm-test: skipped (XHEP_VM=0)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "vm-test: skipped: needs root (BPF and namespaces in the guest, depmod on the unpacked kernels)"
  exit 0
fi
kernels=${XHEP_VM_KERNELS:-"bullseye:5.10.0 bookworm:6.1.0"}
limit=${XHEP_VM_TIMEOUT:-900}
GO=${GO:-go}
start=$(date +%s)

# Test binaries built on this machine, run in the guests from the host's
# /tmp, which the guests see read-only through the shared root.
work=$(mktemp -d /tmp/xhep-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
"$GO" test -c -o "$work/bpf.test" ./bpf
"$GO" test -c -o "$work/source.test" ./agent/source

cat > "$work/guest.sh" <<GUEST
#!/bin/sh
# Runs in the guest, chrooted into the host's root file system.
cd "$work" || exit 1
export TMPDIR=/run/tmp
mkdir -p \$TMPDIR
rc=0
t() {
  name=\$1; shift
  echo "XHEP-VM-TEST BEGIN \$name"
  "\$@" -test.v -test.count=1 -test.timeout=300s > /run/out 2>&1
  st=\$?
  grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok|panic)|variant:|_test.go:' /run/out | grep -v '^=== RUN' | grep -v -- '--- PASS: TestFilterMatch/'
  if [ \$st -ne 0 ]; then
    echo "XHEP-VM-TEST FAIL \$name (exit \$st)"; tail -40 /run/out | cut -c1-300; rc=1
  elif grep -q -- '--- SKIP' /run/out; then
    echo "XHEP-VM-TEST FAIL \$name (a test skipped)"; rc=1
  else
    echo "XHEP-VM-TEST PASS \$name"
  fi
}
# Program load, prog.Run filter tests, records through both buffers.
t bpf ./bpf.test -test.run '^(TestLoad|TestBuffers|TestPerfDrops|TestFilter.*|TestExclude|TestAttach.*|TestChooseBuffer|TestVXLANPortFromRules)\$'
# RTP statistics (prog.Run against the Go reference, two CPUs on one
# stream, the live veth path): a binary of its own, so that each stays
# within its 300 s under emulated CPUs.
t bpf-rtp ./bpf.test -test.run '^TestRTP.*\$'
# The Linux 5.4 feature set forced: perf buffer, netlink XDP, clsact.
XHEP_BPF_LEGACY=1 t bpf-legacy-5.4 ./bpf.test -test.run '^(TestLoad|TestFilterMatch|TestFilterFragments|TestFilterFlow|TestAttach.*|TestRTP.*)\$'
# Live capture over veth between two namespaces: ringbuf, perf, legacy, afxdp.
t live ./source.test -test.run '^(TestLiveCapture|TestLiveXDPBusy|TestLiveCollectors|TestLiveFlowsAndFragments|TestLiveFragmentsAnyOrder|TestFiltersAgree)\$'
exit \$rc
GUEST
chmod 755 "$work/guest.sh"

mkdir -p run/vm
pids=() names=()
# Interrupted: stop the guests (each boot.sh and the timeout/qemu under it).
killtree() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do killtree "$c"; done
  kill "$1" 2>/dev/null || true
}
trap 'for p in "${pids[@]}"; do killtree "$p"; done; rm -rf "$work"; exit 130' INT TERM
for k in $kernels; do
  suite=${k%%:*} series=${k#*:}
  kdir=$(scripts/vm/kernel.sh "$suite" "$series")
  rel=$(ls "$kdir/lib/modules" | head -1)
  initrd=run/vm/initrd-$rel.gz
  [ -s "$initrd" ] && [ "$initrd" -nt scripts/vm/init ] && [ "$initrd" -nt scripts/vm/initrd.sh ] ||
    scripts/vm/initrd.sh "$kdir" "$initrd"
  log=run/vm/$rel.log
  echo "vm-test: booting $rel (Debian $suite)"
  scripts/vm/boot.sh "$kdir" "$initrd" "$limit" "$work/guest.sh" > "$log" 2>&1 &
  pids+=($!) names+=("$rel")
done

fail=0
for i in "${!pids[@]}"; do
  rel=${names[$i]}
  log=run/vm/$rel.log
  if wait "${pids[$i]}"; then st=0; else st=$?; fi
  echo "== $rel"
  grep -a -E 'XHEP-VM-TEST (PASS|FAIL)|variant:' "$log" | sed 's/\r$//' | sort -u | sed 's/^/   /'
  # The tests that passed in this kernel, for the README's kernel table.
  grep -a -E -- '^--- PASS: ' "$log" | awk '{print $3}' | sort -u | tr '\n' ' ' > "run/vm/$rel.passed"
  echo "   passed: $(cat "run/vm/$rel.passed")"
  if [ "$st" != 0 ]; then
    fail=1
    case $st in
      124) echo "vm-test: $rel did not finish within ${limit}s" ;;
      *) echo "vm-test: $rel failed (status $st); its console:"; grep -a -v '^        	' "$log" | tail -80 ;;
    esac
  fi
done
echo "vm-test: $(( $(date +%s) - start ))s for ${#pids[@]} kernels"
exit $fail
