#!/usr/bin/env bash
# kernel.sh SUITE SERIES: fetches (once) the newest Debian kernel package
# linux-image-SERIES-*-amd64-unsigned of the Debian suite SUITE with apt,
# unpacks it and runs depmod on it, under run/vm/. Prints the directory of
# the unpacked kernel (vmlinuz and lib/modules/<release>/ inside).
#
# The apt sources are this machine's own Debian sources with the suite
# swapped, written under run/vm/apt-SUITE/ with their own lists and cache,
# so the host's apt configuration is left alone.
set -euo pipefail

suite=${1:?usage: kernel.sh SUITE SERIES (e.g. bullseye 5.10.0)}
series=${2:?usage: kernel.sh SUITE SERIES}
root=$(cd "$(dirname "$0")/../.." && pwd)
top=$root/run/vm
apt=$top/apt-$suite
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc"

# One kernel per suite: reuse it when present.
done_mark=$top/kernel-$suite/.ready
if [ -e "$done_mark" ]; then
  cat "$done_mark"
  exit 0
fi

# The host's Debian mirror(s): deb822 .sources or one-line sources.list.
mirror_lines() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1=="deb" {for(i=2;i<=NF;i++) if($i ~ /^(https?|file):/){print $i; break}}' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk 'tolower($1)=="uris:" {for(i=2;i<=NF;i++) print $i}' "$f"
  done
}
main_uri="" sec_uri=""
while read -r u; do
  case "$u" in
    */debian-security*) [ -n "$sec_uri" ] || sec_uri=$u ;;
    */debian|*/debian/) [ -n "$main_uri" ] || main_uri=${u%/} ;;
  esac
done < <(mirror_lines)
if [ -z "$main_uri" ]; then
  echo "kernel.sh: no Debian mirror found in /etc/apt/sources.list{,.d}" >&2
  exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
{
  echo "Types: deb"
  echo "URIs: $main_uri"
  echo "Suites: $suite"
  echo "Components: main"
  echo "Signed-By: $keyring"
  if [ -n "$sec_uri" ]; then
    echo
    echo "Types: deb"
    echo "URIs: ${sec_uri%/}"
    echo "Suites: $suite-security"
    echo "Components: main"
    echo "Signed-By: $keyring"
  fi
} > "$apt/etc/xhep.sources"
touch "$apt/status"

aptopts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$apt/etc"
  -o "Dir::State=$apt"
  -o "Dir::State::Lists=$apt/lists"
  -o "Dir::State::status=$apt/status"
  -o "Dir::Cache=$apt"
  -o "Dir::Cache::Archives=$apt/archives"
  -o "APT::Architecture=amd64"
  -o "APT::Architectures::=amd64"
  -o "Acquire::Languages=none"
)
apt-get "${aptopts[@]}" -qq update >&2
# The newest ABI of the series, e.g. linux-image-5.10.0-33-amd64-unsigned.
pkg=$(apt-cache "${aptopts[@]}" --names-only search "^linux-image-${series//./\\.}-[0-9]+-amd64-unsigned\$" |
  awk '{print $1}' | sort -V | tail -1)
if [ -z "$pkg" ]; then
  echo "kernel.sh: no linux-image-$series-*-amd64-unsigned in $suite" >&2
  exit 1
fi
(cd "$apt/archives" && apt-get "${aptopts[@]}" -qq download "$pkg" >&2)
deb=$(ls -t "$apt/archives/${pkg}"_*.deb | head -1)
out=$top/kernel-$suite
rm -rf "$out"
mkdir -p "$out"
dpkg-deb -x "$deb" "$out"
rel=$(ls "$out/lib/modules" | head -1)
ln -sf "boot/vmlinuz-$rel" "$out/vmlinuz"
depmod -b "$out" "$rel"
echo "$out" > "$done_mark"
echo "kernel.sh: $pkg ($rel) in $out" >&2
echo "$out"
