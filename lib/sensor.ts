// The embeddable sensor: batches from the addon become mem_prot_alert events, the signature
// turns them into findings, and everything leaves as typed EventEmitter events.
import { EventEmitter } from 'node:events';
import { BoundedQueue } from './bounded-queue';
import { Detection } from './finding';
import { BatchView, batchView, decodeBatch, MemProtAlert } from './mem-prot-alert';
import { canPreempt, kernelPreemption, Preemption } from './preemption';
import { addon, ModeFallback, NativeSensor, NativeStats, StartInfo } from './native';
import { encodeFilters, ProcessSelector } from './filters';
import { nativeModes, resolveOptions, ResolvedOptions, SensorOptions } from './options';
import { activeLsms, bpfLsmActive, missingRequirements, RequirementsError, systemProbe } from './privileges';
import { planModes } from './kernel-features';
import { release } from 'node:os';
import { describeFallbacks } from './load-errors';
import { Finding } from './signatures/signature';
import { ALIGN, FLAG, OFF } from './record-layout';
import type { Signature } from './signatures/signature';
import { TRC104 } from './signatures/trc104';
import { isSelfCheckOfASensor } from './self-check';
import { Coverage, coverageOf, NOT_REFUSED } from './coverage';

/**
 * Every candidate the kernel saw ends in exactly one of emitted, filtered, suppressed, lost,
 * lostBusy, throttled, malformed, or is still on its way (inFlight; 0 once close() has resolved):
 * seen == emitted + filtered + suppressed + lost + lostBusy + throttled + malformed + inFlight.
 * Throttled candidates are each in a summary record (emitted) that says how many it stands for.
 * Past emitted, a finding an async iterator had no room for is counted in dropped.
 */
/** The native counters before a sensor starts: all zero. */
export const NO_NATIVE_STATS: Readonly<NativeStats> = Object.freeze({
  seen: 0,
  lost: 0,
  filtered: 0,
  suppressed: 0,
  vmaTruncated: 0,
  noState: 0,
  degraded: 0,
  codeSkipped: 0,
  lostBusy: 0,
  throttled: 0,
  unwalked: 0,
  missedRuns: 0,
  drained: 0,
  prefiltered: 0,
  malformed: 0,
  batches: 0,
  lentBatches: 0,
  copiedBatches: 0,
});

export interface SensorStats extends NativeStats {
  /** Records delivered to JavaScript (drained, well formed, passed the alert-kind prefilter). */
  emitted: number;
  /** Records written to the ring that JavaScript has not received yet. */
  inFlight: number;
  findings: number;
  /** Findings per signature ID. */
  findingsBySignature: Record<string, number>;
  alerts: number;
  denied: number;
  /** Findings an async iterator had no room for (its consumer fell behind by maxQueued). */
  dropped: number;
  listenerErrors: number;
  /** Batches whose delivery failed past the listeners (e.g. a decoding error): skipped. */
  deliveryErrors: number;
  /** W→X of another wxwatch sensor's self-check page (lib/self-check.ts): not findings. */
  selfChecksOfOthers: number;
}

/** What start() says: the mode in use and why others were passed over, what this mode cannot see
 * here, what the options allow that a user should know, and what enforcement cannot refuse. */
export interface SensorStartInfo extends StartInfo, Coverage {
  /** The kernel's preemption model: lsm-hook mode attaches spare copies of its mprotect_fixup
   * programs only where it can preempt them (unknown counts as can). */
  preemption: Preemption;
  warnings: string[];
  notRefused: string[];
}

export interface FindingsOptions {
  /** Findings queued for a consumer that has not read them yet; past it they are dropped and
   * counted (stats().dropped, the 'dropped' event). Default 4096. */
  maxQueued?: number;
}

/** A raw batch, for consumers that want records without per-event objects. */
export interface RecordBatch {
  buffer: ArrayBuffer;
  records: number;
  decode(): MemProtAlert[];
}

export interface SensorEvents {
  finding: [finding: Finding];
  alert: [event: MemProtAlert];
  denied: [event: MemProtAlert];
  batch: [batch: RecordBatch];
  lost: [info: { lost: number; total: number }];
  /** Changes judged inexactly (flagged prevProtUnknown, still delivered) or not at all (no
   * state could be stored for the call): how many since the last report, and in all. */
  degraded: [info: { degraded: number; noState: number; total: { degraded: number; noState: number } }];
  /** Findings dropped because an async iterator was full, at most every 100 ms. */
  dropped: [info: { dropped: number; total: number }];
  /** After every event of one batch has been delivered: for consumers that write in batches. */
  delivered: [info: { records: number }];
  error: [error: Error];
  close: [stats: SensorStats];
}

type State = 'idle' | 'running' | 'closing' | 'closed';

const LOSS_CHECK_MS = 100;
// Offsets read once: a re-exported binding (OFF) is a getter call on every use.
const SIZE_AT = OFF.size;
const FLAGS_AT = OFF.flags;
const ALERT_AT = OFF.alert;
const DENIED = FLAG.DENIED;
const BLOCKED = FLAG.BLOCKED;
const QUIESCE_MS = 500;
const DEFAULT_MAX_QUEUED = 4096;
// A listener that throws on every event gets one warning with a stack, then a count at most this
// often: a flood of findings must not become a flood of stderr.
const WARN_EVERY_MS = 10_000;

type NativeStartError = Error & { fallbacks?: ModeFallback[]; phase?: string; errno?: number; libbpfLog?: string };

/** Fallbacks in the order their modes were to be tried. */
function inOrder(order: string[], fallbacks: ModeFallback[]): ModeFallback[] {
  return [...fallbacks].sort((a, b) => order.indexOf(a.mode) - order.indexOf(b.mode));
}

/** No requested mode could start: say why for each, in the words of describeFallbacks(). `order`:
 * the modes as they were to be tried; `skipped`: those the kernel lacked what they need for. */
function noModeAvailable(mode: string, err: NativeStartError, order: string[], skipped: ModeFallback[] = []): Error {
  // The native error is the last mode tried; earlier ones are in its fallbacks.
  const loaded = order.filter((m) => !skipped.some((f) => f.mode === m));
  const tried = [...skipped, ...(err.fallbacks ?? [])];
  tried.push({
    mode: loaded[loaded.length - 1] ?? mode,
    phase: err.phase ?? 'load',
    errno: err.errno ?? 0,
    reason: err.message.split('\n')[0].replace(/^wxwatch: BPF \w+ failed: /, ''),
    log: err.libbpfLog ?? '',
  });
  const ordered = inOrder(order, tried);
  const wrapped = new Error(`wxwatch: cannot start in mode ${mode}: ${describeFallbacks(ordered)}`);
  return Object.assign(wrapped, { cause: err, fallbacks: ordered, phase: err.phase, errno: err.errno, libbpfLog: err.libbpfLog });
}

const ENFORCE_NEEDS = 'wxwatch: enforce needs BPF LSM and BPF trampolines';
const AUDIT_ANYWAY = 'Without enforce, the sensor audits in any mode.';

/** BPF LSM built in but not among the LSMs the kernel runs: its programs would load and attach
 * and never be called, so enforcement is refused before loading (RequirementsError: exit 77). */
function bpfLsmInactive(): Error | null {
  const lsms = activeLsms();
  if (!lsms || lsms.includes('bpf')) return null; // unreadable: the load decides
  const why = `BPF LSM is not active (this kernel runs ${lsms.join(',')}: boot with lsm=${[...lsms, 'bpf'].join(',')})`;
  return new RequirementsError(['BPF LSM'], `${ENFORCE_NEEDS}: ${why}. ${AUDIT_ANYWAY}`);
}

/** Enforcement could not start: say what the kernel needs (RequirementsError: the CLI's exit 77). */
function enforceUnavailable(err: NativeStartError, skipped: ModeFallback[] = []): Error {
  const why = noModeAvailable('lsm-hook', err, ['lsm-hook'], skipped).message.replace(/^wxwatch: cannot start in mode lsm-hook: /, '');
  const lsm = bpfLsmActive() ? '' : 'BPF LSM is not active (boot with lsm=...,bpf; the kernel needs CONFIG_BPF_LSM); ';
  return Object.assign(new RequirementsError(['BPF LSM'], `${ENFORCE_NEEDS}: ${lsm}${why}. ${AUDIT_ANYWAY}`), { cause: err });
}

/** Every mode asked for lacks something on this kernel: name it per mode, before any load. */
function kernelLacks(mode: string, enforce: boolean, skipped: ModeFallback[]): Error {
  const missing = skipped.map((f) => `${f.mode} ${f.reason}`);
  if (enforce) return new RequirementsError(missing, `${ENFORCE_NEEDS}: ${describeFallbacks(skipped)}. ${AUDIT_ANYWAY}`);
  return Object.assign(
    new RequirementsError(missing, `wxwatch: cannot start in mode ${mode} on this kernel (Linux ${release()}): ${describeFallbacks(skipped)}`),
    { fallbacks: skipped },
  );
}

export class Sensor extends EventEmitter<SensorEvents> {
  private readonly options: ResolvedOptions;
  private native: NativeSensor | null = null;
  private state: State = 'idle';
  private closed: Promise<SensorStats> | null = null;
  private counts = { findings: 0, alerts: 0, denied: 0, dropped: 0, listenerErrors: 0, deliveryErrors: 0, selfChecksOfOthers: 0 };
  private readonly signatures: ReadonlyArray<Signature>;
  /** Findings per signature, by its index in `signatures`. */
  private readonly signatureCounts: number[];
  /** Per signature, the alert kinds (bit n: kind n) and record flags its condition can match,
   * as it declares them: a record with neither is not offered to it. */
  private readonly signatureKinds: Uint32Array;
  private readonly signatureFlags: Uint32Array;
  /** Self-check children, by pid: their W→X resolves the check and is not a finding. */
  private probes = new Map<number, () => void>();
  private lostReported = 0;
  private droppedReported = 0;
  private degradedReported = { degraded: 0, noState: 0 };
  private lostCheckedAt = 0;
  private lossTimer: NodeJS.Timeout | undefined;
  private readonly queues = new Set<BoundedQueue<Finding>>();
  private warnedAt = 0;
  private unwarned = 0;

  private allow: ProcessSelector | undefined;
  private scope: ProcessSelector | undefined;

  constructor(options: SensorOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.signatures = [...this.options.signatures];
    this.signatureCounts = this.signatures.map(() => 0);
    this.signatureKinds = Uint32Array.from(this.signatures, (sig) => sig.alertKinds.reduce((mask, kind) => mask | (1 << kind), 0));
    this.signatureFlags = Uint32Array.from(this.signatures, (sig) => (sig.recordFlags ?? []).reduce((mask, flag) => mask | FLAG[flag], 0));

    this.allow = options.allow;
    this.scope = options.scope;
  }

  /**
   * Loads and attaches the kernel programs and starts draining. Returns the mode in use and why
   * any better one was not; throws with what is missing.
   */
  start(): SensorStartInfo {
    if (this.state !== 'idle') throw new Error(`wxwatch: start() on a sensor that is ${this.state}`);
    const probe = systemProbe();
    const missing = missingRequirements(probe);
    if (missing.length) throw new RequirementsError(missing);
    const o = this.options;
    // Modes whose needs this kernel lacks are passed over before loading, and named.
    const order = nativeModes(o.mode, o.enforce);
    const plan = planModes(order, probe.kernel ?? null, o.enforce);
    if (!plan.modes.length) throw kernelLacks(o.mode, o.enforce, plan.skipped);
    if (o.enforce) {
      const inactive = bpfLsmInactive();
      if (inactive) throw inactive;
    }
    let mask = 0;
    let flagMask = 0;
    // TRC-104's alert always passes: selfCheck() relies on it whatever signatures run.
    for (const kind of [...o.alertKinds, ...TRC104.alertKinds, ...o.signatures.flatMap((s) => s.alertKinds)]) mask |= 1 << kind;
    for (const flag of o.signatures.flatMap((s) => s.recordFlags ?? [])) flagMask |= FLAG[flag];
    const preemption = kernelPreemption();
    const native = new addon.NativeSensor({
      modes: plan.modes,
      enforce: o.enforce,
      ringBytes: o.ringBufferBytes,
      captureBytes: o.captureBytes,
      alertMask: mask,
      flagMask,
      batchBytes: o.batchBytes,
      drainIntervalMs: o.drainIntervalMs,
      emitDenied: o.denied,
      fixupCopies: canPreempt(preemption) ? 3 : 1,
      dedup: o.dedup,
      filters: o.filters,
      filterConfig: o.filterConfig,
    });
    let info: StartInfo;
    try {
      info = native.start((buffer, records) => this.onBatch(buffer, records));
    } catch (err) {
      if (o.enforce) throw enforceUnavailable(err as NativeStartError, plan.skipped);
      throw noModeAvailable(o.mode, err as NativeStartError, order, plan.skipped);
    }
    // Passed over to reach the mode that started: those before it (5.10's tracepoint, after
    // lsm-hook, was never needed).
    const passed = plan.skipped.filter((f) => order.indexOf(f.mode) < order.indexOf(info.mode));
    if (passed.length) info = { ...info, fallbacks: inOrder(order, [...passed, ...info.fallbacks]) };
    this.native = native;
    this.state = 'running';
    return { ...info, ...coverageOf(info.mode, info.object, info.programNames), preemption, warnings: o.warnings, notRefused: o.enforce ? NOT_REFUSED : [] };
  }

  /** Stops, delivers what is still pending, detaches everything; resolves with the final stats.
   * Always resolves. */
  close(): Promise<SensorStats> {
    if (this.closed) return this.closed;
    if (this.state === 'idle') {
      this.state = 'closed';
      this.closed = Promise.resolve(this.stats());
      this.endQueues();
      return this.closed;
    }
    this.state = 'closing';
    const native = this.native!;
    this.closed = this.quiesce(native)
      .then(() => native.stop())
      .then(
        () => this.finish(),
        () => this.finish(),
      );
    return this.closed;
  }

  /** Detaches, then lets what the programs wrote reach JavaScript: on a preemptible kernel a run
   * can still be in progress after the detach, and what it writes must be in the books. Waits
   * for nothing in flight, at most QUIESCE_MS; the last drain takes the rest. */
  private async quiesce(native: NativeSensor): Promise<void> {
    try {
      native.detach();
    } catch {
      return; // the stop that follows detaches too, and reports
    }
    for (const deadline = Date.now() + QUIESCE_MS; Date.now() < deadline; ) {
      if (this.stats().inFlight <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Proves the whole path while running: a child process makes one page RW→RX (watched whatever
   * the filters say) and its TRC-104 record must come back through the ring, the addon and the
   * decoder within timeoutMs. Resolves with the delay; rejects with what did not happen.
   */
  async selfCheck(timeoutMs = 3000): Promise<{ pid: number; latencyMs: number }> {
    if (this.state !== 'running') throw new Error(`wxwatch: selfCheck() on a sensor that is ${this.state}`);
    const began = Date.now();
    let arrived!: () => void;
    const seen = new Promise<void>((resolve) => (arrived = resolve));
    const pid = this.native!.probe();
    this.probes.set(pid, arrived);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`wxwatch: self-check failed: the W→X made by process ${pid} was not seen within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([seen, timeout]);
      return { pid, latencyMs: Date.now() - began };
    } finally {
      clearTimeout(timer);
      this.probes.delete(pid);
    }
  }

  /** Replaces the allowlist (processes to ignore); applies at once, in the kernel. */
  setAllowlist(allow: ProcessSelector): void {
    this.setFilters({ allow, scope: this.scope });
  }

  /** Replaces the scope (the only processes watched, per kind listed; {} for everything). */
  setScope(scope: ProcessSelector): void {
    this.setFilters({ allow: this.allow, scope });
  }

  /**
   * Replaces both. Everything is validated and encoded before any native call, so invalid
   * filters change nothing; in the kernel the change is all or nothing (two generations of the
   * lists, one flipped to once the other is full), so a narrowing scope never filters everything
   * in between and a refused change leaves the old lists exactly.
   */
  setFilters(filters: { allow?: ProcessSelector; scope?: ProcessSelector }): void {
    const { sets, config } = encodeFilters(filters.allow, filters.scope);
    if (this.state === 'running') this.native!.setFilters(sets, config);
    this.allow = filters.allow;
    this.scope = filters.scope;
    this.options.filters = sets;
    this.options.filterConfig = config;
  }

  stats(): SensorStats {
    const n: NativeStats = this.native?.stats() ?? NO_NATIVE_STATS;
    const emitted = n.drained - n.prefiltered - n.malformed;
    // In-kernel filters and the native alert-kind prefilter are both "filtered".
    const filtered = n.filtered + n.prefiltered;
    const inFlight = n.seen - emitted - filtered - n.suppressed - n.lost - n.lostBusy - n.throttled - n.malformed;
    const findingsBySignature: Record<string, number> = {};
    this.signatures.forEach((sig, k) => {
      if (this.signatureCounts[k]) findingsBySignature[sig.metadata.ID] = (findingsBySignature[sig.metadata.ID] ?? 0) + this.signatureCounts[k];
    });
    return { ...n, emitted, filtered, inFlight, ...this.counts, findingsBySignature };
  }

  /**
   * Findings as an async iterator, from this call on; it ends when the sensor closes. Each
   * iterator has its own bounded queue: a consumer that falls behind by maxQueued loses the
   * newest findings, counted in stats().dropped, never memory without bound.
   */
  findings(options: FindingsOptions = {}): AsyncIterableIterator<Finding> {
    const max = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isInteger(max) || max < 1 || max > 1 << 24) {
      throw new RangeError(`wxwatch: maxQueued must be an integer between 1 and ${1 << 24}, got ${String(max)}`);
    }
    const queue: BoundedQueue<Finding> = new BoundedQueue<Finding>(max, () => this.queues.delete(queue));
    this.queues.add(queue);
    if (this.state === 'closed') queue.end();
    return queue;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Finding> {
    return this.findings();
  }

  // Called by the addon once per batch. Nothing may escape from here: it would surface as an
  // uncaught exception on the JS thread.
  private onBatch(buffer: ArrayBuffer | null, records: number): void {
    try {
      if (buffer && records) this.dispatch(buffer, records);
    } catch (err) {
      this.counts.deliveryErrors++;
      this.reportThrow('batch delivery', err);
    }
    // The counters are per-CPU map reads (syscalls): look at most every 100 ms, and at the end.
    // A batch inside the window leaves a timer, so that the last change of a burst is reported
    // even when no batch follows it.
    const now = Date.now();
    if (now - this.lostCheckedAt >= LOSS_CHECK_MS) {
      this.lostCheckedAt = now;
      this.reportLosses();
    } else if (!this.lossTimer) {
      this.lossTimer = setTimeout(() => {
        this.lossTimer = undefined;
        if (this.state !== 'running') return;
        this.lostCheckedAt = Date.now();
        this.reportLosses();
      }, LOSS_CHECK_MS - (now - this.lostCheckedAt));
      this.lossTimer.unref();
    }
  }

  private finish(): SensorStats {
    this.state = 'closed';
    try {
      this.reportLosses();
    } catch {
      // reportLosses delivers through callEach, which catches; stats() failing leaves the books as they are
    }
    const stats = this.stats();
    this.endQueues();
    this.flushWarnings();
    this.deliver('close', stats);
    return stats;
  }

  private endQueues(): void {
    for (const queue of [...this.queues]) queue.end();
  }

  private dispatch(buffer: ArrayBuffer, records: number): void {
    const offset = addon.bootToEpochNs();
    if (this.listenerCount('batch')) {
      this.deliver('batch', { buffer, records, decode: () => decodeBatch(buffer, records, offset) });
    }
    // Listener lists are read once per batch, and records become objects only for someone.
    const onFinding = this.listenersOf('finding');
    const queues = this.queues.size ? [...this.queues] : [];
    const wantFindings = onFinding.length > 0 || queues.length > 0;
    const onAlert = this.options.alertKinds.size ? this.listenersOf('alert') : [];
    const onDenied = this.listenersOf('denied');
    if (wantFindings || onAlert.length || onDenied.length || this.probes.size) {
      this.dispatchRecords(batchView(buffer, records, offset), records, onFinding, queues, onAlert, onDenied);
    }
    if (this.listenerCount('delivered')) this.deliver('delivered', { records });
  }

  // The hot loop: one small view object per record, a Detection per finding, nothing else.
  private dispatchRecords(
    batch: BatchView,
    records: number,
    onFinding: Array<(f: Finding) => void>,
    queues: BoundedQueue<Finding>[],
    onAlert: Array<(e: MemProtAlert) => void>,
    onDenied: Array<(e: MemProtAlert) => void>,
  ): void {
    const view = batch.view;
    const signatures = this.signatures;
    const signatureKinds = this.signatureKinds;
    const signatureFlags = this.signatureFlags;
    const counts = this.counts;
    const alertKinds = this.options.alertKinds;
    const wantFindings = onFinding.length > 0 || queues.length > 0;
    let at = 0;
    for (let i = 0; i < records; i++) {
      const event = new MemProtAlert(batch, at, i);
      at += (view.getUint32(at + SIZE_AT, true) + ALIGN - 1) & ~(ALIGN - 1);
      if (this.probes.size) {
        const probe = this.probes.get(event.hostProcessId);
        if (probe) {
          if (TRC104.matches(event)) probe();
          continue;
        }
      }
      // another wxwatch sensor's self-check page (lib/self-check.ts): not a finding
      if (isSelfCheckOfASensor(event)) {
        counts.selfChecksOfOthers++;
        continue;
      }
      const flags = view.getUint32(event.o + FLAGS_AT, true);
      if (flags & DENIED) {
        counts.denied++;
        if (onDenied.length) this.callEach('denied', onDenied, event);
        continue;
      }
      const alert = view.getUint32(event.o + ALERT_AT, true);
      if (onAlert.length && alertKinds.has(alert)) {
        counts.alerts++;
        this.callEach('alert', onAlert, event);
      }
      if (!wantFindings) continue;
      for (let k = 0; k < signatures.length; k++) {
        if (((signatureKinds[k] >>> alert) & 1) === 0 && (flags & signatureFlags[k]) === 0) continue;
        const signature = signatures[k];
        // a refusal is one finding, of the signature of the rule that refused it
        if ((flags & BLOCKED) !== 0 && signature.refusedBy && !signature.refusedBy.includes(event.rule)) continue;
        if (!signature.matches(event)) continue;
        counts.findings++;
        this.signatureCounts[k]++;
        const finding = new Detection(signature.metadata, event);
        for (let l = 0; l < onFinding.length; l++) {
          try {
            onFinding[l].call(this, finding);
          } catch (err) {
            counts.listenerErrors++;
            this.reportThrow("'finding' listener", err);
          }
        }
        for (let q = 0; q < queues.length; q++) if (!queues[q].push(finding)) counts.dropped++;
      }
    }
  }

  private reportLosses(): void {
    const n = this.native?.stats();
    if (!n) return;
    if (n.lost > this.lostReported) {
      const lost = n.lost - this.lostReported;
      this.lostReported = n.lost;
      this.deliver('lost', { lost, total: n.lost });
    }
    const before = this.degradedReported;
    if (n.degraded > before.degraded || n.noState > before.noState) {
      this.degradedReported = { degraded: n.degraded, noState: n.noState };
      this.deliver('degraded', {
        degraded: n.degraded - before.degraded,
        noState: n.noState - before.noState,
        total: { ...this.degradedReported },
      });
    }
    const dropped = this.counts.dropped;
    if (dropped > this.droppedReported) {
      const delta = dropped - this.droppedReported;
      this.droppedReported = dropped;
      this.deliver('dropped', { dropped: delta, total: dropped });
    }
  }


  private listenersOf<K extends keyof SensorEvents>(event: K): Array<(...a: SensorEvents[K]) => void> {
    return this.rawListeners(event) as Array<(...a: SensorEvents[K]) => void>;
  }

  private deliver<K extends keyof SensorEvents>(event: K, ...args: SensorEvents[K]): void {
    this.callEach(event, this.listenersOf(event), ...args);
  }

  /** Calls each listener on its own, so that one that throws costs no other listener its event. */
  private callEach<K extends keyof SensorEvents>(
    event: K,
    listeners: Array<(...a: SensorEvents[K]) => void>,
    ...args: SensorEvents[K]
  ): void {
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (err) {
        this.counts.listenerErrors++;
        this.reportThrow(`'${String(event)}' listener`, err, event === 'error');
      }
    }
  }

  /** To 'error' listeners if any (never from an 'error' listener), else as a rate-limited warning. */
  private reportThrow(where: string, err: unknown, fromErrorListener = false): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!fromErrorListener && this.listenerCount('error') > 0) {
      this.deliver('error', error);
      return;
    }
    const now = Date.now();
    if (now - this.warnedAt < WARN_EVERY_MS) {
      this.unwarned++;
      return;
    }
    const more = this.unwarned ? ` (and ${this.unwarned} more throws since the last warning)` : '';
    const detail = this.warnedAt === 0 ? (error.stack ?? error.message) : error.message;
    this.warnedAt = now;
    this.unwarned = 0;
    process.emitWarning(`wxwatch: a ${where} threw${more}: ${detail}`);
  }

  private flushWarnings(): void {
    if (this.unwarned) process.emitWarning(`wxwatch: listeners threw ${this.unwarned} more times since the last warning`);
    this.unwarned = 0;
  }
}

