// The compiled addon and the shape of what it exports (native/addon.cc). Nothing native loads
// when this module is imported: the addon is found and checked on first use.
import path from 'node:path';
import type { NativeFilterConfig, NativeFilterSet } from './filters';
import { checkLayout } from './record-layout';

export interface NativeSensorOptions {
  /** 'lsm-hook' | 'tracepoint', tried in this order. */
  modes: string[];
  ringBytes: number;
  /** Bytes of newly executable code copied into a record (0: none). */
  captureBytes: number;
  alertMask: number;
  /** Records with any of these flags pass the prefilter too. */
  flagMask: number;
  batchBytes: number;
  drainIntervalMs: number;
  emitDenied: boolean;
  /** Copies of the mprotect_fixup programs to attach in lsm-hook mode (1 to 3): spares take over
   * from a copy preempted mid-run, which only a preemptible kernel does (lib/preemption.ts). */
  fixupCopies: number;
  /** Refuse W→X of watched processes (BPF LSM). */
  enforce: boolean;
  dedup: boolean;
  filters: NativeFilterSet[];
  filterConfig: NativeFilterConfig;
}

/** Counters from the kernel maps (seen … noState) and the drainer (drained … batches). */
export interface NativeStats {
  seen: number;
  lost: number;
  filtered: number;
  suppressed: number;
  vmaTruncated: number;
  noState: number;
  /** Records not judged exactly (flagged prevProtUnknown). */
  degraded: number;
  /** Records that went without their code: the per-CPU capture budget (2 MiB per 100 ms) was
   * spent, as in a W→X storm with dedup off. */
  codeSkipped: number;
  /** Candidates not written because every work slot of their CPU was held by preempted runs
   * (preemptible kernels): lost, and counted apart from a full ring. */
  lostBusy: number;
  /** Candidates counted into a summary record instead of their own: past the records one call
   * writes one by one, or past a process's fair share of a filling ring. */
  throttled: number;
  /** Ranges with more VMAs than one walk takes: the rest neither judged nor reported. */
  unwalked: number;
  /** Program runs the kernel skipped (bpf_prog_info.recursion_misses, summed): a trampoline
   * program starting on a CPU where a preempted run of it is in progress is not run. */
  missedRuns: number;
  drained: number;
  prefiltered: number;
  /** Records that failed the drainer's validation (size against the ring, string lengths
   * against the size): counted and skipped, never decoded. */
  malformed: number;
  batches: number;
  /** Batches JS holds now as the memory of their ArrayBuffers (no copy; 128 at most: a consumer
   * that keeps findings pins no more), and those handed over as a copy because 128 were out. */
  lentBatches: number;
  copiedBatches: number;
}

/** Called once per batch, until stop()'s promise resolves. Must not throw. */
export type BatchCallback = (batch: ArrayBuffer | null, records: number) => void;

/** A mode that could not be used, and why. */
export interface ModeFallback {
  mode: string;
  /** "probe" (passed over before loading: the kernel lacks what it needs), "load", "attach" … */
  phase: string;
  errno: number;
  reason: string;
  /** libbpf's log of the failure (a verifier rejection's full log, for instance). */
  log?: string;
}

export interface StartInfo {
  /** The mode in use: "lsm-hook" or "tracepoint". */
  mode: string;
  /** Modes tried before it. */
  fallbacks: ModeFallback[];
  /** Kernel id of the ring buffer map (e.g. for a benchmark's injector). */
  ringMapId: number;
  /** Kernel ids of the loaded programs; none of them exists after close(). */
  programIds: number[];
  /** Their names (bpf/: named after their hooks). */
  programNames: string[];
  /** The BPF object loaded: bpf/wxwatch.bpf.c ('main') or, before Linux 6.0, bpf/lts/ ('lts'). */
  object: 'main' | 'lts';
}

export interface NativeSensor {
  /** The only reference to onBatch is the native thread-safe function's, dropped at the end. */
  start(onBatch: BatchCallback): StartInfo;
  /** Resolves once the last batch has been delivered and everything native is freed. */
  stop(): Promise<void>;
  /** No program runs anew; what they wrote is still drained. */
  detach(): void;
  stats(): NativeStats;
  setFilters(filters: NativeFilterSet[], config: NativeFilterConfig): void;
  /** Forks a child that makes one page RW→RX, watched whatever the filters say; its pid. */
  probe(): number;
}

export interface NativeLayout {
  fixedSize: number;
  /** The largest record the kernel writes (WX_RECORD_MAX_SIZE). */
  maxSize: number;
  align: number;
  commLen: number;
  offsets: Record<string, number>;
}

interface Addon {
  NativeSensor: new (options: NativeSensorOptions) => NativeSensor;
  layout: NativeLayout;
  bootToEpochNs(): bigint;
  /** Grows the pipe at fd to at least `bytes` where allowed; its capacity, or -1 (not a pipe). */
  growPipe(fd: number, bytes: number): number;
  /** The answers of the kernel's BTF to queries (kernel-features.ts BTF_QUERIES), in order;
   * throws if it cannot be read. */
  kernelBtf(queries: string[]): boolean[];
  /** 1: the kernel creates such maps; 0: it does not; < 0: -errno, it could not tell. */
  probeMapType(type: 'ringbuf' | 'task_storage'): number;
}

// dist/lib/native.js → the package root, where node-gyp-build looks in build/Release (a source
// build) and then prebuilds/<platform>-<arch>/ (the binaries shipped in the package).
const PACKAGE_ROOT = path.join(__dirname, '..', '..');

let loaded: Addon | undefined;

/**
 * Loads the addon once and checks its record layout against the decoder's; throws if no
 * binary fits this platform or the layouts differ.
 */
export function loadAddon(): Addon {
  if (loaded) return loaded;
  // WXWATCH_ADDON names another build (npm run test:asan loads the sanitizer build this way).
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => Addon;
  const candidate: Addon = process.env.WXWATCH_ADDON ? require(process.env.WXWATCH_ADDON) : nodeGypBuild(PACKAGE_ROOT);
  checkLayout(candidate.layout);
  loaded = candidate;
  return loaded;
}

/** True once the addon has been loaded (by start() or loadAddon()). */
export function addonLoaded(): boolean {
  return loaded !== undefined;
}

/** The addon, loaded on first property access: importing this module loads nothing. */
export const addon: Addon = new Proxy({} as Addon, {
  get: (_target, key) => loadAddon()[key as keyof Addon],
});
