// Prometheus metrics for a sensor (prom-client): counters that mirror stats() at scrape time,
// findings per signature, dropped output, the hook mode and the kernel-to-JS delay; and a
// small HTTP endpoint for the CLI. Services that run a registry pass theirs in.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Sensor, SensorStats } from './sensor';
import type { Finding } from './signatures/signature';
import { TRC104 } from './signatures/trc104';

/** stats() fields that are levels, not running totals. */
const GAUGE_FIELDS = new Set(['inFlight', 'lentBatches']);
/** stats() fields that have a metric of their own (findings are counted per signature, in
 * wxwatch_findings_total{signature}). */
const OWN_METRIC = new Set(['findings', 'findingsBySignature']);

const HELP: Record<string, string> = {
  seen: 'Candidate W->X transitions the kernel saw (seen = emitted + filtered + suppressed + lost + lost busy + throttled + malformed + in flight)',
  emitted: 'Records delivered to JavaScript',
  filtered: 'Candidates dropped by allow/scope filters or the alert-kind prefilter',
  suppressed: 'Candidates suppressed by dedup (same process image, same kind of transition)',
  lost: 'Records lost because the ring buffer was full',
  inFlight: 'Records written to the ring buffer that JavaScript has not received yet',
  drained: 'Records drained from the ring buffer',
  prefiltered: 'Records dropped by the native alert-kind prefilter',
  batches: 'Record batches handed to JavaScript',
  lentBatches: 'Record batches JavaScript holds now without a copy (128 at most)',
  copiedBatches: 'Record batches handed to JavaScript as a copy, 128 being held already',
  alerts: 'Raw mem_prot_alert events delivered',
  denied: 'W->X attempts the kernel refused, delivered as mem_prot_denied',
  listenerErrors: 'Listener calls that threw',
  selfChecksOfOthers: "W->X of another wxwatch sensor's self-check page (recognised by its SHA-256; not findings)",
};

/** The Prometheus name of a stats() field: seen → wxwatch_seen_total, inFlight → wxwatch_in_flight. */
export function statMetricName(field: string): string {
  const snake = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, '_');
  return GAUGE_FIELDS.has(field) ? `wxwatch_${snake}` : `wxwatch_${snake}_total`;
}

export const DELAY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface SensorMetricsOptions {
  /** Registry to add the metrics to (default: a new one). One sensor per registry. */
  registry?: Registry;
  /** Buckets of wxwatch_delivery_delay_seconds. */
  delayBuckets?: number[];
}

export interface SensorMetrics {
  readonly registry: Registry;
  /** Sets wxwatch_mode{mode} to 1 for the mode start() returned (and clears any other). */
  setMode(mode: string): void;
  /** Counts output lines that could not be written (wxwatch_output_dropped_total{output}). */
  outputDropped(output: string, lines?: number): void;
  /** Stops listening to the sensor; the metrics stay registered with their last values. */
  detach(): void;
}

/**
 * Registers the sensor's metrics. Counters read sensor.stats() once per scrape; fields that
 * stats() gains later are registered at the scrape that first sees them.
 */
export function sensorMetrics(sensor: Sensor, options: SensorMetricsOptions = {}): SensorMetrics {
  const registry = options.registry ?? new Registry();
  // One stats() call per scrape: every counter of a scrape comes from the same snapshot, so
  // the books balance in what Prometheus stores.
  let snapshot: SensorStats | undefined;
  const stats = (): SensorStats => {
    if (!snapshot) {
      snapshot = sensor.stats();
      setImmediate(() => (snapshot = undefined));
      for (const [field, value] of Object.entries(snapshot)) addStat(field, value);
    }
    return snapshot;
  };

  const known = new Set<string>();
  function addStat(field: string, value: unknown): void {
    // Only numbers become counters: anything else would be scraped as NaN.
    if (known.has(field) || OWN_METRIC.has(field) || typeof value !== 'number') return;
    known.add(field);
    const help = HELP[field] ?? `wxwatch sensor stats().${field}`;
    const read = () => {
      const v = (stats() as unknown as Record<string, unknown>)[field];
      return typeof v === 'number' && Number.isFinite(v) ? v : 0;
    };
    if (GAUGE_FIELDS.has(field)) {
      new Gauge({ name: statMetricName(field), help, registers: [registry], collect() { this.set(read()); } });
    } else {
      new Counter({
        name: statMetricName(field),
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    }
  }
  for (const [field, value] of Object.entries(sensor.stats())) addStat(field, value);

  const findings = new Counter({
    name: 'wxwatch_findings_total',
    help: 'Findings delivered, per signature',
    labelNames: ['signature'],
    registers: [registry],
  });
  findings.inc({ signature: TRC104.metadata.ID }, 0);
  const dropped = new Counter({
    name: 'wxwatch_output_dropped_total',
    help: 'Output lines that could not be written (the sensor keeps running)',
    labelNames: ['output'],
    registers: [registry],
  });
  const mode = new Gauge({
    name: 'wxwatch_mode',
    help: 'The hook mode in use (1 for the label of the mode start() chose)',
    labelNames: ['mode'],
    registers: [registry],
  });
  const delay = new Histogram({
    name: 'wxwatch_delivery_delay_seconds',
    help: 'Time from the kernel event to delivery of its finding in JavaScript',
    buckets: options.delayBuckets ?? DELAY_BUCKETS,
    registers: [registry],
  });

  const onFinding = (f: Finding) => {
    findings.inc({ signature: f.SigMetadata.ID });
    // Epoch nanoseconds; sub-millisecond wall clock from performance.now().
    const nowNs = (performance.timeOrigin + performance.now()) * 1e6;
    delay.observe(Math.max(0, (nowNs - Number(f.Event.timestamp)) / 1e9));
  };
  sensor.on('finding', onFinding);

  return {
    registry,
    setMode(m: string) {
      mode.reset();
      mode.set({ mode: m }, 1);
    },
    outputDropped(output: string, lines = 1) {
      dropped.inc({ output }, lines);
    },
    detach() {
      sensor.off('finding', onFinding);
    },
  };
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** "PORT", ":PORT", "HOST:PORT" or "[IPv6]:PORT"; the host defaults to 127.0.0.1. */
export function parseListenAddress(spec: string): ListenAddress {
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TypeError(`--metrics takes [HOST:]PORT (e.g. 127.0.0.1:9464); got "${spec}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/**
 * Bounds of the endpoint: every descriptor it holds is one the sensor cannot use (captured code,
 * SIGHUP's reopen and filter reload), so idle and slow clients are closed within seconds and
 * connections past the cap are closed at once. A Prometheus scrape needs one.
 */
export const METRICS_SERVER_LIMITS = {
  maxConnections: 16,
  /** A connection with no traffic, including a keep-alive one between requests. */
  idleMs: 5000,
  /** Until a request's headers are in; checked every checkMs. */
  headersMs: 5000,
  requestMs: 10000,
  checkMs: 1000,
};

/** Serves GET /metrics from the registry (404 elsewhere); resolves once listening. */
export function serveMetrics(registry: Registry, address: ListenAddress): Promise<{ server: Server; url: string }> {
  const limits = METRICS_SERVER_LIMITS;
  const options = {
    headersTimeout: limits.headersMs,
    requestTimeout: limits.requestMs,
    keepAliveTimeout: limits.idleMs,
    connectionsCheckingInterval: limits.checkMs,
  };
  const server = createServer(options, (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(path === '/metrics' ? 405 : 404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  server.maxConnections = limits.maxConnections;
  // With no 'timeout' listener, a socket idle this long is destroyed.
  server.setTimeout(limits.idleMs);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      const { address: host, port } = server.address() as AddressInfo;
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({ server, url: `http://${shown}:${port}/metrics` });
    });
  });
}
