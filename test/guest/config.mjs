// The kernel matrix in one place: which kernels, which modes, which tests, how long to wait.
// Tune the test subset here (GUEST_TESTS); everything else reads it.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** Modes a guest runs unless its kernel says otherwise, in order, one mocha process each. */
export const MODES = ['tracepoint', 'lsm-hook', 'auto'];

/**
 * The guest kernels, by matrix label. Each is Debian's: `meta` is the package whose dependency
 * names the kernel (its image package, and for sid the linux-binary-/linux-modules- packages that
 * hold the files), from the host's own apt lists or, with `suite`, from a private apt list of that
 * suite (kernels.mjs). Optional: `cmdline`, appended to the kernel command line; `lsmAdd`, LSMs
 * appended to the kernel's default `lsm=` list (CONFIG_LSM, read from its config file); `modes`
 * (default MODES); `tests`, which replaces `titles` and/or `byMode` of GUEST_TESTS for this
 * kernel. The whole `npm test` must stay within ~15 minutes on 2 cores: each guest costs its
 * boot (~10-30 s) plus ~15 s per mocha process and ~10-15 s per test.
 */
export const KERNELS = {
  /* Debian 11: BPF LSM is built in but not in its default list (lsmAdd). lsm-hook runs the
   * object for kernels before 6.0 (bpf/lts/: detection of memory made executable, of executable
   * aliases and of writes into it, code evidence, and enforcement; no fair shares);
   * tracepoint mode is refused (no mmap_lock tracepoints, no maple tree), which the CLI test
   * checks; 'auto' picks lsm-hook. */
  '5.10': {
    suite: 'bullseye',
    meta: 'linux-image-amd64',
    lsmAdd: ['bpf'],
    /* 6.1's cells (GUEST_TESTS), and 'auto'. */
    modes: ['lsm-hook', 'auto'],
  },
  /* 'auto' is proven on 6.12 and 5.10 (its choice does not depend on more than the programs
   * loading, which 6.1's lsm-hook cell proves). */
  '6.1': { meta: 'linux-image-amd64', modes: ['tracepoint', 'lsm-hook'] },
  '6.12': { meta: 'linux-image-6.12-amd64' },
  /* The same 6.12, preemptible: trampoline programs can be preempted mid-run (work slots,
   * recursion checks, issue 14) in lsm-hook mode, on the evasion corpus. The tracepoint mode
   * under preemption is sid's cell (PREEMPT_LAZY); 'auto' picks as on 6.12. */
  '6.12-preempt': {
    meta: 'linux-image-6.12-amd64',
    cmdline: 'preempt=full',
    modes: ['lsm-hook'],
    tests: { byMode: { 'lsm-hook': ['evasion corpus', 'spare mprotect_fixup copies'] } },
  },
  /* Debian's newest kernel: PREEMPT_LAZY by default, BPF LSM in its default list. Both hook
   * modes on what differs by kernel (the evasion corpus, enforcement); 'auto' picks as on 6.12.
   * With every mode's full subset it took 223 s on a busy host (this one ~100 s). */
  sid: {
    suite: 'sid',
    meta: 'linux-image-amd64',
    modes: ['lsm-hook', 'tracepoint'],
    tests: { byMode: { 'lsm-hook': ['evasion corpus', 'refuses the W→X of a scoped process', 'spare mprotect_fixup copies'], tracepoint: ['evasion corpus'] } },
  },
};

/** The host cell: the same subset on the host kernel, in this mode. */
export const HOST_MODE = 'tracepoint';

/** The modes `label` runs ('host': HOST_MODE only). */
export function kernelModes(label) {
  if (label === 'host') return [HOST_MODE];
  const k = KERNELS[label];
  if (!k) throw new Error(`unknown kernel ${label}; known: host, ${Object.keys(KERNELS).join(', ')}`);
  return k.modes ?? MODES;
}

/**
 * The e2e subset run per mode: the compiled files to load and the tests to run from them (parts
 * of their titles; empty runs every test in the files). Under TCG a JS-heavy or BPF-loading step
 * is some 20-40× slower than on the host (measured: JS 30-40×, a process spawn 30×; a mocha
 * process takes ~13 s to start) and every test starts a sensor (~0.5 s of verifier on the host),
 * so a few tests that each prove much: detection with the full context, per-VMA judgment, the
 * whole alert truth table, and the books balancing under loss. Estimated ~65 s per cell once the
 * programs load; next candidates: 'reports a refused W→X attempt as a denied event',
 * 'reports a file mmap W+X with the file'.
 */
export const GUEST_TESTS = {
  files: [
    'dist/test/e2e/sensor.test.js',
    'dist/test/e2e/coverage.test.js',
    'dist/test/e2e/noise.test.js',
    'dist/test/e2e/evasion.test.js',
    'dist/test/e2e/cli.test.js',
    'dist/test/e2e/modes.test.js',
    'dist/test/e2e/enforce.test.js',
    'dist/test/e2e/evidence.test.js',
    'dist/test/e2e/routes.test.js',
  ],
  /** Run in every mode. */
  titles: [
    'reports a W→X loader as a TRC-104 finding with its exact context',
    'judges each VMA of a range on its own',
    'gives each of the 16 combinations exactly the alert of the reference table',
    'the books still balance',
    // Skipped where the kernel has all a mode needs; below that (5.10 today), the CLI's refusal.
    'names what this kernel lacks',
  ],
  /** Run in one mode only, besides the above: the evasion corpus (one sensor for all of it) where
   * the kernel side differs (tracepoint: the mmap_lock programs, before 6.10 with their memcg
   * argument; lsm-hook: the trampolines), the routes corpus (both: the write hooks differ) and the
   * doors enforcement must close (lsm-hook, BPF LSM), and `npm start`'s own path with C and Python loaders. */
  byMode: {
    tracepoint: ['evasion corpus', 'routes corpus', 'C and Python/ctypes loaders', 'carries the SHA-256'],
    'lsm-hook': ['evasion corpus', 'routes corpus', 'enforcement closes every door', 'C and Python/ctypes loaders', 'attaches no syscall tracepoint', 'refuses the W→X of a scoped process', 'npm start -- --enforce', 'carries the SHA-256', 'spare mprotect_fixup copies'],
    auto: ["'auto' uses the cheapest mode", 'C and Python/ctypes loaders'],
  },
  /** Per test (a test is estimated at ~15 s under TCG). */
  testTimeoutMs: 120_000,
};

/** The titles (parts) one cell runs: its kernel's `tests`, or GUEST_TESTS. */
export function cellTitles(label, mode) {
  const t = { ...GUEST_TESTS, ...(KERNELS[label]?.tests ?? {}) };
  return [...t.titles, ...(t.byMode?.[mode] ?? [])];
}

/** Debian packages the harness needs on the host (installed with apt-get on first use). */
export const HOST_PACKAGES = ['qemu-system-x86', 'busybox-static'];

/** Kernel modules the initramfs loads, in this order (with their dependencies first). */
export const GUEST_MODULES = [
  'virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci',
  'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'overlay',
];

/** Kernels, initramfs images and serial logs; outside the repository so every clone shares it. */
export const CACHE = process.env.WXWATCH_GUEST_CACHE || '/var/cache/wxwatch-guest';
/** Serial logs per checkout, so runs from two clones sharing the cache keep their own. */
export const LOGS = join(CACHE, 'logs', REPO.replace(/^\//, '').replaceAll('/', '_'));

/** One mode's mocha run in a guest; past this it is killed and the cell fails as timed out. */
export const CELL_TIMEOUT_MS = Number(process.env.WXWATCH_CELL_TIMEOUT_MS) || 8 * 60_000;

/** One boot runs `modes` modes; past this the guest is killed and its cells fail as timed out. */
export const bootTimeoutMs = (modes) => Number(process.env.WXWATCH_GUEST_TIMEOUT_MS) || modes * CELL_TIMEOUT_MS + 2 * 60_000;

/** Guests booted at once (the matrix's kernels, longest first). A guest's job keeps about one
 * host core busy (load ~0.9 with one running, on 2 cores): two side by side take about half the
 * time. WXWATCH_GUEST_JOBS=1 runs them one by one. */
export const GUEST_JOBS = Math.max(1, Number(process.env.WXWATCH_GUEST_JOBS) || 2);

export const QEMU_ARGS = ['-accel', 'tcg', '-cpu', 'max', '-m', '4096', '-smp', '2', '-nographic', '-no-reboot'];
