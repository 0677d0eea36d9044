#!/usr/bin/env node
// Runs the mocha suites from dist/test and ends with the line CI reads: "N passed, N failed".
import Mocha from 'mocha';
import { createRequire } from 'node:module';
import { readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'test');

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return testFiles(full);
    return name.endsWith('.test.js') ? [full] : [];
  });
}

// The fixtures are C programs; build them before any suite needs one.
require(join(compiled, 'helpers', 'fixtures.js')).buildFixtures();

// `node test/run.mjs e2e` runs only dist/test/e2e (npm run test:asan does).
const only = process.argv[2];
const mocha = new Mocha({ timeout: 30000, reporter: 'spec' });
for (const file of testFiles(only ? join(compiled, only) : compiled).sort()) mocha.addFile(file);
await mocha.loadFilesAsync();
mocha.run((failures) => {
  // Exit even if a failed test left a sensor running (its worker keeps the event loop alive).
  process.exit(failures ? 1 : 0);
}).on('end', function () {
  const { passes, failures, pending } = this.stats;
  console.log(`${passes} passed, ${failures} failed, ${pending} skipped`);
});
