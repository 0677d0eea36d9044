// Helpers for tests that run the real sensor: start/close around a test, wait for events.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Sensor as LibSensor, SensorEvents } from '../../lib/sensor';
import { SensorOptions } from '../../lib/options';
import type { SensorStartInfo as StartInfo } from '../../lib/sensor';
import { runFixture } from './fixtures';
import type { Finding } from '../../lib/signatures/signature';

export const isRoot = process.getuid?.() === 0;

/** Skips the suite unless running as root: these tests load real BPF programs. */
export function requireRoot(this: Mocha.Context): void {
  if (!isRoot) this.skip();
}

/**
 * The mode the sensor runs in when a test sets none: WXWATCH_TEST_MODE (the kernel matrix runs
 * the e2e subset once per mode with it), else the library's default. Kept a plain string so the
 * set of modes can change without touching this.
 */
export const TEST_MODE = process.env.WXWATCH_TEST_MODE || undefined;

export function withTestMode(options: SensorOptions = {}): SensorOptions {
  if (options.mode !== undefined || TEST_MODE === undefined) return options;
  return { ...options, mode: TEST_MODE as SensorOptions['mode'] };
}

/** The library's Sensor defaulting to TEST_MODE: e2e tests construct this one. */
export class Sensor extends LibSensor {
  constructor(options: SensorOptions = {}) {
    super(withTestMode(options));
  }
}

/** A started sensor, for suites that share one across tests (close it in after()). */
export function startSensor(options: SensorOptions): { sensor: Sensor; info: StartInfo } {
  const sensor = new Sensor(options);
  return { sensor, info: sensor.start() };
}

export async function withSensor<T>(
  options: SensorOptions,
  fn: (sensor: Sensor, started: StartInfo) => Promise<T>,
): Promise<T> {
  const sensor = new Sensor(options);
  const started = sensor.start();
  try {
    return await fn(sensor, started);
  } finally {
    await sensor.close();
  }
}

/** Everything emitted as `event` from now on. */
export function collect<K extends keyof SensorEvents>(sensor: Sensor, event: K): SensorEvents[K][0][] {
  const seen: SensorEvents[K][0][] = [];
  sensor.on(event, ((arg: SensorEvents[K][0]) => seen.push(arg)) as never);
  return seen;
}

/** Resolves with the first `event` matching `match`, among those already collected or to come. */
export function waitFor<T>(seen: T[], match: (x: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const hit = seen.find(match);
      if (hit !== undefined) return resolve(hit);
      if (Date.now() > deadline) return reject(new Error(`no matching event within ${timeoutMs} ms (${seen.length} seen)`));
      setTimeout(poll, 5);
    };
    poll();
  });
}

/**
 * Waits until a W→X done by a fresh process after this call has arrived: everything recorded
 * before it has been delivered, since records leave the ring in order.
 */
export async function settle(findings: Finding[]): Promise<void> {
  const sentinel = await runFixture(['w2x']);
  await waitFor(findings, (f) => f.Event.hostProcessId === sentinel.pid);
}

function loadedPrograms(): Array<{ id: number; type: string; name?: string }> {
  const bpftool = existsSync('/usr/sbin/bpftool') ? '/usr/sbin/bpftool' : 'bpftool';
  return JSON.parse(execFileSync(bpftool, ['-j', 'prog', 'show'], { encoding: 'utf8' }));
}

/** IDs of every BPF program loaded in the kernel now. */
export function loadedProgramIds(): Set<number> {
  return new Set(loadedPrograms().map((p) => p.id));
}

/** The program types (bpftool's names) of the given program ids. */
export function programTypes(ids: number[]): string[] {
  const byId = new Map(loadedPrograms().map((p) => [p.id, p.type]));
  return ids.map((id) => byId.get(id) ?? 'gone');
}
