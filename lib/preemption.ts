// Whether the running kernel can preempt a BPF trampoline program mid-run. On one that can, the
// kernel skips a program that starts on a CPU where a preempted run of it is in progress, and
// lsm-hook mode attaches spare copies of its mprotect_fixup programs to take over
// (bpf/trampolines.bpf.h); on one that cannot, the copies would only cost every mprotect.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

export type PreemptionModel = 'none' | 'voluntary' | 'full' | 'lazy' | 'rt' | 'unknown';

export interface Preemption {
  model: PreemptionModel;
  /** Where the model was read from (or why it is unknown). */
  source: string;
}

/** What the decision reads; a parameter so that each kernel's strings can be tested anywhere. */
export interface PreemptionInputs {
  /** /sys/kernel/debug/sched/preempt, e.g. "none (voluntary) full lazy"; null when unreadable. */
  debugfs: string | null;
  /** /proc/sys/kernel/version, e.g. "#1 SMP PREEMPT_DYNAMIC Debian 6.12.57-1 (2025-11-05)". */
  version: string;
  /** /proc/cmdline. */
  cmdline: string;
  /** The kernel's build configuration (/boot/config-RELEASE); null when absent. */
  config: string | null;
}

const MODELS = new Set<PreemptionModel>(['none', 'voluntary', 'full', 'lazy']);

/** The build's choice of model (the default of a PREEMPT_DYNAMIC kernel): one of Kconfig's
 * choice, PREEMPT_RT besides it since 6.13. */
function configModel(config: string): PreemptionModel {
  const set = (name: string) => new RegExp(`^CONFIG_${name}=y$`, 'm').test(config);
  if (set('PREEMPT_RT')) return 'rt';
  if (set('PREEMPT_NONE')) return 'none';
  if (set('PREEMPT_VOLUNTARY')) return 'voluntary';
  if (set('PREEMPT_LAZY')) return 'lazy';
  if (set('PREEMPT')) return 'full';
  return 'unknown';
}

/** The model in force, from the most direct source there is. Unknown means preemptible to the
 * caller: a spare copy costs time, a missing one costs findings. */
export function preemptionOf(inputs: PreemptionInputs): Preemption {
  // The scheduler's own answer, the current mode in parentheses (it can be changed at run time).
  const current = inputs.debugfs ? /\((\w+)\)/.exec(inputs.debugfs)?.[1] : undefined;
  if (current && MODELS.has(current as PreemptionModel)) return { model: current as PreemptionModel, source: 'sched/preempt' };
  const tokens = inputs.version.split(/\s+/);
  if (tokens.includes('PREEMPT_RT')) return { model: 'rt', source: 'kernel version' };
  // (scripts/mkcompile_h names PREEMPT_DYNAMIC alone, RT or not, and a static lazy build PREEMPT)
  if (tokens.includes('PREEMPT_DYNAMIC')) {
    const built = inputs.config ? configModel(inputs.config) : 'unknown';
    if (built === 'rt') return { model: 'rt', source: 'the build configuration' };
    const asked = /(?:^|\s)preempt=(\w+)/.exec(inputs.cmdline)?.[1];
    if (asked && MODELS.has(asked as PreemptionModel)) return { model: asked as PreemptionModel, source: 'preempt= on the command line' };
    if (built !== 'unknown') return { model: built, source: "the build's default" };
    return { model: 'unknown', source: 'PREEMPT_DYNAMIC, neither sched/preempt nor the build configuration readable' };
  }
  if (tokens.includes('PREEMPT')) return { model: 'full', source: 'kernel version' };
  // A static build that names no preemption in its version cannot preempt kernel code.
  return { model: 'voluntary', source: 'kernel version (no PREEMPT)' };
}

/** Whether a BPF program can be preempted mid-run under this model. */
export function canPreempt(p: Preemption): boolean {
  return p.model !== 'none' && p.model !== 'voluntary';
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The running kernel's model. */
export function kernelPreemption(): Preemption {
  return preemptionOf({
    debugfs: readOrNull('/sys/kernel/debug/sched/preempt'),
    version: readOrNull('/proc/sys/kernel/version') ?? '',
    cmdline: readOrNull('/proc/cmdline') ?? '',
    config: readOrNull(`/boot/config-${release()}`),
  });
}
