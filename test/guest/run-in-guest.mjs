#!/usr/bin/env node
// In the guest (or anywhere): runs the matrix cell of each mode in turn, each in its own node
// process, and writes <out>/<mode>.json for every mode, also when the cell crashed or hung.
// Usage: node test/guest/run-in-guest.mjs --kernel 6.1 --modes tracepoint,lsm-hook,auto --out DIR
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CELL_TIMEOUT_MS } from './config.mjs';

const CELL = fileURLToPath(new URL('./cell.mjs', import.meta.url));
const { values } = parseArgs({ options: { kernel: { type: 'string' }, modes: { type: 'string' }, out: { type: 'string' } } });
const label = values.kernel;
// guest-job.mjs names the results share; by hand, --out.
const outDir = values.out ?? process.env.WXWATCH_GUEST_RESULTS;

for (const mode of values.modes.split(',')) {
  const out = join(outDir, `${mode}.json`);
  console.log(`wxguest: ${mode}: running`);
  const started = Date.now();
  const res = spawnSync(process.execPath, [CELL, '--mode', mode, '--kernel', label, '--out', out], {
    stdio: 'inherit',
    timeout: CELL_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  const seconds = (Date.now() - started) / 1000;
  if (!existsSync(out)) {
    const why = res.error?.code === 'ETIMEDOUT' ? `timed out after ${seconds} s` : `exited ${res.status ?? res.signal} without a result`;
    const failure = { title: `${label}/${mode}`, message: `the mocha run ${why}` };
    writeFileSync(out, JSON.stringify({ kernel: label, mode, passed: 0, failed: 1, skipped: 0, failures: [failure], seconds }));
  }
  // The whole mocha process, its start included (the cell's own `seconds` begin after it).
  const r = { ...JSON.parse(readFileSync(out, 'utf8')), wallSeconds: seconds };
  writeFileSync(out, JSON.stringify(r, null, 2));
  console.log(`wxguest: ${mode}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped in ${seconds.toFixed(1)} s`);
}
