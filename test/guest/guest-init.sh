#!/bin/sh
# PID 1 in the guest once the host's / (read-only, under a tmpfs overlay) is the root: mount
# what the sensor and tests need, run the job the host left in the results share, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# What udev would make: bash's process substitution (<(...)) opens /dev/fd/N.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# /tmp stays the overlay's (writable, in memory): a checkout under the host's /tmp (a CI clone)
# must stay visible at the same path.
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t securityfs securityfs /sys/kernel/security
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /run/wxguest
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /run/wxguest; then
  echo "wxguest: up in $(cut -d' ' -f1 /proc/uptime) s, lsm=$(cat /sys/kernel/security/lsm), preempt=$(cat /sys/kernel/debug/sched/preempt 2>/dev/null || echo '?')"
  node "$(dirname "$0")/guest-job.mjs" /run/wxguest
else
  echo "wxguest: cannot mount the results share"
fi
sync
# busybox-static is on the host (the harness installs it); the sysrq is the fallback. Returning
# from PID 1 would panic the kernel, which also ends QEMU (panic=-1, -no-reboot) but noisily.
/bin/busybox poweroff -f
echo o > /proc/sysrq-trigger
sleep 60
