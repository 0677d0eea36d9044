// What the kernel side needs from this process and this kernel, checked up front so that a
// user reads what is missing instead of an errno from deep inside libbpf.
import { existsSync, readFileSync } from 'node:fs';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** What the checks look at; a parameter so that each case can be tested without that host. */
export interface Probe {
  /** CapEff of this process. */
  caps: bigint;
  btf: boolean;
}

function effectiveCapabilities(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return line ? BigInt(`0x${line[1]}`) : 0n;
}

export function systemProbe(): Probe {
  return { caps: effectiveCapabilities(), btf: existsSync('/sys/kernel/btf/vmlinux') };
}

/** Names of what is missing to load and attach the sensor; empty when nothing is. */
export function missingRequirements(probe: Probe = systemProbe()): string[] {
  const missing: string[] = [];
  const has = (cap: bigint) => (probe.caps & (1n << cap)) !== 0n;
  if (!has(CAP_SYS_ADMIN)) {
    if (!has(CAP_BPF)) missing.push('CAP_BPF');
    if (!has(CAP_PERFMON)) missing.push('CAP_PERFMON');
  }
  if (!probe.btf) missing.push('kernel BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)');
  return missing;
}

/** Whether BPF LSM is active: "bpf" among the LSMs the kernel runs (lsm= on its command line). */
export function bpfLsmActive(): boolean {
  try {
    return readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',').includes('bpf');
  } catch {
    return false; // securityfs not mounted, or no LSM list: cannot be sure it is active
  }
}

export class RequirementsError extends Error {
  readonly code = 'EWXREQUIREMENTS';
  constructor(
    readonly missing: string[],
    message = `wxwatch needs root, or the capabilities CAP_BPF and CAP_PERFMON, on a kernel with BTF; missing: ${missing.join(', ')}`,
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
