#!/usr/bin/env node
// wxwatch: watch this host for dynamic code loading and print one TRC-104 detection per line
// on stdout (Tracee's JSON, or a line for people). Diagnostics go to stderr.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AlertKind } from './event';
import { detectionJson, toJson } from './output/json';
import { detectionLine } from './output/text';
import { CaptureDir } from './output/capture-dir';
import { RequirementsError } from './privileges';
import { ProcessSelector } from './filters';
import { SensorMode } from './options';
import { Sensor, SensorStats } from './sensor';
import { describeFallbacks } from './load-errors';
import { collectDefaultMetrics } from 'prom-client';
import { ListenAddress, parseListenAddress, SensorMetrics, sensorMetrics, serveMetrics } from './metrics';
import { FileSink } from './output/file-sink';

const USAGE = `usage: wxwatch [options]

Watches every process on this host for memory that was writable becoming executable
(TRC-104, dynamic code loading) and prints one detection per line on stdout.

  --mode auto|tracepoint|lsm-hook
                            how mprotect is watched (default auto: the best that works here)
  --format json|text        json: Tracee's detection JSON (default); text: one line for people
  --parse-arguments         render arguments for people (alert text, PROT_ names, hex addresses)
  --alerts                  also print raw mem_prot_alert events (all kinds) as JSON lines
  --denied                  also print W->X attempts the kernel refused, as JSON lines
  --ring-buffer-bytes N     kernel ring buffer size, a power of two (default 1048576)
  --signatures LIST         comma-separated signature IDs to run (default: all): TRC-104
                            (Tracee's W->X) and WXW-001 (executable alias of writable memory)
  --no-dedup                one finding per transition (default: once per transition kind,
                            region and file per process image)
  --allow KIND=VALUE        ignore matching processes, in the kernel; repeatable. KIND is pid,
                            uid, comm, exe (a path) or cgroup (a /sys/fs/cgroup path or an id)
  --scope KIND=VALUE        watch only matching processes; repeatable
  --enforce                 refuse W->X (EACCES, in the kernel, BPF LSM) to the processes
                            --scope names; each refusal is a finding marked blocked
  --enforce-all             refuse it to every process (but allowlisted ones)
  --capture-bytes N         bytes of newly executable code read per finding, hashed as
                            wxwatch.code.sha256 (multiple of 4096, at most 65536; 0: off)
  --capture-dir DIR         also store each distinct piece of code once, as DIR/SHA256.bin
                            (0600, 256 MiB in all at most)
  --filter-file FILE        JSON {"allow": {...}, "scope": {...}} with lists pids, uids, comms,
                            exes, cgroups; read at start and again on SIGHUP
  --output FILE             append output lines to FILE instead of stdout (created 0600, never
                            through a symlink; reopened on SIGHUP, for logrotate)
  --metrics [HOST:]PORT     serve Prometheus metrics at http://HOST:PORT/metrics (HOST
                            defaults to 127.0.0.1)
  -h, --help                this text

Needs root (or CAP_BPF and CAP_PERFMON). Stop with Ctrl-C or SIGTERM.`;

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
        signatures: { type: 'string' },
        enforce: { type: 'boolean', default: false },
        'capture-bytes': { type: 'string' },
        'capture-dir': { type: 'string' },
        'enforce-all': { type: 'boolean', default: false },
        allow: { type: 'string', multiple: true, default: [] },
        scope: { type: 'string', multiple: true, default: [] },
        'filter-file': { type: 'string' },
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
  const out: Record<string, Array<string | number>> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const kind = flag.slice(0, eq) as keyof typeof SELECTOR_FIELD;
    const value = flag.slice(eq + 1);
    if (eq < 0 || !(kind in SELECTOR_FIELD) || value === '') {
      throw new TypeError(`--${option} takes KIND=VALUE with KIND one of ${Object.keys(SELECTOR_FIELD).join(', ')}; got "${flag}"`);
    }
    const numeric = kind === 'pid' || kind === 'uid' || (kind === 'cgroup' && /^\d+$/.test(value));
    if (numeric && !/^\d+$/.test(value)) throw new TypeError(`--${option} ${kind} must be a number; got "${value}"`);
    (out[SELECTOR_FIELD[kind]] ??= []).push(numeric ? Number(value) : value);
  }
  return out as ProcessSelector;
}

function merge(a: ProcessSelector, b: ProcessSelector | undefined): ProcessSelector {
  const out: Record<string, unknown[]> = { ...(a as Record<string, unknown[]>) };
  for (const [k, v] of Object.entries(b ?? {})) out[k] = [...(out[k] ?? []), ...(v as unknown[])];
  return out as ProcessSelector;
}

function readFilterFile(file: string): { allow?: ProcessSelector; scope?: ProcessSelector } {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TypeError(`${file}: expected a JSON object`);
  const { allow, scope, ...rest } = parsed as Record<string, unknown>;
  if (Object.keys(rest).length) throw new TypeError(`${file}: unknown field "${Object.keys(rest)[0]}" (known: allow, scope)`);
  return { allow: allow as ProcessSelector, scope: scope as ProcessSelector };
}

function summary(s: SensorStats): string {
  return (
    `seen ${s.seen}, emitted ${s.emitted}, filtered ${s.filtered}, suppressed ${s.suppressed}, lost ${s.lost}, ` +
    `in flight ${s.inFlight}, batches ${s.batches}; degraded ${s.degraded} (prev unknown), ` +
    `no state ${s.noState}, oversized ranges ${s.vmaTruncated}; findings ${s.findings}` +
    Object.entries(s.findingsBySignature).map(([id, n]) => ` ${id} ${n}`).join(',') +
    `, alerts ${s.alerts}, denied ${s.denied}`
  );
}

/** --output FILE: the sink, reopened on SIGHUP; failures are reported on stderr and counted. */
function openOutput(file: string, sensor: Sensor, metrics: SensorMetrics | undefined): FileSink {
  let sink: FileSink;
  try {
    sink = new FileSink(file, {
      onDrop: (lines, err, first) => {
        metrics?.outputDropped('file', lines);
        if (first) process.stderr.write(`wxwatch: --output ${file}: write failed (${err.code ?? err.message}); dropping lines until it works again\n`);
      },
    });
  } catch (err) {
    fail(`--output: ${(err as Error).message}`, 2);
  }
  process.on('SIGHUP', () => {
    const err = sink.reopen();
    if (err) process.stderr.write(`wxwatch: SIGHUP: kept writing the old ${file}: ${err.message}\n`);
  });
  sensor.on('close', () => {
    sink.close();
    if (sink.dropped) process.stderr.write(`wxwatch: --output ${file}: ${sink.dropped} lines dropped (last error ${sink.lastError?.code})\n`);
  });
  return sink;
}

async function main(): Promise<void> {
  const args = parse();
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.format !== 'json' && args.format !== 'text') fail(`--format must be json or text, got "${args.format}"`, 2);
  const ringBufferBytes = args['ring-buffer-bytes'] === undefined ? undefined : Number(args['ring-buffer-bytes']);

  const filterFile = args['filter-file'];
  const filters = () => {
    const fromFile = filterFile ? readFilterFile(filterFile) : {};
    return {
      allow: merge(selectorFromFlags(args.allow, 'allow'), fromFile.allow),
      scope: merge(selectorFromFlags(args.scope, 'scope'), fromFile.scope),
    };
  };

  let sensor: Sensor;
  try {
    sensor = new Sensor({
      mode: args.mode as SensorMode,
      ringBufferBytes,
      alerts: args.alerts ? ([1, 2, 3, 4] as AlertKind[]) : false,
      denied: args.denied,
      dedup: !args['no-dedup'],
      enforce: args['enforce-all'] ? 'all' : args.enforce,
      captureBytes: args['capture-bytes'] === undefined ? undefined : Number(args['capture-bytes']),
      signatures: args.signatures === undefined ? undefined : args.signatures.split(',').map((x) => x.trim()),
      ...filters(),
    });
  } catch (err) {
    fail((err as Error).message, 2);
  }

  let listen: ListenAddress | undefined;
  try {
    listen = args.metrics === undefined ? undefined : parseListenAddress(args.metrics);
  } catch (err) {
    fail((err as Error).message, 2);
  }
  const metrics = listen ? sensorMetrics(sensor) : undefined;
  const sink = args.output ? openOutput(args.output, sensor, metrics) : undefined;
  let captures: CaptureDir | undefined;
  try {
    captures = args['capture-dir'] ? new CaptureDir(args['capture-dir']) : undefined;
  } catch (err) {
    fail((err as Error).message, 2);
  }
  if (captures) sensor.on('finding', (f) => captures.store(f));
  const out = sink ? (line: string) => sink.write(line) : (line: string) => process.stdout.write(`${line}\n`);
  const json = { parseArguments: args['parse-arguments'] };
  sensor.on('finding', (f) => out(args.format === 'text' ? detectionLine(f) : detectionJson(f, json)));
  sensor.on('alert', (e) => out(toJson(e.toJSON())));
  sensor.on('denied', (e) => out(toJson(e.toJSON())));
  sensor.on('lost', ({ lost, total }) => process.stderr.write(`wxwatch: lost ${lost} records (ring buffer full; ${total} in all)\n`));
  sensor.on('degraded', ({ degraded, noState }) =>
    process.stderr.write(
      `wxwatch: ${degraded} changes judged inexactly (flagged prevProtUnknown)` +
        (noState ? `, ${noState} calls not judged (no state could be stored)` : '') +
        '\n',
    ),
  );
  sensor.on('error', (err) => process.stderr.write(`wxwatch: ${err.message}\n`));

  let mode = '';
  try {
    const started = sensor.start();
    mode = started.mode;
    const why = started.fallbacks.length ? ` (${describeFallbacks(started.fallbacks)})` : '';
    process.stderr.write(`wxwatch: mode ${mode}${why}\n`);
    metrics?.setMode(mode);
  } catch (err) {
    if (err instanceof RequirementsError) fail(err.message, 77);
    fail((err as Error).message, 1);
  }
  // Watching nothing must not look like watching: prove the path before saying so.
  try {
    const { latencyMs } = await sensor.selfCheck();
    process.stderr.write(`wxwatch: self-check passed (a test W→X seen in ${latencyMs} ms)\n`);
  } catch (err) {
    await sensor.close();
    fail(`${(err as Error).message} (mode ${mode}); not watching`, 1);
  }
  process.stderr.write(`wxwatch: attached; watching mprotect, pkey_mprotect, mmap and shmat (every ABI) (pid ${process.pid})\n`);
  if (metrics && listen) {
    collectDefaultMetrics({ register: metrics.registry });
    serveMetrics(metrics.registry, listen).then(
      ({ url }) => process.stderr.write(`wxwatch: metrics at ${url}\n`),
      (err: Error) => fail(`--metrics ${args.metrics}: ${err.message}`, 1),
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    void sensor.close().then((stats) => {
      process.stderr.write(`wxwatch: ${signal}: stopped; ${summary(stats)}\n`);
      // Exit once stdout has taken everything written so far.
      process.stdout.write('', () => process.exit(0));
    });
  };
  // Filters change while running: edit the file, send SIGHUP. A bad file keeps the old filters.
  process.on('SIGHUP', () => {
    try {
      sensor.setFilters(filters());
      process.stderr.write('wxwatch: SIGHUP: filters reloaded\n');
    } catch (err) {
      process.stderr.write(`wxwatch: SIGHUP: filters unchanged: ${(err as Error).message}\n`);
    }
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
