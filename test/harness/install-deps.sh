#!/usr/bin/env bash
# Installs (idempotently, as root) every Debian package the test suite and the demo need.
# Safe to re-run: packages already present are not touched and apt is not even consulted.
set -euo pipefail

PKGS=(
  # D-Bus clients and daemon (private bus in tests)
  dbus libglib2.0-bin systemd
  # build and packaging
  meson ninja-build python3
  # kernel target VM (nvmet in QEMU) and the kernel-host VM
  qemu-system-x86 qemu-utils linux-image-amd64 busybox-static nvme-cli kmod cpio bc xz-utils
  # mDNS in network namespaces, udev (libudev-dev + a compiler build the optional node-udev module)
  avahi-daemon avahi-utils iproute2 udev libudev-dev build-essential
  # volumes: qcow2 (qemu-storage-daemon, in qemu-system-common, holds open volumes) and a single-node Ceph for RBD
  qemu-system-common qemu-block-extra ceph-mon ceph-osd ceph-mgr ceph-common
  # unprivileged-client tests (runuser)
  util-linux
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}) and not root: run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# another apt may hold the dpkg lock (pitfall seen on these machines): wait up to 5 minutes
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq
apt_get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
