#!/bin/sh
# Stage 2 of NVT_MODE=hostroot: runs as PID 1 inside the VM, on the HOST's root filesystem
# (read-only 9p + tmpfs overlay), with the VM's kernel. Host binaries (node, nvme, python3,
# udevadm) run unchanged because the guest kernel is Debian's linux-image-amd64 whose
# modules live in the host's /lib/modules/<ver> (installed by apt on the host).
# Env (from kernel cmdline): NVT_TARGET=1 also start an in-VM nvmet target (nvmet-setup.sh)
#                            NVT_UDEV=1   start systemd-udevd (default 1)
#                            NVT_CTL_PORT control shell port (default 2323)
#                            NVT_WORK_AT  where the rw "work" share goes (default /mnt/work)
#                            NVT_IP2      address/prefix of eth1 (the test LAN), none if unset
#                            NVT_NAME     the VM's name (hostname nvt-<name>: distinct mDNS host names)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
log() { echo "[nvt-stage2 $(cut -d' ' -f1 /proc/uptime)] $*" > /dev/console; }
HERE=$(dirname "$0")

is_mnt() { grep -q " $1 " /proc/mounts 2>/dev/null; }
is_mnt /proc || mount -t proc proc /proc
is_mnt /sys  || mount -t sysfs sysfs /sys
is_mnt /dev  || mount -t devtmpfs devtmpfs /dev
is_mnt /sys/kernel/config || mount -t configfs none /sys/kernel/config
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run; mkdir -p /run/lock
# rw share (tag "work"), mounted directly (not under the overlay, so host-side changes, new files
# included, are visible at once: 9p without cache= keeps no dentries). NVT_WORK_AT = guest path.
W=${NVT_WORK_AT:-/mnt/work}
# NVT_WORK_CACHED=node_modules,...: sub-directories of the share that rarely change are bind-mounted from the
# overlay's view of the same host path (9p cache=loose): module loading by node gets several times faster under TCG.
# They keep what they had at first access (host-side changes made later are not seen).
if [ -n "${NVT_WORK_CACHED:-}" ] && [ -d "$W" ]; then
  mkdir -p /run/nvt-lower && mount --bind "$W" /run/nvt-lower
fi
mkdir -p "$W" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work "$W" 2>/dev/null \
  && log "rw share mounted at $W"
for d in $(echo "${NVT_WORK_CACHED:-}" | tr , " "); do
  [ -d "/run/nvt-lower/$d" ] && [ -d "$W/$d" ] && mount --bind "/run/nvt-lower/$d" "$W/$d" && log "$W/$d: cached view"
done
# NVT_KMODS=1: the kernel is not the host's installed one (fetch-kernel.sh); its module tree is the 9p share "kmods"
if [ "${NVT_KMODS:-0}" = 1 ]; then
  K=$(uname -r); mkdir -p "/lib/modules/$K"
  mount -t 9p -o trans=virtio,version=9p2000.L,ro kmods "/lib/modules/$K" && log "modules of $K from the kmods share"
fi
hostname "nvt-${NVT_NAME:-vm}"
log "stage2 start"

ip link set lo up
ip addr add "${NVT_IP:-10.0.2.15}/24" dev eth0 2>/dev/null; ip link set eth0 up 2>/dev/null
# second NIC on the test LAN (NVT_IP2=address/prefix, set up by /init already): multicast goes there (mDNS
# between VMs and the LAN's namespaces), as a default route would send it on a real host
if [ -n "${NVT_IP2:-}" ]; then
  i=0; while [ ! -e /sys/class/net/eth1 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
  if ip addr replace "$NVT_IP2" dev eth1 2>/tmp/eth1.err && ip link set eth1 multicast on up 2>>/tmp/eth1.err \
    && ip route replace 224.0.0.0/4 dev eth1 2>>/tmp/eth1.err; then
    log "eth1 on the test LAN: $NVT_IP2"
  else
    log "eth1 on the test LAN ($NVT_IP2) failed: $(cat /tmp/eth1.err)"
  fi
fi

# the storage daemon's kernel export (access paths) is a FUSE file
modprobe fuse || log "modprobe fuse failed"
modprobe nvme-tcp && log "nvme-tcp loaded: $(ls -l /dev/nvme-fabrics 2>&1)"

if [ "${NVT_UDEV:-1}" = 1 ] && [ -x /lib/systemd/systemd-udevd ]; then
  /lib/systemd/systemd-udevd --daemon --resolve-names=never 2>/dev/null && log "systemd-udevd started"
fi

if [ "${NVT_TARGET:-0}" = 1 ]; then
  sh "$HERE/nvmet-setup.sh" > /dev/console 2>&1 && log "in-VM target configured"
fi

# wait until a TCP port is in LISTEN state (/proc/net/tcp st 0A), so "READY" never races the listener
wait_listen() { _wp=$(printf ":%04X" "$1"); _wi=0
  while [ $_wi -lt 100 ] && ! grep -q " [0-9A-F]*$_wp [0-9A-F:]* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null; do sleep 0.05; _wi=$((_wi+1)); done; }
if [ -n "${NVT_CTL_PORT=2323}" ]; then
  busybox nc -ll -p "$NVT_CTL_PORT" -e /bin/sh &
  wait_listen "$NVT_CTL_PORT"
fi
if [ "${NVT_TARGET:-0}" = 1 ]; then
  for p in $(echo "${NVT_PORTS:-1:4420 2:8009}" | tr , " "); do wait_listen "${p#*:}"; done
fi
log "HOSTROOT-READY"
while :; do sleep 3600; done
