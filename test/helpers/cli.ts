// The wxwatch command as a child process with the stdout a test gives it: started, watched until
// it says it is watching, and its summary read back.
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './fixtures';

export const CLI = path.join(REPO, 'dist', 'lib', 'cli.js');

export interface CliRun {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts the CLI with stdout on `stdout`; resolves once it is watching. */
export async function startCli(args: string[], stdout: 'pipe' | 'ignore' | number): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', stdout, 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000; // a TCG guest takes its time to load the programs
  while (!err.includes('watching')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`CLI did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, stderr: () => err, exited };
}

/** The figures of the summary the CLI prints when it stops. */
export function summaryOf(stderr: string): Record<'seen' | 'findings' | 'alerts' | 'denied' | 'dropped' | 'lost', number> {
  const line = /stopped; (.*)$/m.exec(stderr)?.[1];
  if (!line) throw new Error(`no summary: ${stderr}`);
  const n = (name: string) => Number(new RegExp(`\\b${name} (\\d+)`).exec(line)?.[1] ?? NaN);
  return { seen: n('seen'), findings: n('findings'), alerts: n('alerts'), denied: n('denied'), dropped: n('dropped'), lost: n('lost') };
}

/** The most memory the process has held (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
