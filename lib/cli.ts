#!/usr/bin/env node
// wxwatch: watch this host for dynamic code loading and print one TRC-104 detection per line
// on stdout (Tracee's JSON, or a line for people). Diagnostics go to stderr.
import { parseArgs } from 'node:util';
import { AlertKind } from './event';
import { readFilterFile } from './filter-file';
import { LineOutput, stdoutTarget } from './output/line-output';
import { detectionJsonInto, eventJsonInto } from './output/json';
import { ByteSink } from './byte-writer';
import { detectionLine, eventLine } from './output/text';
import { addon } from './native';
import { privilegeError, RequirementsError } from './privileges';
import { parseSelector, ProcessSelector } from './filters';
import { SensorMode } from './options';
import { Sensor, SensorStats } from './sensor';
import { describeFallbacks } from './load-errors';
import { CaptureDir } from './output/capture-dir';
import { FileSink } from './output/file-sink';
import { collectDefaultMetrics } from 'prom-client';
import { ListenAddress, parseListenAddress, SensorMetrics, sensorMetrics, serveMetrics } from './metrics';

const USAGE = `usage: wxwatch [options]

Watches every process on this host for memory that was writable becoming executable
(TRC-104, dynamic code loading, and wxwatch's WXW-001..005: code made executable by any
route) and prints one detection per line on stdout.

  --mode auto|tracepoint|lsm-hook
                            how mprotect is watched (default auto: the best that works here)
  --format json|text        json: Tracee's detection JSON (default); text: one line for people
  --parse-arguments         render arguments for people (alert text, PROT_ names, hex addresses)
  --alerts                  also print raw mem_prot_alert events (all kinds), in --format
  --denied                  also print W->X attempts the kernel refused, in --format
  --ring-buffer-bytes N     kernel ring buffer size, a power of two (default 1048576)
  --no-dedup                one finding per transition (default: once per transition kind,
                            region and file per process image)
  --allow KIND=VALUE        ignore matching processes, in the kernel; repeatable. KIND is pid,
                            uid, comm, exe (a path) or cgroup (a /sys/fs/cgroup path or an id)
  --scope KIND=VALUE        watch only matching processes; repeatable
  --filter-file FILE        JSON {"allow": {...}, "scope": {...}} with lists pids, uids, comms,
                            exes, cgroups; read at start and again on SIGHUP
  --signatures LIST         comma-separated signature IDs to run (default: all): TRC-104
                            (Tracee's W->X), WXW-001 (executable alias of writable memory),
                            WXW-002 (code written into executable memory), WXW-003 (written
                            memory made executable), WXW-004 (in-memory file code), WXW-005
                            (writable and executable memory)
  --enforce                 refuse W->X (EACCES, in the kernel, BPF LSM) to the processes
                            --scope names (everyone is still audited); each refusal is a
                            finding marked blocked
  --enforce-all             refuse it to every process (but allowlisted ones)
  --capture-bytes N         bytes of newly executable code read per finding, hashed as
                            wxwatch.code.sha256 (multiple of 4096, at most 65536; 0: off)
  --capture-dir DIR         also store each distinct piece of code once, as DIR/SHA256.bin
                            (0600, 256 MiB in all at most)
  --output FILE             append output lines to FILE instead of stdout (a regular file,
                            created 0600, never through a symlink; reopened on SIGHUP, for
                            logrotate)
  --metrics [HOST:]PORT     serve Prometheus metrics at http://HOST:PORT/metrics (HOST
                            defaults to 127.0.0.1)
  --max-output-bytes N      stdout bytes queued for a slow reader before lines are dropped
                            and counted (default 16777216, at least 65536)
  -h, --help                this text

Needs root (or CAP_BPF and CAP_PERFMON). Stop with Ctrl-C or SIGTERM (a second one exits at
once). Exit codes: 0 stopped, 2 bad arguments, 77 missing privileges or kernel features,
1 load/attach failure or a failed self-check, 130/143 a second SIGINT/SIGTERM.`;

const DEFAULT_MAX_OUTPUT_BYTES = 16 << 20;
// Room for at least one largest line (about 29 KB: the longest paths, all control bytes, escaped).
const MIN_MAX_OUTPUT_BYTES = 64 << 10;
// On stop, how long a slow stdout gets to take what is queued; the rest is counted as dropped.
const FLUSH_ON_STOP_MS = 2000;

function fail(message: string, code: number): never {
  process.stderr.write(message.startsWith('wxwatch') ? `${message}\n` : `wxwatch: ${message}\n`);
  process.exit(code);
}

function parse() {
  try {
    return parseArgs({
      options: {
        mode: { type: 'string', default: 'auto' },
        format: { type: 'string', default: 'json' },
        'parse-arguments': { type: 'boolean', default: false },
        alerts: { type: 'boolean', default: false },
        denied: { type: 'boolean', default: false },
        'ring-buffer-bytes': { type: 'string' },
        'no-dedup': { type: 'boolean', default: false },
        allow: { type: 'string', multiple: true, default: [] },
        scope: { type: 'string', multiple: true, default: [] },
        'filter-file': { type: 'string' },
        'max-output-bytes': { type: 'string' },
        signatures: { type: 'string' },
        enforce: { type: 'boolean', default: false },
        'enforce-all': { type: 'boolean', default: false },
        'capture-bytes': { type: 'string' },
        'capture-dir': { type: 'string' },
        output: { type: 'string' },
        metrics: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
}

const SELECTOR_FIELD = { pid: 'pids', uid: 'uids', comm: 'comms', exe: 'exes', cgroup: 'cgroups' } as const;

/** KIND=VALUE flags into a selector; numbers where the kind takes numbers. */
function selectorFromFlags(flags: string[], option: string): ProcessSelector {
  const out: Record<string, Array<string | number | bigint>> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const kind = flag.slice(0, eq) as keyof typeof SELECTOR_FIELD;
    const value = flag.slice(eq + 1);
    if (eq < 0 || !(kind in SELECTOR_FIELD) || value === '') {
      throw new TypeError(`--${option} takes KIND=VALUE with KIND one of ${Object.keys(SELECTOR_FIELD).join(', ')}; got "${flag}"`);
    }
    const numeric = kind === 'pid' || kind === 'uid' || (kind === 'cgroup' && /^\d+$/.test(value));
    if (numeric && !/^\d+$/.test(value)) throw new TypeError(`--${option} ${kind} must be a number; got "${value}"`);
    const parsed = kind === 'cgroup' && numeric ? BigInt(value) : numeric ? Number(value) : value;
    (out[SELECTOR_FIELD[kind]] ??= []).push(parsed);
  }
  return parseSelector(out, `--${option}`);
}

/** Both selectors checked on their own first, so that a string is never spread into letters. */
function merge(a: ProcessSelector, b: ProcessSelector): ProcessSelector {
  const out: Record<string, unknown[]> = { ...(a as Record<string, unknown[]>) };
  for (const [k, v] of Object.entries(b)) out[k] = [...(out[k] ?? []), ...(v as unknown[])];
  return out as ProcessSelector;
}

function summary(s: SensorStats, outputDropped: number, captures?: CaptureDir): string {
  const code = captures
    ? `; code stored ${captures.written}, not stored ${captures.errors + captures.skippedFull} (${captures.errors} failed, ${captures.skippedFull} over the budget)`
    : '';
  return (
    // the books first, in the order of their identity: seen is the sum of the next eight
    `seen ${s.seen}, emitted ${s.emitted}, filtered ${s.filtered}, suppressed ${s.suppressed}, lost ${s.lost}, ` +
    `lost busy ${s.lostBusy}, throttled ${s.throttled}, malformed ${s.malformed}, in flight ${s.inFlight}; ` +
    `batches ${s.batches}; missed runs ${s.missedRuns}, degraded ${s.degraded} (judged inexactly, flagged), ` +
    `no state ${s.noState}, oversized ranges ${s.vmaTruncated}, unwalked ${s.unwalked}, code not read ${s.codeSkipped}; ` +
    `findings ${s.findings}` +
    Object.entries(s.findingsBySignature).map(([id, n]) => ` ${id} ${n}`).join(',') +
    `, self-checks of other sensors ${s.selfChecksOfOthers}` +
    `, alerts ${s.alerts}, denied ${s.denied}, dropped ${s.dropped + outputDropped}` +
    code
  );
}

function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`--${name} must be a positive integer, got "${value}"`, 2);
  return Number(value);
}

/** Where output lines go: stdout (bounded, EPIPE-aware), or --output's file. */
interface Output {
  /** One line, made only if it can still be written (a full output counts it dropped). */
  lineFrom(make: () => string): void;
  /** The same, for a line written as bytes into a sink. */
  bytesFrom(write: (sink: ByteSink) => void): void;
  /** A batch's lines are all in: write them. */
  flush(): void;
  finish(ms: number): Promise<unknown>;
  readonly dropped: number;
}

/** --output FILE: the sink, reopened on SIGHUP; failures are reported on stderr and counted. */
function fileOutput(file: string, metrics: SensorMetrics | undefined, say: (line: string) => void): Output {
  let sink: FileSink;
  try {
    sink = new FileSink(file, {
      onDrop: (lines, err, first) => {
        metrics?.outputDropped('file', lines);
        if (first) say(`--output ${file}: write failed (${err.code ?? err.message}); dropping lines until it works again`);
      },
    });
  } catch (err) {
    fail(`--output: ${(err as Error).message}`, 2);
  }
  const scratch = new ByteSink();
  process.on('SIGHUP', () => {
    const err = sink.reopen();
    if (err) say(`SIGHUP: kept writing the old ${file}: ${err.message}`);
  });
  return {
    lineFrom: (make) => sink.write(make()),
    bytesFrom: (write) => {
      scratch.at = 0;
      write(scratch);
      sink.write(scratch.buf.toString('utf8', 0, scratch.at));
    },
    flush: () => sink.flush(),
    finish: async () => sink.close(),
    get dropped() {
      return sink.dropped;
    },
  };
}

/** The exit code for a start failure: 77 for privileges and kernel features, else 1. */
function startFailure(err: unknown): never {
  if (err instanceof RequirementsError) fail(err.message, 77);
  const denied = privilegeError(err);
  if (denied) fail(denied.message, 77);
  fail((err as Error).message, 1);
}

async function main(): Promise<void> {
  const args = parse();
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // stderr gone (EPIPE) must not become an uncaught exception either.
  process.stderr.on('error', () => {});
  const say = (line: string) => process.stderr.write(`wxwatch: ${line.replace(/^wxwatch: /, '')}\n`);
  // SIGHUP's default action kills: caught from here on; a reload asked for before the sensor is
  // watching waits until it is.
  let hupBeforeWatching = false;
  const earlyHup = () => {
    hupBeforeWatching = true;
    say('SIGHUP before watching: deferred until watching');
  };
  process.on('SIGHUP', earlyHup);
  if (args.format !== 'json' && args.format !== 'text') fail(`--format must be json or text, got "${args.format}"`, 2);
  const ringBufferBytes = numberFlag('ring-buffer-bytes', args['ring-buffer-bytes']);
  const maxOutputBytes = numberFlag('max-output-bytes', args['max-output-bytes']) ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (maxOutputBytes < MIN_MAX_OUTPUT_BYTES) {
    fail(`--max-output-bytes must be at least ${MIN_MAX_OUTPUT_BYTES} (room for one largest line), got ${maxOutputBytes}`, 2);
  }
  const captureBytes = numberFlag('capture-bytes', args['capture-bytes']);

  const filterFile = args['filter-file'];
  const filters = () => {
    const fromFile = filterFile ? readFilterFile(filterFile) : { allow: {}, scope: {} };
    return {
      allow: merge(selectorFromFlags(args.allow, 'allow'), fromFile.allow),
      scope: merge(selectorFromFlags(args.scope, 'scope'), fromFile.scope),
    };
  };

  let sensor: Sensor;
  let listen: ListenAddress | undefined;
  let captures: CaptureDir | undefined;
  try {
    sensor = new Sensor({
      mode: args.mode as SensorMode,
      ringBufferBytes,
      alerts: args.alerts ? ([1, 2, 3, 4] as AlertKind[]) : false,
      denied: args.denied,
      dedup: !args['no-dedup'],
      enforce: args['enforce-all'] ? 'all' : args.enforce,
      captureBytes,
      signatures: args.signatures === undefined ? undefined : args.signatures.split(',').map((x) => x.trim()),
      ...filters(),
    });
    listen = args.metrics === undefined ? undefined : parseListenAddress(args.metrics);
    captures = args['capture-dir'] ? new CaptureDir(args['capture-dir'], undefined, { report: say }) : undefined;
  } catch (err) {
    fail((err as Error).message, 2);
  }

  const metrics = listen ? sensorMetrics(sensor) : undefined;
  const output: Output = args.output
    ? fileOutput(args.output, metrics, say)
    : new LineOutput(stdoutTarget(addon), maxOutputBytes, {
        closed: () => stop('stdout closed'),
        report: (message) => say(`stdout: ${message}`),
      });
  const out = (make: () => string) => output.lineFrom(make);
  const outBytes = (write: (sink: ByteSink) => void) => output.bytesFrom(write);
  const json = { parseArguments: args['parse-arguments'] };
  if (captures) {
    const dir = captures;
    sensor.on('finding', (f) => dir.store(f));
  }
  // One line per finding and event, in --format; one write per batch.
  const text = args.format === 'text';
  // (JSON goes straight into the output's bytes)
  sensor.on('finding', text ? (f) => out(() => detectionLine(f)) : (f) => outBytes((sink) => detectionJsonInto(f, sink, json)));
  sensor.on('alert', text ? (e) => out(() => eventLine(e)) : (e) => outBytes((sink) => eventJsonInto(e, sink)));
  sensor.on('denied', text ? (e) => out(() => eventLine(e)) : (e) => outBytes((sink) => eventJsonInto(e, sink)));
  sensor.on('delivered', () => output.flush());
  sensor.on('lost', ({ lost, total }) => say(`lost ${lost} records (ring buffer full; ${total} in all)`));
  sensor.on('degraded', ({ degraded, noState }) =>
    say(
      `${degraded} changes judged inexactly (flagged prevProtUnknown)` +
        (noState ? `, ${noState} calls not judged (no state could be stored)` : ''),
    ),
  );
  sensor.on('error', (err) => say(err.message));

  let mode = '';
  try {
    const started = sensor.start();
    mode = started.mode;
    const why = started.fallbacks.length ? ` (${describeFallbacks(started.fallbacks)})` : '';
    say(`mode ${mode}${why}`);
    for (const note of started.notes) say(`not seen here: ${note}`);
    for (const warning of started.warnings) say(`warning: ${warning}`);
    for (const what of started.notRefused) say(`enforcement cannot refuse: ${what}`);
    metrics?.setMode(mode);
  } catch (err) {
    startFailure(err);
  }
  // Watching nothing must not look like watching: prove the path before saying so.
  try {
    const { latencyMs } = await sensor.selfCheck();
    say(`self-check passed (a test W→X seen in ${latencyMs} ms)`);
  } catch (err) {
    await sensor.close();
    fail(`${(err as Error).message} (mode ${mode}); not watching`, 1);
  }
  say(`attached; watching memory made executable, executable aliases and writes into executable memory (every ABI) (pid ${process.pid})`);
  if (metrics && listen) {
    collectDefaultMetrics({ register: metrics.registry });
    serveMetrics(metrics.registry, listen).then(
      ({ url }) => say(`metrics at ${url}`),
      (err: Error) => fail(`--metrics ${args.metrics}: ${err.message}`, 1),
    );
  }

  let stopping = false;
  function stop(why: string): void {
    if (stopping) return;
    stopping = true;
    void sensor.close().then(async (stats) => {
      await output.finish(FLUSH_ON_STOP_MS);
      say(`${why}: stopped; ${summary(stats, output.dropped, captures)}`);
      process.exit(0);
    });
  }
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (!stopping) return stop(signal);
    // A second signal: the user does not want to wait for the drain or a slow stdout.
    say(`${signal} again: exiting now; ${summary(sensor.stats(), output.dropped, captures)}`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  // Filters change while running: edit the file, send SIGHUP. A bad file keeps the old filters:
  // everything is read, checked and encoded before anything reaches the kernel.
  const reload = () => {
    try {
      sensor.setFilters(filters());
      say('SIGHUP: filters reloaded');
    } catch (err) {
      const state = (err as { halfApplied?: boolean }).halfApplied ? 'reload failed' : 'filters unchanged';
      say(`SIGHUP: ${state}: ${(err as Error).message}`);
    }
  };
  process.on('SIGHUP', reload);
  process.off('SIGHUP', earlyHup);
  if (hupBeforeWatching) reload();
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

void main();
