// What the kernel side needs from this process and this kernel, checked up front so that a
// user reads what is missing instead of an errno from deep inside libbpf.
import { existsSync, readFileSync } from 'node:fs';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

function effectiveCapabilities(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return line ? BigInt(`0x${line[1]}`) : 0n;
}

/** Names of what is missing to load and attach the sensor; empty when nothing is. */
export function missingRequirements(): string[] {
  const missing: string[] = [];
  const caps = effectiveCapabilities();
  const has = (cap: bigint) => (caps & (1n << cap)) !== 0n;
  if (!has(CAP_SYS_ADMIN)) {
    if (!has(CAP_BPF)) missing.push('CAP_BPF');
    if (!has(CAP_PERFMON)) missing.push('CAP_PERFMON');
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) missing.push('kernel BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)');
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
  ) {
    super(message);
  }
}

export function assertRequirements(): void {
  const missing = missingRequirements();
  if (missing.length) throw new RequirementsError(missing);
}
