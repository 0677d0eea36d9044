// The compiled addon and the shape of what it exports (native/addon.cc).
import path from 'node:path';
import type { NativeFilterConfig, NativeFilterSet } from './filters';

export interface NativeSensorOptions {
  /** 'fentry' | 'kprobe' | 'tracepoint', tried in this order. */
  modes: string[];
  ringBytes: number;
  alertMask: number;
  batchBytes: number;
  drainIntervalMs: number;
  emitDenied: boolean;
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
  drained: number;
  prefiltered: number;
  /** Records that failed the drainer's validation (size against the ring, string lengths
   * against the size): counted and skipped, never decoded. */
  malformed: number;
  batches: number;
}

/** Called once per batch, until stop()'s promise resolves. Must not throw. */
export type BatchCallback = (batch: ArrayBuffer | null, records: number) => void;

/** A mode that could not be used, and why. */
export interface ModeFallback {
  mode: string;
  phase: string;
  errno: number;
  reason: string;
}

export interface StartInfo {
  mountedTracefs: boolean;
  /** The mode in use: "tracepoint", "lsm-hook (fentry)" or "lsm-hook (kprobe)". */
  mode: string;
  /** Modes tried before it. */
  fallbacks: ModeFallback[];
  /** Kernel id of the ring buffer map (e.g. for a benchmark's injector). */
  ringMapId: number;
  /** Kernel ids of the loaded programs; none of them exists after close(). */
  programIds: number[];
}

export interface NativeSensor {
  /** The only reference to onBatch is the native thread-safe function's, dropped at the end. */
  start(onBatch: BatchCallback): StartInfo;
  /** Resolves once the last batch has been delivered and everything native is freed. */
  stop(): Promise<void>;
  stats(): NativeStats;
  setFilters(filters: NativeFilterSet[], config: NativeFilterConfig): void;
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
}

// dist/lib/native.js → build/Release/wxwatch.node; WXWATCH_ADDON names another build of it
// (npm run test:asan loads the sanitizer build this way).
export const addon: Addon = require(process.env.WXWATCH_ADDON || path.join(__dirname, '..', '..', 'build', 'Release', 'wxwatch.node'));
