// In the guest: runs the command the host wrote to <results>/job.json ({ argv, cwd, env }) and
// records how it ended in <results>/exit.json. Output goes to the serial console.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const results = process.argv[2];
const job = JSON.parse(readFileSync(join(results, 'job.json'), 'utf8'));
const res = spawnSync(job.argv[0], job.argv.slice(1), {
  cwd: job.cwd,
  env: { ...process.env, ...job.env, WXWATCH_GUEST_RESULTS: results },
  stdio: 'inherit',
});
const exit = { code: res.status, signal: res.signal, error: res.error?.message ?? null };
writeFileSync(join(results, 'exit.json'), JSON.stringify(exit));
console.log(`wxguest: job exited ${JSON.stringify(exit)}`);
