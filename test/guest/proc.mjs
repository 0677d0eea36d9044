// Running host commands with argument arrays (never a shell), failing with what they printed.
import { spawnSync } from 'node:child_process';

export function say(msg) {
  process.stderr.write(`wxwatch guest: ${msg}\n`);
}

/** Runs cmd and returns its stdout; throws with its stderr if it fails. */
export function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (res.error) throw new Error(`could not run ${cmd}: ${res.error.message}`);
  if (res.status !== 0) {
    const err = (res.stderr || '').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status}): ${err}`);
  }
  return res.stdout ?? '';
}

export const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
