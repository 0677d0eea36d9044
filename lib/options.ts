// Sensor options and their validation: every check happens here, before any native call.
import { ALERT, AlertKind } from './event';
import { CODE_MAX, CODE_PAGE, MAX_SIZE } from './record-layout';
import { encodeFilters, NativeFilterConfig, NativeFilterSet, ProcessSelector } from './filters';
import type { Signature } from './signatures/signature';
import { SIGNATURES, signatureById } from './signatures';

/**
 * Where changes are seen, both under the kernel's mmap lock. 'lsm-hook': BPF trampolines on
 * mprotect_fixup and mmap_region (kernels with fentry/fexit). 'tracepoint': the mmap_lock and
 * maple_tree tracepoints (any kernel with BTF). 'auto': the first of those that loads and
 * attaches.
 */
export type SensorMode = 'auto' | 'tracepoint' | 'lsm-hook';

export interface SensorOptions {
  /** Default 'auto'. */
  mode?: SensorMode;
  /** Ring buffer size in bytes: a power of two that holds two of the largest records the
   * sensor may write (minRingBufferBytes(captureBytes): 256 KiB with the default capture, 64 KiB
   * without code). Default 1 MiB: a ring that stays in cache costs the watched process less per
   * record than a large one (measured: 0.55 µs against 1.2 µs per record at 8 MiB); batches
   * queued for JavaScript add 4 MiB of slack. */
  ringBufferBytes?: number;
  /** Also emit raw mem_prot_alert events on 'alert': true for every kind, or a list of kinds. */
  alerts?: boolean | AlertKind[];
  /** Emit failed W→X attempts (e.g. refused by PR_SET_MDWE or an LSM) on 'denied'. */
  denied?: boolean;
  /** Bytes of records per batch handed to JavaScript. Default 256 KiB. */
  batchBytes?: number;
  /** How often the drainer empties the ring when the kernel has not woken it. Default 1 ms. */
  drainIntervalMs?: number;
  /** One finding per transition (alert, region kind, file) per process image. Default true;
   * false gives one per transition, as Tracee does. */
  dedup?: boolean;
  /** Processes to ignore, in the kernel. Changeable while running: Sensor.setAllowlist(). */
  allow?: ProcessSelector;
  /** If set, the only processes watched (per kind listed). Sensor.setScope() changes it. */
  scope?: ProcessSelector;
  /** Signature IDs to run: 'TRC-104' (Tracee's), 'WXW-001'…'WXW-005' (wxwatch's; see
   * lib/signatures/). Default: all. */
  signatures?: string[];
  /** Prevention: refuse W→X (EACCES, in the kernel, through BPF LSM) to the processes the scope
   * names, while every process is still audited; each refusal is a finding with
   * wxwatch.blocked. true needs a scope; 'all' enforces on every process (but allowlisted ones). Needs mode lsm-hook (or auto) and a
   * kernel with BPF LSM active. Default false: audit only. */
  enforce?: boolean | 'all';
  /** Evidence: how many bytes of the code a W→X (or an alias, or a refusal) made executable are
   * read in the kernel at the change and carried in its record, for wxwatch.code (SHA-256).
   * A multiple of 4096 up to 65536 (the default); 0 turns it off. */
  captureBytes?: number;
}

export interface ResolvedOptions {
  mode: SensorMode;
  ringBufferBytes: number;
  alertKinds: ReadonlySet<number>;
  denied: boolean;
  batchBytes: number;
  drainIntervalMs: number;
  dedup: boolean;
  filters: NativeFilterSet[];
  filterConfig: NativeFilterConfig;
  signatures: ReadonlyArray<Signature>;
  enforce: boolean;
  captureBytes: number;
  /** What the options allow that a user should know (an allowlist a process can join). */
  warnings: string[];
}

const ALL_ALERTS: AlertKind[] = [ALERT.MMAP_W_X, ALERT.MPROT_X_ADD, ALERT.MPROT_W_ADD, ALERT.MPROT_W_REM];
const MODES: SensorMode[] = ['auto', 'tracepoint', 'lsm-hook'];
const KNOWN = new Set(['mode', 'ringBufferBytes', 'alerts', 'denied', 'batchBytes', 'drainIntervalMs', 'dedup', 'allow', 'scope', 'signatures', 'enforce', 'captureBytes']);

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`wxwatch: ${name} must be an integer, got ${typeof value === 'number' ? value : typeof value}`);
  }
  if (value < min || value > max) throw new RangeError(`wxwatch: ${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function resolveOptions(options: SensorOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('wxwatch: options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`wxwatch: unknown option "${key}" (known: ${[...KNOWN].join(', ')})`);
  }
  const ringBufferBytes = integer('ringBufferBytes', options.ringBufferBytes ?? 1 << 20, 64 << 10, 1 << 30);
  if ((ringBufferBytes & (ringBufferBytes - 1)) !== 0) {
    throw new RangeError(`wxwatch: ringBufferBytes must be a power of two, got ${ringBufferBytes}`);
  }
  const batchBytes = integer('batchBytes', options.batchBytes ?? 256 << 10, MAX_SIZE, 256 << 20);
  const drainIntervalMs = integer('drainIntervalMs', options.drainIntervalMs ?? 1, 1, 1000);

  let kinds: AlertKind[] = [];
  const alerts = options.alerts ?? false;
  if (alerts === true) kinds = ALL_ALERTS;
  else if (Array.isArray(alerts)) {
    for (const k of alerts) {
      if (!ALL_ALERTS.includes(k)) throw new RangeError(`wxwatch: alerts: unknown alert kind ${String(k)} (kinds are 1-4)`);
    }
    kinds = alerts;
  } else if (alerts !== false) throw new TypeError('wxwatch: alerts must be a boolean or a list of alert kinds');

  const mode = options.mode ?? 'auto';
  if (!MODES.includes(mode)) throw new RangeError(`wxwatch: mode must be one of ${MODES.join(', ')}, got ${String(mode)}`);
  const denied = options.denied ?? false;
  if (typeof denied !== 'boolean') throw new TypeError('wxwatch: denied must be a boolean');
  const dedup = options.dedup ?? true;
  if (typeof dedup !== 'boolean') throw new TypeError('wxwatch: dedup must be a boolean');
  const { sets: filters, config: filterConfig } = encodeFilters(options.allow, options.scope);
  const signatures = resolveSignatures(options.signatures);
  const enforce = options.enforce ?? false;
  if (enforce !== true && enforce !== false && enforce !== 'all') throw new TypeError("wxwatch: enforce must be true, false or 'all'");
  if (enforce === true && !filterConfig.scopeMask) {
    throw new TypeError("wxwatch: enforce needs a scope (the processes to refuse W→X to); enforce: 'all' refuses it to every process");
  }
  if (enforce !== false && options.scope?.comms?.length) {
    // A process names itself (prctl PR_SET_NAME, /proc/self/comm): a loader renames itself out
    // of such a scope before its W→X.
    throw new TypeError(
      'wxwatch: enforce cannot scope by comm: a process can rename itself (prctl PR_SET_NAME) and leave the scope; scope by exe, cgroup, uid or pid',
    );
  }
  const captureBytes = integer('captureBytes', options.captureBytes ?? CODE_MAX, 0, CODE_MAX);
  if (captureBytes % CODE_PAGE) throw new RangeError(`wxwatch: captureBytes must be a multiple of ${CODE_PAGE}, got ${captureBytes}`);
  const minRing = minRingBufferBytes(captureBytes);
  if (ringBufferBytes < minRing) {
    throw new RangeError(
      `wxwatch: ringBufferBytes ${ringBufferBytes} cannot hold two of the largest records (${largestRecordBytes(captureBytes)} bytes with captureBytes ${captureBytes}); use at least ${minRing}, or lower captureBytes`,
    );
  }
  if (enforce && mode === 'tracepoint') throw new TypeError('wxwatch: enforce needs mode lsm-hook (or auto): BPF LSM refuses the change');
  const warnings = options.allow?.comms?.length
    ? [
        `allow comm=${options.allow.comms.join(',')}: any process can rename itself (prctl PR_SET_NAME) to an allowed name and go unseen; prefer exe, cgroup or uid`,
      ]
    : [];
  return { mode, ringBufferBytes, alertKinds: new Set(kinds), denied, batchBytes, drainIntervalMs, dedup, filters, filterConfig, signatures, enforce: enforce !== false, captureBytes, warnings };
}

/** The largest record the kernel may write with this much code: its fixed part, every string
 * at its longest, the code. */
export function largestRecordBytes(captureBytes: number): number {
  return MAX_SIZE - CODE_MAX + captureBytes;
}

/** The smallest ring accepted: a power of two (64 KiB at least) holding two of the largest
 * records, so that no record is too big for it. */
export function minRingBufferBytes(captureBytes: number): number {
  let ring = 64 << 10;
  while (ring < 2 * (largestRecordBytes(captureBytes) + 8)) ring *= 2;
  return ring;
}

function resolveSignatures(ids: unknown): ReadonlyArray<Signature> {
  if (ids === undefined) return SIGNATURES;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
    throw new TypeError('wxwatch: signatures must be a list of signature IDs');
  }
  const known = SIGNATURES.map((s) => s.metadata.ID);
  for (const id of ids) {
    if (!signatureById(id)) throw new RangeError(`wxwatch: signatures: unknown signature "${id}" (known: ${known.join(', ')})`);
  }
  return SIGNATURES.filter((s) => ids.includes(s.metadata.ID));
}

/** The native hook modes to try, in order, for a sensor mode: the cheapest first. */
export function nativeModes(mode: SensorMode, enforce = false): string[] {
  if (enforce) return ['lsm-hook'];
  if (mode === 'auto') return ['lsm-hook', 'tracepoint'];
  return [mode];
}
