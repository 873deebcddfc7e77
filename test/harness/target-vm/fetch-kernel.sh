#!/bin/bash
# Fetches Debian 13 (trixie)'s kernel (linux-image-6.12.*+deb13-amd64: CONFIG_NVME_HOST_AUTH=y,
# CONFIG_NVME_TARGET_AUTH=y) for the VM harness, without installing anything into the host system:
# a private apt configuration (its own sources list, state and cache directories) downloads the .deb,
# `dpkg-deb -x` unpacks it into a cache folder, and depmod indexes the unpacked module tree.
# Idempotent: a complete tree (marker file) is reused without asking apt anything.
# Usage: fetch-kernel.sh [6.12]     prints the kernel tree on stdout, e.g. <cache>/6.12/root
#   the tree holds boot/vmlinuz-<kver> and lib/modules/<kver>/ (modules.dep included)
# Env: STAS_KERNEL_CACHE  cache folder (default ${XDG_CACHE_HOME:-~/.cache}/stas/kernels; shared by checkouts)
#      STAS_DEBIAN_MIRROR default http://deb.debian.org/debian
set -euo pipefail
SERIES=${1:-6.12}
case "$SERIES" in
  6.12) SUITE=trixie; KEYRING=/usr/share/keyrings/debian-archive-trixie-automatic.gpg ;;
  *) echo "fetch-kernel: unknown kernel series '$SERIES' (known: 6.12)" >&2; exit 2 ;;
esac
CACHE=${STAS_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stas/kernels}
DIR=$CACHE/$SERIES
ROOT=$DIR/root
if [ -f "$DIR/complete" ]; then echo "$ROOT"; exit 0; fi

# the Debian 12 debian-archive-keyring package carries the trixie keys; signature checking stays on
if [ ! -r "$KEYRING" ]; then
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  gpg --show-keys "$KEYRING" 2>/dev/null | grep -q "13/$SUITE" \
    || { echo "fetch-kernel: no $SUITE archive key in /usr/share/keyrings (apt-get install debian-archive-keyring)" >&2; exit 1; }
fi
mkdir -p "$DIR"
# one fetch at a time per cache (several checkouts may share it)
exec 9>"$DIR/lock"
flock -w 900 9 || { echo "fetch-kernel: $DIR/lock held for 15 min" >&2; exit 1; }
if [ -f "$DIR/complete" ]; then echo "$ROOT"; exit 0; fi

APT=$DIR/apt
mkdir -p "$APT/state/lists/partial" "$APT/cache/archives/partial" "$APT/etc/sources.list.d" "$APT/etc/preferences.d" "$APT/debs"
echo "deb [signed-by=$KEYRING] ${STAS_DEBIAN_MIRROR:-http://deb.debian.org/debian} $SUITE main" > "$APT/etc/sources.list"
: > "$APT/state/status"
APTOPTS=(
  -o "Dir::Etc::SourceList=$APT/etc/sources.list" -o "Dir::Etc::SourceParts=$APT/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$APT/etc/preferences" -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d"
  -o "Dir::State=$APT/state" -o "Dir::State::status=$APT/state/status" -o "Dir::Cache=$APT/cache"
  -o "APT::Architecture=amd64" -o "APT::Architectures::=amd64" -o "Acquire::Languages=none"
  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
)
apt-get "${APTOPTS[@]}" -qq update >&2
# the newest 6.12 image of the suite (the linux-image-amd64 metapackage names it)
PKG=$(apt-cache "${APTOPTS[@]}" depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.12/{print $2; exit}')
case "$PKG" in
  linux-image-6.12.*-amd64) ;;
  *) echo "fetch-kernel: no linux-image-6.12.*-amd64 in $SUITE (linux-image-amd64 depends on '$PKG')" >&2; exit 1 ;;
esac
ls "$APT/debs"/"$PKG"_*.deb >/dev/null 2>&1 || (cd "$APT/debs" && apt-get "${APTOPTS[@]}" -qq download "$PKG" >&2)
DEB=$(ls "$APT/debs"/"$PKG"_*.deb | head -1)
rm -rf "$ROOT.tmp" && mkdir -p "$ROOT.tmp"
dpkg-deb -x "$DEB" "$ROOT.tmp"
# trixie is merged-/usr: the modules ship in usr/lib/modules; depmod, modprobe -d and the guests want lib/modules
if [ -d "$ROOT.tmp/usr/lib/modules" ] && [ ! -d "$ROOT.tmp/lib/modules" ]; then
  mkdir -p "$ROOT.tmp/lib" && mv "$ROOT.tmp/usr/lib/modules" "$ROOT.tmp/lib/modules"
fi
KVER=$(ls "$ROOT.tmp/lib/modules" | head -1)
[ -f "$ROOT.tmp/boot/vmlinuz-$KVER" ] || { echo "fetch-kernel: $DEB has no boot/vmlinuz-$KVER" >&2; exit 1; }
# keep what the VMs load (kernel image + modules); firmware-free, so nothing else is needed
rm -rf "$ROOT.tmp/usr" "$ROOT.tmp/etc"
depmod -b "$ROOT.tmp" "$KVER"
rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
rm -f "$APT/debs"/*.deb "$APT/cache/archives"/*.deb
echo "$KVER" > "$DIR/complete"
echo "fetch-kernel: $PKG unpacked in $ROOT" >&2
echo "$ROOT"
