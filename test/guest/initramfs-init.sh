#!/bin/busybox sh
# PID 1 of the guest's initramfs: load the 9p and overlay modules, mount the host's / read-only
# under a tmpfs overlay and switch into it, running the repository's guest-init.sh (its path
# comes as wxinit=… on the kernel command line, which the kernel hands over as $wxinit).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "wxguest: initramfs up, kernel $(uname -r)"
while read -r ko; do
  insmod "/modules/$ko" || echo "wxguest: insmod $ko failed"
done < /modules.list
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /lower || exec sh -c 'echo "wxguest: cannot mount hostroot"; poweroff -f'
mount -t tmpfs -o mode=0755 tmpfs /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot || exec sh -c 'echo "wxguest: cannot mount the overlay"; poweroff -f'
umount /proc /sys /dev
[ -n "$wxinit" ] || { echo "wxguest: no wxinit= on the kernel command line"; poweroff -f; }
exec switch_root /newroot "$wxinit"
