// The fixture programs (test/fixtures/*.c): built from source by the test run, then run as real
// processes whose page protections the sensor watches.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const REPO = path.join(__dirname, '..', '..', '..');
const SRC = path.join(REPO, 'test', 'fixtures');
export const BIN = path.join(SRC, 'bin');
export const WXFIX = path.join(BIN, 'wxfix');
export const WXSELF = path.join(BIN, 'wxself.so');
export const WXEVADE = path.join(BIN, 'wxevade');
export const WXROUTES = path.join(BIN, 'wxroutes');
/** A shell script, run with bash: DDexec's technique (/proc/self/mem from bash), our own code. */
export const DDSC_LIKE = path.join(SRC, 'ddsc-like.sh');

function stale(out: string, ...srcs: string[]): boolean {
  return !existsSync(out) || srcs.some((src) => statSync(out).mtimeMs < statSync(src).mtimeMs);
}

export function buildFixtures(): void {
  mkdirSync(BIN, { recursive: true });
  const wxfix = path.join(SRC, 'wxfix.c');
  if (stale(WXFIX, wxfix)) execFileSync('cc', ['-O1', '-Wall', '-Werror', '-o', WXFIX, wxfix]);
  // the corpus: one header (the report line), two programs
  const corpus = path.join(SRC, 'corpus.h');
  const wxevade = path.join(SRC, 'wxevade.c');
  if (stale(WXEVADE, wxevade, corpus)) execFileSync('cc', ['-O1', '-Wall', '-Werror', '-pthread', '-o', WXEVADE, wxevade]);
  const wxroutes = path.join(SRC, 'wxroutes.c');
  if (stale(WXROUTES, wxroutes, corpus)) execFileSync('cc', ['-O1', '-Wall', '-Werror', '-pthread', '-o', WXROUTES, wxroutes]);
  const wxself = path.join(SRC, 'wxself.c');
  if (stale(WXSELF, wxself)) execFileSync('cc', ['-O1', '-Wall', '-Werror', '-shared', '-fPIC', '-o', WXSELF, wxself]);
}

/** What wxfix printed about itself; numbers that may exceed 2^53 come as strings. */
export interface FixtureReport {
  mode: string;
  pid: number;
  tid?: number;
  addr: string;
  len: number;
  rc?: number;
  errno?: number;
  path?: string;
  inode?: string;
  dev?: number;
  /** The kernel lacks what the mode needs (e.g. PR_SET_MDWE before 6.3). */
  unsupported?: boolean;
}

export interface Run<R> {
  /** The pid of the process spawned (not of any child it forks). */
  pid: number;
  /** Every JSON line printed, in order. */
  reports: R[];
  /** The last one. */
  report: R;
}

/** Starts a program; `done` settles as runWithPid does. The pid is known at once. */
export function startWithPid<R = FixtureReport>(command: string, args: string[]): { pid: number; done: Promise<Run<R>> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<Run<R>>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.trim().split('\n').filter(Boolean);
      if (code !== 0 || !lines.length) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`));
      const reports = lines.map((l) => JSON.parse(l) as R);
      resolve({ pid: child.pid!, reports, report: reports[reports.length - 1] });
    });
  });
  return { pid: child.pid!, done };
}

/** Runs a program to completion; fails unless it exits 0 having printed JSON lines. */
export function runWithPid<R = FixtureReport>(command: string, args: string[]): Promise<Run<R>> {
  return startWithPid<R>(command, args).done;
}

/** Runs a program to completion and returns the last JSON line it printed. */
export async function runCommand(command: string, args: string[]): Promise<FixtureReport> {
  return (await runWithPid(command, args)).report;
}

/** Starts wxfix in one of its modes. */
export function startFixture(args: string[]): { pid: number; done: Promise<Run<FixtureReport>> } {
  return startWithPid(WXFIX, args);
}

/** Runs wxfix in one of its modes. */
export function runFixture(args: string[]): Promise<FixtureReport> {
  return runCommand(WXFIX, args);
}
