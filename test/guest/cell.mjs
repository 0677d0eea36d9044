#!/usr/bin/env node
// One cell of the matrix: the e2e subset (config.mjs GUEST_TESTS, or its kernel's own titles) in
// one mode, on whatever kernel this runs on, with the spec reporter on stdout. Writes
// { kernel, mode, passed, failed, skipped, failures: [{ title, message }], seconds } to --out.
// Usage: node test/guest/cell.mjs --mode tracepoint --kernel 6.1 --out FILE
import Mocha from 'mocha';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GUEST_TESTS, REPO, cellTitles } from './config.mjs';

const { values } = parseArgs({ options: { mode: { type: 'string' }, kernel: { type: 'string' }, out: { type: 'string' } } });
if (!values.mode || !values.kernel || !values.out) {
  console.error('usage: cell.mjs --mode MODE --kernel LABEL --out FILE');
  process.exit(2);
}
// The helpers read it when the sensor is created: tests that set no mode get this one.
process.env.WXWATCH_TEST_MODE = values.mode;

const require = createRequire(import.meta.url);
require(join(REPO, 'dist', 'test', 'helpers', 'fixtures.js')).buildFixtures();

/** Long messages keep their head and their tail, where a verifier log says why it refused. */
const clip = (s) => (s.length <= 4000 ? s : `${s.slice(0, 1500)}\n…\n${s.slice(-2500)}`);

const started = Date.now();
const failures = [];
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const titles = cellTitles(values.kernel, values.mode);
const grep = titles.length ? { grep: new RegExp(titles.map(escape).join('|')) } : {};
const mocha = new Mocha({ timeout: GUEST_TESTS.testTimeoutMs, reporter: 'spec', ...grep });
for (const file of GUEST_TESTS.files) mocha.addFile(join(REPO, file));
await mocha.loadFilesAsync();
mocha
  .run((failed) => {
    // Exit even if a failed test left a sensor running (its worker keeps the event loop alive).
    process.exit(failed ? 1 : 0);
  })
  .on('fail', (test, err) => {
    // A native load failure carries libbpf's log (the verifier's reason) beside its message.
    const log = typeof err?.libbpfLog === 'string' && !String(err.message).includes(err.libbpfLog) ? `\n${err.libbpfLog}` : '';
    failures.push({ title: test.fullTitle(), message: clip(`${err?.message ?? err}${log}`) });
  })
  .on('end', function () {
    const { passes, pending } = this.stats;
    const result = {
      kernel: values.kernel,
      mode: values.mode,
      passed: passes,
      failed: failures.length,
      skipped: pending,
      failures,
      seconds: (Date.now() - started) / 1000,
    };
    writeFileSync(values.out, JSON.stringify(result, null, 2));
  });
