// Latency from an mprotect call to the JavaScript 'finding' listener, at a low rate.
//
// Method: one clock on both sides. mprotect_loop reads CLOCK_MONOTONIC right before each RW→RX
// call and prints the stamps when it is done; the listener reads process.hrtime.bigint(), which
// is libuv's uv_hrtime(), CLOCK_MONOTONIC too, and system-wide. Transitions are far apart (10 ms)
// next to the latency, so the k-th finding belongs to the k-th stamp. Comparing against
// Event.timestamp instead would mix clocks: it is boot time plus an epoch offset, and an epoch
// reading in JS (Date.now()) has only millisecond resolution.
import type { Helpers } from './build';
import { config, log, monoNs, percentile, round, spawnJson, withSensor } from './helpers';

interface LatencyOut {
  pid: number;
  transitions: number;
  sentMonoNs: string[];
}

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  transitions: number;
  intervalMs: number;
  /** transitions without a finding (lost, or never delivered) */
  missing: number;
}

/** Latency of each received finding. With as many findings as stamps, the k-th goes with the
 * k-th; if some went missing, each goes with the latest stamp before it, which is right as long
 * as a latency stays below the interval between transitions. */
function pair(sent: bigint[], received: bigint[]): bigint[] {
  if (sent.length === received.length) return received.map((r, i) => r - sent[i]);
  const out: bigint[] = [];
  let s = 0;
  for (const r of received) {
    while (s + 1 < sent.length && sent[s + 1] <= r) s++;
    if (sent[s] <= r) out.push(r - sent[s]);
  }
  return out;
}

export async function runLatency(helpers: Helpers): Promise<LatencyResult> {
  log(`latency: ${config.latencyTransitions} transitions, ${config.latencyIntervalMs} ms apart`);
  let pid = -1;
  const received: bigint[] = [];
  const { result: sent } = await withSensor(
    (sensor) =>
      sensor.on('finding', (f) => {
        const at = monoNs(); // first, before anything else the listener does
        if (f.Event.hostProcessId === pid) received.push(at);
      }),
    async () => {
      const args = ['latency', String(config.latencyTransitions), String(config.latencyIntervalMs)];
      const child = spawnJson<LatencyOut>(helpers.mprotectLoop, args);
      pid = child.pid;
      return child.done;
    },
    // Every transition must yield its own finding: with dedup, a process's repeated flips of
    // anonymous memory would give only the first.
    { dedup: false },
  );
  // close() has delivered the last findings by now
  const latencies = pair(sent.sentMonoNs.map(BigInt), received).map((ns) => Number(ns) / 1e6);
  if (!latencies.length) throw new Error('bench: latency: the sensor delivered no finding for the probe');
  const ms = (v: number) => round(v, 3);
  return {
    p50Ms: ms(percentile(latencies, 50)),
    p99Ms: ms(percentile(latencies, 99)),
    minMs: ms(Math.min(...latencies)),
    maxMs: ms(Math.max(...latencies)),
    meanMs: ms(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    transitions: sent.transitions,
    intervalMs: config.latencyIntervalMs,
    missing: sent.transitions - received.length,
  };
}
