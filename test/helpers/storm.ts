// A W→X storm for the tests: one process flipping a page RW→RX→RW as fast as it can, for a
// bounded time (one core; the other stays free for the sensor and the test).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { buildHelpers } from '../../bench/build';

export function stormProgram(): string {
  return buildHelpers().mprotectLoop;
}

/** Runs the storm; resolves with its pid at once and `done` when it has ended. */
export function storm(seconds: number): { pid: number; done: Promise<void> } {
  const child = spawn(stormProgram(), ['match', '0', String(seconds)], { stdio: 'ignore' });
  return { pid: child.pid!, done: once(child, 'exit').then(() => undefined) };
}
