// The embeddable sensor: batches from the addon become mem_prot_alert events, the signature
// turns them into findings, and everything leaves as typed EventEmitter events.
import { EventEmitter, on } from 'node:events';
import { MemProtAlert, decodeBatch } from './mem-prot-alert';
import { addon, ModeFallback, NativeSensor, NativeStats, StartInfo } from './native';
import { encodeFilters, ProcessSelector } from './filters';
import { nativeModes, resolveOptions, ResolvedOptions, SensorOptions } from './options';
import { assertRequirements, bpfLsmActive, RequirementsError } from './privileges';
import { describeFallbacks } from './load-errors';
import { Finding } from './signatures/signature';
import { FLAG } from './record-layout';
import { TRC104 } from './signatures/trc104';

/**
 * Every candidate the kernel saw ends in exactly one of emitted, filtered, suppressed, lost, or
 * is still on its way (inFlight; 0 once close() has resolved):
 * seen == emitted + filtered + suppressed + lost + inFlight.
 */
export interface SensorStats extends NativeStats {
  /** Records delivered to JavaScript (drained and passed the alert-kind prefilter). */
  emitted: number;
  /** Records written to the ring that JavaScript has not received yet. */
  inFlight: number;
  findings: number;
  /** Findings per signature ID. */
  findingsBySignature: Record<string, number>;
  alerts: number;
  denied: number;
  listenerErrors: number;
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
  error: [error: Error];
  close: [stats: SensorStats];
}

type State = 'idle' | 'running' | 'closing' | 'closed';

const LOSS_CHECK_MS = 100;

type NativeStartError = Error & { fallbacks?: ModeFallback[]; phase?: string; errno?: number; libbpfLog?: string };

/** No requested mode could start: say why for each, in the words of describeFallbacks(). */
function noModeAvailable(mode: string, err: NativeStartError): Error {
  // The native error is the last mode tried; earlier ones are in its fallbacks.
  const tried = [...(err.fallbacks ?? [])];
  tried.push({
    mode: mode === 'auto' ? 'tracepoint' : mode,
    phase: err.phase ?? 'load',
    errno: err.errno ?? 0,
    reason: err.message.split('\n')[0].replace(/^wxwatch: BPF \w+ failed: /, ''),
    log: err.libbpfLog ?? '',
  });
  const wrapped = new Error(`wxwatch: cannot start in mode ${mode}: ${describeFallbacks(tried)}`);
  return Object.assign(wrapped, { cause: err, fallbacks: tried, phase: err.phase, errno: err.errno, libbpfLog: err.libbpfLog });
}

/** Enforcement could not start: say what the kernel needs (RequirementsError: the CLI's exit 77). */
function enforceUnavailable(err: NativeStartError): Error {
  const why = noModeAvailable('lsm-hook', err).message.replace(/^wxwatch: cannot start in mode lsm-hook: /, '');
  const lsm = bpfLsmActive() ? '' : 'BPF LSM is not active (boot with lsm=...,bpf; the kernel needs CONFIG_BPF_LSM); ';
  return Object.assign(
    new RequirementsError(
      ['BPF LSM'],
      `wxwatch: enforce needs BPF LSM and BPF trampolines: ${lsm}${why}. Without enforce, the sensor audits in any mode.`,
    ),
    { cause: err },
  );
}

export class Sensor extends EventEmitter<SensorEvents> {
  private readonly options: ResolvedOptions;
  private native: NativeSensor | null = null;
  private state: State = 'idle';
  private closed: Promise<SensorStats> | null = null;
  private resolveClosed: ((stats: SensorStats) => void) | null = null;
  private counts = { findings: 0, alerts: 0, denied: 0, listenerErrors: 0 };
  private findingsBySignature: Record<string, number> = {};
  /** Self-check children, by pid: their W→X resolves the check and is not a finding. */
  private probes = new Map<number, () => void>();
  private lostReported = 0;
  private degradedReported = { degraded: 0, noState: 0 };
  private lostCheckedAt = 0;

  private allow: ProcessSelector | undefined;
  private scope: ProcessSelector | undefined;

  constructor(options: SensorOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.allow = options.allow;
    this.scope = options.scope;
  }

  /**
   * Loads and attaches the kernel programs and starts draining. Returns the mode in use and why
   * any better one was not; throws with what is missing.
   */
  start(): StartInfo {
    if (this.state !== 'idle') throw new Error(`wxwatch: start() on a sensor that is ${this.state}`);
    assertRequirements();
    const o = this.options;
    let mask = 0;
    let flagMask = 0;
    // TRC-104's alert always passes: selfCheck() relies on it whatever signatures run.
    for (const kind of [...o.alertKinds, ...TRC104.alertKinds, ...o.signatures.flatMap((s) => s.alertKinds)]) mask |= 1 << kind;
    for (const flag of o.signatures.flatMap((s) => s.recordFlags ?? [])) flagMask |= FLAG[flag];
    const native = new addon.NativeSensor(
      {
        modes: nativeModes(o.mode, o.enforce),
        enforce: o.enforce,
        ringBytes: o.ringBufferBytes,
        captureBytes: o.captureBytes,
        alertMask: mask,
        flagMask,
        batchBytes: o.batchBytes,
        drainIntervalMs: o.drainIntervalMs,
        emitDenied: o.denied,
        dedup: o.dedup,
        filters: o.filters,
        filterConfig: o.filterConfig,
      },
      (buffer, records, last) => this.onBatch(buffer, records, last),
    );
    let info: StartInfo;
    try {
      info = native.start();
    } catch (err) {
      if (o.enforce) throw enforceUnavailable(err as NativeStartError);
      throw noModeAvailable(o.mode, err as NativeStartError);
    }
    this.native = native;
    this.state = 'running';
    return info;
  }

  /** Stops, delivers what is still pending, detaches everything; resolves with the final stats. */
  close(): Promise<SensorStats> {
    if (this.closed) return this.closed;
    if (this.state === 'idle') {
      this.state = 'closed';
      this.closed = Promise.resolve(this.stats());
      return this.closed;
    }
    this.state = 'closing';
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.native?.stop();
    return this.closed;
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

  /** Replaces both; nothing changes if either is invalid. */
  setFilters(filters: { allow?: ProcessSelector; scope?: ProcessSelector }): void {
    const { sets, config } = encodeFilters(filters.allow, filters.scope);
    if (this.state === 'running') this.native!.setFilters(sets, config);
    this.allow = filters.allow;
    this.scope = filters.scope;
    this.options.filters = sets;
    this.options.filterConfig = config;
  }

  stats(): SensorStats {
    const n: NativeStats = this.native?.stats() ?? {
      seen: 0,
      lost: 0,
      filtered: 0,
      suppressed: 0,
      vmaTruncated: 0,
      noState: 0,
      degraded: 0,
      drained: 0,
      prefiltered: 0,
      batches: 0,
    };
    const emitted = n.drained - n.prefiltered;
    // In-kernel filters and the native alert-kind prefilter are both "filtered".
    const filtered = n.filtered + n.prefiltered;
    const inFlight = n.seen - emitted - filtered - n.suppressed - n.lost;
    return { ...n, emitted, filtered, inFlight, ...this.counts, findingsBySignature: { ...this.findingsBySignature } };
  }

  /** Findings as an async iterator; it ends when the sensor closes. */
  async *findings(): AsyncGenerator<Finding> {
    for await (const [finding] of on(this, 'finding', { close: ['close'] })) yield finding as Finding;
  }

  [Symbol.asyncIterator](): AsyncGenerator<Finding> {
    return this.findings();
  }

  private onBatch(buffer: ArrayBuffer | null, records: number, last: boolean): void {
    if (buffer && records) this.dispatch(buffer, records);
    // The counters are per-CPU map reads (syscalls): look at most every 100 ms, and at the end.
    const now = Date.now();
    if (last || now - this.lostCheckedAt >= LOSS_CHECK_MS) {
      this.lostCheckedAt = now;
      this.reportLosses();
    }
    if (last) {
      this.state = 'closed';
      const stats = this.stats();
      this.resolveClosed?.(stats);
      this.deliver('close', stats);
    }
  }

  private dispatch(buffer: ArrayBuffer, records: number): void {
    const offset = addon.bootToEpochNs();
    if (this.listenerCount('batch')) {
      this.deliver('batch', { buffer, records, decode: () => decodeBatch(buffer, records, offset) });
    }
    // Listener lists are read once per batch, and records become objects only for someone.
    const onFinding = this.listenersOf('finding');
    const onAlert = this.options.alertKinds.size ? this.listenersOf('alert') : [];
    const onDenied = this.listenersOf('denied');
    if (!onFinding.length && !onAlert.length && !onDenied.length && !this.probes.size) return;
    for (const event of decodeBatch(buffer, records, offset)) {
      const probe = this.probes.size ? this.probes.get(event.hostProcessId) : undefined;
      if (probe) {
        if (TRC104.matches(event)) probe();
        continue;
      }
      if (event.denied) {
        this.counts.denied++;
        this.callEach('denied', onDenied, event);
        continue;
      }
      if (onAlert.length && this.options.alertKinds.has(event.alert)) {
        this.counts.alerts++;
        this.callEach('alert', onAlert, event);
      }
      if (!onFinding.length) continue;
      for (const signature of this.options.signatures) {
        if (!signature.matches(event)) continue;
        const id = signature.metadata.ID;
        this.counts.findings++;
        this.findingsBySignature[id] = (this.findingsBySignature[id] ?? 0) + 1;
        this.callEach('finding', onFinding, { SigMetadata: signature.metadata, Event: event, Data: null });
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
        const error = err instanceof Error ? err : new Error(String(err));
        if (event !== 'error' && this.listenerCount('error') > 0) this.deliver('error', error);
        else process.emitWarning(`wxwatch: a '${String(event)}' listener threw: ${error.stack ?? error.message}`);
      }
    }
  }
}
