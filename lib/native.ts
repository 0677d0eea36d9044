// The compiled addon and the shape of what it exports (native/addon.cc).
import path from 'node:path';

export interface NativeSensorOptions {
  ringBytes: number;
  alertMask: number;
  batchBytes: number;
  drainIntervalMs: number;
  emitDenied: boolean;
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
  batches: number;
}

/** Called once per batch; the last call has last = true and comes after stop(). */
export type BatchCallback = (batch: ArrayBuffer | null, records: number, last: boolean) => void;

export interface NativeSensor {
  start(): { mountedTracefs: boolean };
  stop(): void;
  stats(): NativeStats;
}

export interface NativeLayout {
  fixedSize: number;
  align: number;
  commLen: number;
  offsets: Record<string, number>;
}

interface Addon {
  NativeSensor: new (options: NativeSensorOptions, onBatch: BatchCallback) => NativeSensor;
  layout: NativeLayout;
  bootToEpochNs(): bigint;
}

// dist/lib/native.js → build/Release/wxwatch.node
export const addon: Addon = require(path.join(__dirname, '..', '..', 'build', 'Release', 'wxwatch.node'));
