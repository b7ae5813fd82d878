#!/usr/bin/env bash
# initrd.sh KERNELDIR OUT: builds a gzip'd cpio initramfs for the unpacked
# Debian kernel in KERNELDIR (see kernel.sh): busybox-static, the kernel's
# own virtio, 9p, veth and clsact/cls_bpf modules with everything they
# need according to its modules.dep, and scripts/vm/init.
set -euo pipefail
kdir=${1:?usage: initrd.sh KERNELDIR OUT}
out=${2:?usage: initrd.sh KERNELDIR OUT}
here=$(cd "$(dirname "$0")" && pwd)
rel=$(ls "$kdir/lib/modules" | head -1)
mdir=$kdir/lib/modules/$rel
want=(virtio virtio_ring virtio_pci 9pnet 9pnet_virtio 9p veth sch_ingress cls_bpf)

bb=$(command -v busybox || echo /bin/busybox)
if ! file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
  [ -x /bin/busybox ] && bb=/bin/busybox
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/lib/modules" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/host"
cp "$bb" "$tmp/bin/busybox"
cp "$here/init" "$tmp/init"
chmod +x "$tmp/init"

# Resolve each wanted module and its dependencies (modules.dep lists them
# all, nearest first) into a load order: dependencies before users.
declare -A seen=()
order=()
add() { # path relative to $mdir
  local m=$1 line deps d
  [ -n "${seen[$m]:-}" ] && return 0
  seen[$m]=1
  line=$(grep -m1 "^$m:" "$mdir/modules.dep" || true)
  deps=${line#*:}
  local rev=()
  for d in $deps; do rev=("$d" "${rev[@]}"); done
  for d in "${rev[@]}"; do add "$d"; done
  order+=("$m")
}
for w in "${want[@]}"; do
  path=$(grep -m1 -E "(^|/)${w}\.ko(\.[a-z]+)?:" "$mdir/modules.dep" | cut -d: -f1 || true)
  if [ -z "$path" ]; then
    # Built in: nothing to load.
    grep -q -E "/${w}\.ko" "$mdir/modules.builtin" 2>/dev/null || echo "initrd.sh: $w: neither module nor built in ($rel)" >&2
    continue
  fi
  add "$path"
done
: > "$tmp/modules.order"
for m in "${order[@]}"; do
  b=$(basename "$m")
  case "$b" in
    *.ko) cp "$mdir/$m" "$tmp/lib/modules/$b" ;;
    *.ko.xz) xz -dc "$mdir/$m" > "$tmp/lib/modules/${b%.xz}"; b=${b%.xz} ;;
    *.ko.zst) zstd -qdc "$mdir/$m" > "$tmp/lib/modules/${b%.zst}"; b=${b%.zst} ;;
  esac
  echo "$b" >> "$tmp/modules.order"
done
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
