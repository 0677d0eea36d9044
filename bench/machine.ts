// The conditions a run happened under, saved with its figures: versions, load, and whether
// another wxwatch sensor was attached. A foreign sensor's hooks run on every mprotect call of
// every process, so "without sensor" figures taken next to one are not without a sensor.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

export interface ForeignSensors {
  /** when this was looked at (the phase about to start) */
  phase: string;
  /** wxwatch mprotect hooks loaded in the kernel while this run had no sensor of its own */
  programs: number;
  owners: Array<{ pid: number; comm: string }>;
}

/** One phase's conditions: a foreign sensor found at either end, or a load average far above
 * what the phase itself makes, says its figures were taken on a busy machine. */
export interface PhaseInfo {
  name: string;
  seconds: number;
  loadAvg1: { start: number; end: number };
}

export interface MachineInfo {
  node: string;
  kernel: string;
  cpus: number;
  cpuModel: string;
  date: string;
  quick: boolean;
  loadAvgAtStart: number[];
  phases: PhaseInfo[];
  foreignSensors: ForeignSensors[];
}

const HOOK = 'tp__sys_enter_mprotect';

function hookProgramIds(): number[] | null {
  try {
    const out = execFileSync('bpftool', ['-j', 'prog', 'show'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const progs = JSON.parse(out) as Array<{ id: number; name?: string }>;
    return progs.filter((p) => p.name === HOOK).map((p) => p.id);
  } catch {
    return null; // no bpftool: unknown, not an error
  }
}

/** Processes holding one of the programs (a program fd's fdinfo names its prog_id). */
function owners(ids: Set<number>): Array<{ pid: number; comm: string }> {
  const found: Array<{ pid: number; comm: string }> = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue; // gone, or a kernel thread
    }
    const holds = fds.some((fd) => {
      try {
        const m = /^prog_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
        return m !== null && ids.has(Number(m[1]));
      } catch {
        return false;
      }
    });
    if (holds) {
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        /* exited meanwhile */
      }
      found.push({ pid: Number(pid), comm });
    }
  }
  return found;
}

/** Call only while this process runs no sensor: every hook found then is someone else's. */
export function foreignSensors(phase: string): ForeignSensors | null {
  const ids = hookProgramIds();
  if (ids === null || ids.length === 0) return null;
  return { phase, programs: ids.length, owners: owners(new Set(ids)) };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export const loadAvg1 = (): number => round2(os.loadavg()[0]);

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    kernel: os.release(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    date: new Date().toISOString(),
    quick: process.env.BENCH_QUICK === '1',
    loadAvgAtStart: os.loadavg().map(round2),
    phases: [],
    foreignSensors: [],
  };
}
