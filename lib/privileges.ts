// What the kernel side needs from this process and this kernel, checked up front so that a
// user reads what is missing instead of an errno from deep inside libbpf.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { BTF_QUERIES } from './kernel-features';
import { addon } from './native';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** What the checks look at; a parameter so that each case can be tested without that host. */
export interface Probe {
  /** CapEff of this process. */
  caps: bigint;
  btf: boolean;
  /** Whether the kernel creates BPF ring buffers; null or absent: not probed (no privilege, no
   * addon). */
  ringbuf?: boolean | null;
  /** Which of BTF_QUERIES (kernel-features.ts) the kernel's BTF answers yes to; null or absent:
   * not read (the load then decides). */
  kernel?: ReadonlySet<string> | null;
}

function effectiveCapabilities(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return line ? BigInt(`0x${line[1]}`) : 0n;
}

function hasBpfCaps(caps: bigint): boolean {
  const has = (cap: bigint) => (caps & (1n << cap)) !== 0n;
  return has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON));
}

// The kernel does not change under a running process: probed once.
let kernelProbed: Pick<Probe, 'ringbuf' | 'kernel'> | undefined;

/** The ring buffer and BTF probes, through the addon; only once the privileges are there, so
 * that an unprivileged start() says what it lacks without loading anything native. */
function kernelProbe(): Pick<Probe, 'ringbuf' | 'kernel'> {
  if (kernelProbed) return kernelProbed;
  const native = addon as Partial<typeof addon>;
  let ringbuf: boolean | null = null;
  let kernel: ReadonlySet<string> | null = null;
  try {
    const verdict = native.probeMapType?.('ringbuf');
    ringbuf = verdict === undefined || verdict < 0 ? null : verdict === 1;
  } catch {
    ringbuf = null;
  }
  try {
    const answers = native.kernelBtf?.(BTF_QUERIES);
    if (answers) kernel = new Set(BTF_QUERIES.filter((_, i) => answers[i]));
  } catch {
    kernel = null; // unreadable BTF: the load says why
  }
  kernelProbed = { ringbuf, kernel };
  return kernelProbed;
}

export function systemProbe(): Probe {
  const caps = effectiveCapabilities();
  const btf = existsSync('/sys/kernel/btf/vmlinux');
  return { caps, btf, ...(hasBpfCaps(caps) && btf ? kernelProbe() : {}) };
}

/** What missingRequirements() names for the kernel itself (the capabilities are named as such). */
export const NEEDS_BTF = 'BTF: CONFIG_DEBUG_INFO_BTF (this kernel has no /sys/kernel/btf/vmlinux)';
export const NEEDS_RINGBUF = 'the BPF ring buffer, Linux 5.8';

/** Names of what is missing to load and attach the sensor in any mode; empty when nothing is. */
export function missingRequirements(probe: Probe = systemProbe()): string[] {
  const missing: string[] = [];
  const has = (cap: bigint) => (probe.caps & (1n << cap)) !== 0n;
  if (!has(CAP_SYS_ADMIN)) {
    if (!has(CAP_BPF)) missing.push('CAP_BPF');
    if (!has(CAP_PERFMON)) missing.push('CAP_PERFMON');
  }
  if (!probe.btf) missing.push(NEEDS_BTF);
  if (probe.ringbuf === false) missing.push(NEEDS_RINGBUF);
  return missing;
}

/** The message for what missingRequirements() found: the capabilities in one sentence, what the
 * kernel lacks in another. */
export function requirementsMessage(missing: string[]): string {
  const caps = missing.filter((m) => m.startsWith('CAP_'));
  const kernel = missing.filter((m) => !m.startsWith('CAP_'));
  const parts: string[] = [];
  if (caps.length) parts.push(`wxwatch needs root, or the capabilities CAP_BPF and CAP_PERFMON, on a kernel with BTF; missing: ${caps.join(', ')}`);
  if (kernel.length) parts.push(`${caps.length ? 'and this kernel' : `wxwatch cannot run on this kernel (Linux ${release()})`}: ${kernel.map((k) => `needs ${k}`).join('; ')}`);
  return parts.join('; ');
}

/** The LSMs the kernel runs, in order (securityfs's list, from lsm= or the built-in default);
 * null when it cannot be read (securityfs not mounted). */
export function activeLsms(): string[] | null {
  try {
    return readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',').filter(Boolean);
  } catch {
    return null;
  }
}

/** Whether BPF LSM is active: "bpf" among the LSMs the kernel runs (lsm= on its command line). */
export function bpfLsmActive(): boolean {
  return activeLsms()?.includes('bpf') ?? false; // unreadable: cannot be sure it is active
}

export class RequirementsError extends Error {
  readonly code = 'EWXREQUIREMENTS';
  constructor(
    readonly missing: string[],
    message = requirementsMessage(missing),
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function assertRequirements(): void {
  const missing = missingRequirements();
  if (missing.length) throw new RequirementsError(missing);
}

const EPERM = 1;
const EACCES = 13;

/** A native start failure the kernel refused for want of privilege, as a RequirementsError
 * naming what is needed; null for any other failure. */
export function privilegeError(err: unknown): RequirementsError | null {
  const e = err as { errno?: number; phase?: string; message?: string };
  if (e?.errno !== EPERM && e?.errno !== EACCES) return null;
  const what = [`CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN (the kernel refused ${e.phase ?? 'the load'}: ${e.message?.split('\n')[0] ?? ''})`];
  return new RequirementsError(what, undefined, { cause: err });
}
