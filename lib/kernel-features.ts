// What the kernel side of this version needs from the running kernel, per mode, checked before
// anything is loaded so that a kernel below what a mode supports is told what it lacks ("lsm-hook
// needs bpf_get_func_arg_cnt (Linux 5.17)") instead of an EINVAL from libbpf. Every check is a
// lookup in the kernel's own BTF (its helper, map and attach enums, its functions, tracepoints
// and structs): exact for that kernel, and nothing is loaded.
//
// Keep NEEDS in step with bpf/: a need the BPF side stops having must leave the table, or this
// refuses a kernel the programs would run on.
import type { ModeFallback } from './native';

/** One thing a mode needs: its name for the user, and the BTF queries that must all hold
 * (native/addon.cc kernelBtf: func:, typedef:, struct:, member:STRUCT.FIELD, enum:ENUM.VALUE,
 * params:FUNC.N[,N…] for its parameter count). */
export interface KernelNeed {
  what: string;
  btf: string[];
}

const helper = (name: string, since: string): KernelNeed => ({ what: `bpf_${name} (Linux ${since})`, btf: [`enum:bpf_func_id.BPF_FUNC_${name}`] });

/** Needed by the main object's programs of both modes (bpf/record.bpf.h, bpf/syscall.bpf.h, the maps). */
const SHARED: KernelNeed[] = [
  { what: 'BPF task storage (Linux 5.11)', btf: ['enum:bpf_map_type.BPF_MAP_TYPE_TASK_STORAGE'] },
  helper('get_current_task_btf', '5.11'),
  helper('task_pt_regs', '5.15'),
  helper('loop', '5.17'),
];

export const NEEDS: Record<'lsm-hook' | 'tracepoint' | 'enforce', KernelNeed[]> = {
  /* Two objects (native/bpf_program.cc picks by mprotect_fixup's arity): with 6 or 7 arguments
   * (tlb since 6.0, vmi since 6.2) bpf/wxwatch.bpf.c, whose helpers and task storage (SHARED,
   * bpf_get_func_arg_cnt) every such kernel has; with 5 (5.5 to 5.19) bpf/lts/wxwatch-lts.bpf.c,
   * which needs nothing past the ring buffer (Linux 5.8, lib/privileges.ts). */
  'lsm-hook': [
    { what: 'BPF trampolines (fentry/fexit, Linux 5.5)', btf: ['enum:bpf_attach_type.BPF_TRACE_FENTRY'] },
    { what: 'mprotect_fixup() and mmap_region() in the kernel BTF (the functions it hooks)', btf: ['func:mprotect_fixup', 'func:mmap_region'] },
    { what: 'mprotect_fixup() with 5, 6 or 7 arguments (its prototypes since Linux 5.5)', btf: ['params:mprotect_fixup.5,6,7'] },
  ],
  tracepoint: [
    ...SHARED,
    {
      what: 'the mmap_lock tracepoints (Linux 5.11)',
      btf: ['typedef:btf_trace_mmap_lock_acquire_returned', 'typedef:btf_trace_mmap_lock_released'],
    },
    { what: 'the maple tree of VMAs (Linux 6.1)', btf: ['member:mm_struct.mm_mt', 'typedef:btf_trace_ma_write'] },
  ],
  /** Besides lsm-hook's, in both objects (and BPF LSM active: lib/sensor.ts asks securityfs). */
  enforce: [{ what: 'BPF LSM (CONFIG_BPF_LSM, Linux 5.7)', btf: ['func:bpf_lsm_file_mprotect', 'enum:bpf_attach_type.BPF_LSM_MAC'] }],
};

/** Every query the table makes, once. */
export const BTF_QUERIES: string[] = [...new Set(Object.values(NEEDS).flatMap((needs) => needs.flatMap((n) => n.btf)))];

/** What `mode` (a native mode: 'lsm-hook' or 'tracepoint') lacks on a kernel whose BTF answers
 * yes to `present`; [] when nothing is missing or the BTF could not be read (null: the load
 * decides, and says why). */
export function modeMissing(mode: string, present: ReadonlySet<string> | null, enforce = false): string[] {
  if (!present) return [];
  const needs = [...(NEEDS[mode as keyof typeof NEEDS] ?? []), ...(enforce && mode === 'lsm-hook' ? NEEDS.enforce : [])];
  return needs.filter((n) => !n.btf.every((q) => present.has(q))).map((n) => n.what);
}

/** The words for a mode passed over before loading: "needs a, b and c". */
export function needsText(missing: string[]): string {
  const list = missing.length > 1 ? `${missing.slice(0, -1).join(', ')} and ${missing[missing.length - 1]}` : missing[0];
  return `needs ${list}`;
}

/** The modes to load, in order, and those passed over because the kernel lacks what they need
 * (as fallbacks of phase 'probe', the reason naming what is missing). */
export function planModes(modes: string[], present: ReadonlySet<string> | null, enforce = false): { modes: string[]; skipped: ModeFallback[] } {
  const plan = { modes: [] as string[], skipped: [] as ModeFallback[] };
  for (const mode of modes) {
    const missing = modeMissing(mode, present, enforce);
    if (missing.length) plan.skipped.push({ mode, phase: 'probe', errno: 0, reason: needsText(missing) });
    else plan.modes.push(mode);
  }
  return plan;
}
