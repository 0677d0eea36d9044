// Why a hook mode could not load or attach, in words a user can act on: a mode passed over before
// loading names what the kernel lacks; a verifier rejection names the program and quotes the
// verifier's last lines; "needs trampolines" is said only when the kernel refused a trampoline
// program without a verifier verdict.
import type { ModeFallback } from './native';

const VERIFIER_LOG = /prog '([^']+)': -- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/;
const NO_BTF_ID = /failed to find kernel BTF type ID of '([^']+)'/;
const TRAMPOLINE_REFUSALS = new Set([1 /* EPERM */, 95 /* EOPNOTSUPP */, 524 /* ENOTSUPP */]);

/** The last meaningful lines of a verifier log (its verdict comes last). */
function verdict(log: string, lines = 3): string {
  const useful = log
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(processed|verification time|stack depth)/.test(l));
  return useful.slice(-lines).join(' | ');
}

export function explainFallback(f: ModeFallback): string {
  // Passed over before loading: the reason names what the kernel lacks (kernel-features.ts).
  if (f.phase === 'probe') return `${f.mode}: ${f.reason}`;
  const log = f.log ?? '';
  const verifier = VERIFIER_LOG.exec(log);
  if (verifier && verifier[2].trim()) return `${f.mode}: the verifier rejected ${verifier[1]}: ${verdict(verifier[2])}`;
  const missing = NO_BTF_ID.exec(log);
  if (missing) return `${f.mode}: this kernel has no ${missing[1]} to hook`;
  if (f.mode === 'lsm-hook' && f.phase === 'load' && TRAMPOLINE_REFUSALS.has(f.errno)) {
    return `${f.mode}: the kernel refused BPF trampolines (fentry/fexit: ${f.reason})`;
  }
  return `${f.mode}: ${f.phase} failed (${f.reason})`;
}

/** Why each mode passed over failed, in one line. */
export function describeFallbacks(fallbacks: ModeFallback[]): string {
  return fallbacks.map(explainFallback).join('; ');
}
