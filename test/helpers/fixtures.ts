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

function stale(out: string, src: string): boolean {
  return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs;
}

export function buildFixtures(): void {
  mkdirSync(BIN, { recursive: true });
  const wxfix = path.join(SRC, 'wxfix.c');
  if (stale(WXFIX, wxfix)) execFileSync('cc', ['-O1', '-Wall', '-Werror', '-o', WXFIX, wxfix]);
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
}

/** Runs a program to completion and returns the last JSON line it printed. */
export function runCommand(command: string, args: string[]): Promise<FixtureReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.trim().split('\n').filter(Boolean);
      if (code !== 0 || !lines.length) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`));
      resolve(JSON.parse(lines[lines.length - 1]) as FixtureReport);
    });
  });
}

/** Runs wxfix in one of its modes. */
export function runFixture(args: string[]): Promise<FixtureReport> {
  return runCommand(WXFIX, args);
}
