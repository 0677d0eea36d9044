// The kernel matrix as part of npm test: one test per kernel × mode cell, failing if its e2e
// subset failed or could not run. test/guest/matrix.mjs does the work (the host cell, then a
// QEMU guest per Debian kernel) and prints the table. WXWATCH_SKIP_GUESTS=1 skips it.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from '../helpers/fixtures';
import { isRoot } from '../helpers/sensor';

const MATRIX = path.join(REPO, 'test', 'guest', 'matrix.mjs');

interface Cell {
  kernel: string;
  mode: string;
  ran: boolean;
  reason?: string;
  passed: number;
  failed: number;
  firstFailure: string;
}

// Tests are declared before any runs, so the list of cells comes from the harness up front.
const planned = JSON.parse(execFileSync(process.execPath, [MATRIX, '--list'], { encoding: 'utf8' })) as Cell[];

function runMatrix(out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MATRIX, '--json', out], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', () => resolve());
  });
}

describe('kernel matrix (root; the Debian kernels in QEMU guests)', function () {
  // Each boot is bounded (config.mjs bootTimeoutMs: 8 min per mode + 2): this only catches a hang.
  this.timeout(90 * 60_000);
  let cells: Cell[] = [];

  before(async function () {
    const skipGuests = !['', '0', undefined].includes(process.env.WXWATCH_SKIP_GUESTS);
    const skip = skipGuests ? 'WXWATCH_SKIP_GUESTS is set' : !isRoot ? 'needs root (apt-get, BPF)' : '';
    if (skip) {
      console.log(`  kernel matrix skipped: ${skip}`);
      this.skip();
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-matrix-'));
    try {
      const out = path.join(dir, 'matrix.json');
      await runMatrix(out);
      if (existsSync(out)) cells = (JSON.parse(readFileSync(out, 'utf8')) as { cells: Cell[] }).cells;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const { kernel, mode } of planned) {
    it(`${kernel}/${mode}`, () => {
      const cell = cells.find((c) => c.kernel === kernel && c.mode === mode);
      assert.ok(cell, 'the matrix run gave no result for this cell');
      assert.ok(cell.ran, `could not run: ${cell.reason}`);
      assert.equal(cell.failed, 0, `${cell.failed} of ${cell.passed + cell.failed} failed; first: ${cell.firstFailure}`);
    });
  }
});
