#!/bin/bash
# Build a tiny initramfs (busybox-static + nvme/nvmet/virtio/9p modules + /init) for the
# Debian linux-image-amd64 kernel installed on this machine.
# Needs: apt-get install -y qemu-system-x86 linux-image-amd64 busybox-static kmod cpio
# Usage: ./build-initramfs.sh output.cpio      (env KVER to pick a kernel)
#   env MODROOT: a tree holding lib/modules/<KVER> (an unpacked kernel package, fetch-kernel.sh), default /
#   Compressed modules (.ko.xz, as Debian 13 ships them) are stored decompressed: busybox insmod cannot read xz.
# The output is written to a temporary file and renamed, so a concurrent reader never sees half an archive.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MODROOT=${MODROOT:-/}
MODDIR=${MODROOT%/}/lib/modules
K=${KVER:-$(ls "$MODDIR" | sort -V | tail -1)}
OUTF=${1:?usage: build-initramfs.sh output.cpio}
MODS="configfs nvmet nvmet-tcp nvme-core nvme-fabrics nvme-tcp null_blk loop
      virtio_pci virtio_net 9pnet_virtio 9p overlay crc32c_generic crc32c-intel"
ROOT=$(mktemp -d /tmp/nvt-initramfs.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,tmp,run,data,mnt,lib/modules/$K}
cp /bin/busybox "$ROOT/bin/busybox"
: > "$ROOT/etc/nvt-modules"
for m in $MODS; do modprobe -d "$MODROOT" -S "$K" --show-depends "$m"; done 2>/dev/null \
  | awk '$1=="insmod"{print $2}' | awk '!seen[$0]++' | while read -r f; do
    rel=${f#"$MODDIR/$K/"}
    mkdir -p "$ROOT/lib/modules/$K/$(dirname "$rel")"
    case "$rel" in
      *.ko.xz) rel=${rel%.xz}; xz -dc "$f" > "$ROOT/lib/modules/$K/$rel" ;;
      *) cp "$f" "$ROOT/lib/modules/$K/$rel" ;;
    esac
    echo "$rel" >> "$ROOT/etc/nvt-modules"
  done
cp "$MODDIR/$K"/modules.builtin* "$MODDIR/$K/modules.order" "$ROOT/lib/modules/$K/" 2>/dev/null || true
sed -i 's/\.ko\.xz$/.ko/' "$ROOT/lib/modules/$K/modules.order" 2>/dev/null || true
depmod -b "$ROOT" "$K"                       # so that busybox modprobe works inside
cp "$HERE/guest/init" "$ROOT/init"
cp "$HERE/guest/nvmet-setup.sh" "$ROOT/bin/nvmet-setup.sh"
chmod +x "$ROOT/init" "$ROOT/bin/nvmet-setup.sh"
mkdir -p "$(dirname "$OUTF")"
# uncompressed: the kernel unpacks it faster under TCG than it would decompress gzip
(cd "$ROOT" && find . | cpio -o -H newc --quiet -R 0:0) > "$OUTF.tmp.$$"
mv -f "$OUTF.tmp.$$" "$OUTF"
echo "initramfs: $OUTF ($(du -h "$OUTF" | cut -f1), kernel $K, $(wc -l < "$ROOT/etc/nvt-modules") modules)"
