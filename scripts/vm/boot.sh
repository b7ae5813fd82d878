#!/usr/bin/env bash
# boot.sh KERNELDIR INITRD TIMEOUT CMD: boots the kernel under QEMU (software
# emulation: nested KVM is not usable on every CI machine), runs CMD in the
# guest chrooted into this machine's root file system (read-only over
# virtio-9p, tmpfs on /run), prints the serial console and exits with CMD's
# status; 124 when the guest did not finish within TIMEOUT seconds.
set -uo pipefail
kdir=${1:?usage: boot.sh KERNELDIR INITRD TIMEOUT CMD}
initrd=${2:?}
limit=${3:?}
cmd=${4:?}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The command goes through the kernel command line: no spaces there.
enc=$(printf '%s' "$cmd" | sed 's/ /\\x20/g')
case "$cmd" in *' '*) echo "boot.sh: CMD must be one word (a script path)" >&2; exit 2 ;; esac
timeout --kill-after=10 "$limit" qemu-system-x86_64 \
  -accel tcg -cpu max -smp "${XHEP_VM_CPUS:-2}" -m 2048 \
  -kernel "$kdir/vmlinuz" -initrd "$initrd" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init xhep.run=$enc" \
  -fsdev local,id=hostfs,path=/,readonly=on,security_model=none,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostfs,mount_tag=host \
  -nic none -display none -serial stdio -monitor none -no-reboot </dev/null | tee "$log"
st=${PIPESTATUS[0]}
if [ "$st" = 124 ] || [ "$st" = 137 ]; then
  echo "boot.sh: the guest did not finish within ${limit}s" >&2
  exit 124
fi
rc=$(grep -a -o 'XHEP-VM-EXIT [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
if [ -z "$rc" ]; then
  echo "boot.sh: the guest ended without a result (qemu status $st)" >&2
  exit 125
fi
exit "$rc"
