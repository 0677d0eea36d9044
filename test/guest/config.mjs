// The kernel matrix in one place: which kernels, which modes, which tests, how long to wait.
// Tune the test subset here (GUEST_TESTS); everything else reads it.
import { join } from 'node:path';

/** Debian packages whose dependency names the kernel image of each guest kernel. */
export const KERNELS = {
  '6.1': 'linux-image-amd64',
  '6.12': 'linux-image-6.12-amd64',
};

/** Modes each guest runs, in order, one mocha process each. */
export const MODES = ['tracepoint', 'lsm-hook', 'auto'];

/** The host cell: the same subset on the host kernel, in this mode. */
export const HOST_MODE = 'tracepoint';

/**
 * The e2e subset run per mode (paths relative to the repository). TCG is slow, so this is the
 * part that proves detection, context and accounting in one mode: a W→X loader's finding with
 * its full context, the negatives, alerts, denied attempts, self-exclusion and close().
 */
export const GUEST_TESTS = {
  files: ['dist/test/e2e/sensor.test.js', 'dist/test/e2e/coverage.test.js'],
  grep: '',
  /** Per test: TCG runs a test several times slower than the host. */
  testTimeoutMs: 120_000,
};

/** Debian packages the harness needs on the host (installed with apt-get on first use). */
export const HOST_PACKAGES = [
  { pkg: 'qemu-system-x86', file: '/usr/bin/qemu-system-x86_64' },
  { pkg: 'busybox-static', file: '/bin/busybox' },
];

/** Kernel modules the initramfs loads, in this order (with their dependencies first). */
export const GUEST_MODULES = [
  'virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci',
  'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'overlay',
];

/** Kernels, initramfs images and serial logs; outside the repository so every clone shares it. */
export const CACHE = process.env.WXWATCH_GUEST_CACHE || '/var/cache/wxwatch-guest';
export const LOGS = join(CACHE, 'logs');

/** One boot runs every mode; past this the guest is killed and its cells fail as timed out. */
export const BOOT_TIMEOUT_MS = Number(process.env.WXWATCH_GUEST_TIMEOUT_MS) || 8 * 60_000;

export const QEMU_ARGS = ['-accel', 'tcg', '-cpu', 'max', '-m', '4096', '-smp', '2', '-nographic', '-no-reboot'];
