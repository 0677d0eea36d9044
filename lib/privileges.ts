// What the kernel side needs from this process and this kernel, checked up front so that a
// user reads what is missing instead of an errno from deep inside libbpf.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const CAP_DAC_OVERRIDE = 1n;
const CAP_DAC_READ_SEARCH = 2n;
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** What the checks look at; a parameter so that each case can be tested without that host. */
export interface Probe {
  /** CapEff of this process. */
  caps: bigint;
  btf: boolean;
  /** ok: mounted and readable; denied: mounted but not readable (mode 0700 for non-root);
   * unmounted: nowhere. */
  tracefs: 'ok' | 'denied' | 'unmounted';
}

function effectiveCapabilities(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return line ? BigInt(`0x${line[1]}`) : 0n;
}

// The tracepoint ids libbpf reads to attach; under a 0700 tracefs a non-root user cannot.
const PROBE_FILE = 'events/syscalls/sys_enter_mprotect/id';

function tracefsState(): Probe['tracefs'] {
  for (const dir of TRACEFS_DIRS) {
    try {
      accessSync(dir, constants.R_OK | constants.X_OK);
      if (!existsSync(path.join(dir, 'events'))) continue;
      accessSync(path.join(dir, PROBE_FILE), constants.R_OK);
      return 'ok';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') return 'denied';
      if (existsSync(path.join(dir, 'events'))) return 'ok'; // no such tracepoint: load says why
    }
  }
  return 'unmounted';
}

export function systemProbe(): Probe {
  return { caps: effectiveCapabilities(), btf: existsSync('/sys/kernel/btf/vmlinux'), tracefs: tracefsState() };
}

/** Names of what is missing to load and attach the sensor; empty when nothing is. */
export function missingRequirements(probe: Probe = systemProbe()): string[] {
  const missing: string[] = [];
  const has = (cap: bigint) => (probe.caps & (1n << cap)) !== 0n;
  if (!has(CAP_SYS_ADMIN)) {
    if (!has(CAP_BPF)) missing.push('CAP_BPF');
    if (!has(CAP_PERFMON)) missing.push('CAP_PERFMON');
  }
  if (probe.tracefs === 'denied' && !has(CAP_DAC_READ_SEARCH) && !has(CAP_DAC_OVERRIDE)) {
    missing.push('CAP_DAC_READ_SEARCH (tracefs is mounted but not readable by this user)');
  }
  if (probe.tracefs === 'unmounted' && !has(CAP_SYS_ADMIN)) {
    missing.push('CAP_SYS_ADMIN (to mount tracefs; or mount it first: mount -t tracefs nodev /sys/kernel/tracing)');
  }
  if (!probe.btf) missing.push('kernel BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)');
  return missing;
}

export class RequirementsError extends Error {
  readonly code = 'EWXREQUIREMENTS';
  constructor(
    readonly missing: string[],
    options?: { cause?: unknown },
  ) {
    super(`wxwatch needs root, or the capabilities CAP_BPF and CAP_PERFMON, on a kernel with BTF; missing: ${missing.join(', ')}`, options);
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
  const what =
    e.phase === 'tracefs'
      ? ['CAP_SYS_ADMIN (to mount tracefs)']
      : [`CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN (the kernel refused ${e.phase ?? 'the load'}: ${e.message?.split('\n')[0] ?? ''})`];
  return new RequirementsError(what, { cause: err });
}
