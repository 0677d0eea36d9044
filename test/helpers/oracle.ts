// An oracle independent of wxwatch: bpftrace on the syscall tracepoints logs every mmap,
// mprotect, pkey_mprotect, munmap, mremap, memfd_create, openat, close and execve of one process
// tree, and a model of the address space replays the log and counts what an exact sensor reports:
//   TRC-104: an mprotect that leaves a VMA executable and not writable when it was writable;
//   WXW-001: something mapped or made executable while a shared writable mapping of the same
//            file overlaps its offsets, or a shared writable mapping made over an executable one;
//   WXW-003: X gained by memory that was writable since it was mapped, when TRC-104 does not
//            report it (the oracle cannot see writes: "was writable" stands for "was written").
// What the model cannot know is counted in `unknown` (ranges it never saw mapped, descriptors it
// never saw opened, mremap), never guessed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_SHARED = 0x01;
const MAP_SHARED_VALIDATE = 0x03;
const MAP_ANONYMOUS = 0x20;
const PAGE = 4096;

/** The bpftrace program: one line per completed call of the traced tree, "O PID CALL ...". */
export const ORACLE_BT = `
BEGIN { @track[cpid] = 1; printf("O %d begin\\n", cpid); }
tracepoint:sched:sched_process_fork /@track[args->parent_pid]/ { @track[args->child_pid] = 1; }
tracepoint:syscalls:sys_enter_mmap /@track[pid]/ { @a[tid] = args->addr; @l[tid] = args->len; @p[tid] = args->prot; @f[tid] = args->flags; @fd[tid] = args->fd; @o[tid] = args->off; }
tracepoint:syscalls:sys_exit_mmap /@track[pid]/ { printf("O %d mmap %lu %lu %lu %lu %d %lu %ld\\n", pid, @a[tid], @l[tid], @p[tid], @f[tid], (int32)@fd[tid], @o[tid], args->ret); }
tracepoint:syscalls:sys_enter_mprotect /@track[pid]/ { @a[tid] = args->start; @l[tid] = args->len; @p[tid] = args->prot; }
tracepoint:syscalls:sys_exit_mprotect /@track[pid]/ { printf("O %d mprotect %lu %lu %lu %ld\\n", pid, @a[tid], @l[tid], @p[tid], args->ret); }
tracepoint:syscalls:sys_enter_pkey_mprotect /@track[pid]/ { @a[tid] = args->start; @l[tid] = args->len; @p[tid] = args->prot; }
tracepoint:syscalls:sys_exit_pkey_mprotect /@track[pid]/ { printf("O %d mprotect %lu %lu %lu %ld\\n", pid, @a[tid], @l[tid], @p[tid], args->ret); }
tracepoint:syscalls:sys_enter_munmap /@track[pid]/ { @a[tid] = args->addr; @l[tid] = args->len; }
tracepoint:syscalls:sys_exit_munmap /@track[pid]/ { printf("O %d munmap %lu %lu %ld\\n", pid, @a[tid], @l[tid], args->ret); }
tracepoint:syscalls:sys_enter_mremap /@track[pid]/ { @a[tid] = args->addr; @l[tid] = args->old_len; @o[tid] = args->new_len; }
tracepoint:syscalls:sys_exit_mremap /@track[pid]/ { printf("O %d mremap %lu %lu %lu %ld\\n", pid, @a[tid], @l[tid], @o[tid], args->ret); }
tracepoint:syscalls:sys_exit_memfd_create /@track[pid]/ { printf("O %d memfd %ld\\n", pid, args->ret); }
tracepoint:syscalls:sys_enter_openat /@track[pid]/ { @path[tid] = str(args->filename); }
tracepoint:syscalls:sys_exit_openat /@track[pid]/ { printf("O %d open %ld %s\\n", pid, args->ret, @path[tid]); delete(@path[tid]); }
tracepoint:syscalls:sys_enter_close /@track[pid]/ { @fd[tid] = args->fd; }
tracepoint:syscalls:sys_exit_close /@track[pid]/ { printf("O %d close %d %ld\\n", pid, (int32)@fd[tid], args->ret); }
tracepoint:syscalls:sys_exit_execve /@track[pid]/ { printf("O %d execve %ld\\n", pid, args->ret); }
tracepoint:sched:sched_process_exit /@track[pid] && pid == tid/ { printf("O %d exit\\n", pid); }
END { clear(@a); clear(@l); clear(@p); clear(@f); clear(@fd); clear(@o); clear(@path); clear(@track); }
`;

export interface OracleCounts {
  'TRC-104': number;
  'WXW-001': number;
  'WXW-003': number;
  /** Calls (successful) of each kind, for the report. */
  mprotectX: number;
  execMmaps: number;
  /** Ranges or descriptors the model had not seen: what it could not judge. */
  unknown: number;
}

interface Seg {
  start: number;
  end: number;
  prot: number;
  /** What backs it: a file's identity, or null for private anonymous memory. */
  obj: string | null;
  /** Offset in obj of start (bytes). */
  off: number;
  shared: boolean;
  /** Writable at some point since it was mapped (stands for "written"). */
  everW: boolean;
}

const pageUp = (n: number) => Math.ceil(n / PAGE) * PAGE;

/** One process's address space, as the calls it made shaped it. */
export class AddressSpace {
  segs: Seg[] = [];

  /** Removes [start, end) from every segment, splitting at the edges. */
  carve(start: number, end: number): void {
    const out: Seg[] = [];
    for (const s of this.segs) {
      if (s.end <= start || s.start >= end) {
        out.push(s);
        continue;
      }
      if (s.start < start) out.push({ ...s, end: start });
      if (s.end > end) out.push({ ...s, start: end, off: s.off + (end - s.start) });
    }
    this.segs = out.sort((a, b) => a.start - b.start);
  }

  insert(seg: Seg): void {
    this.carve(seg.start, seg.end);
    this.segs.push(seg);
    this.segs.sort((a, b) => a.start - b.start);
    this.merge();
  }

  /** Adjacent segments that the kernel would keep as one VMA, joined. */
  merge(): void {
    const out: Seg[] = [];
    for (const s of this.segs) {
      const last = out[out.length - 1];
      if (
        last &&
        last.end === s.start &&
        last.prot === s.prot &&
        last.obj === s.obj &&
        last.shared === s.shared &&
        last.everW === s.everW &&
        (last.obj === null || last.off + (last.end - last.start) === s.off)
      ) {
        last.end = s.end;
      } else {
        out.push({ ...s });
      }
    }
    this.segs = out;
  }

  /** The segments overlapping [start, end), clipped; and how many bytes of it nothing covers. */
  within(start: number, end: number): { pieces: Seg[]; uncovered: number } {
    const pieces: Seg[] = [];
    let covered = 0;
    for (const s of this.segs) {
      if (s.end <= start || s.start >= end) continue;
      const lo = Math.max(s.start, start);
      const hi = Math.min(s.end, end);
      pieces.push({ ...s, start: lo, end: hi, off: s.off + (lo - s.start) });
      covered += hi - lo;
    }
    return { pieces, uncovered: end - start - covered };
  }
}

const overlaps = (a: Seg, bObj: string, bOff: number, bLen: number) =>
  a.obj === bObj && a.off < bOff + bLen && bOff < a.off + (a.end - a.start);

/** Replays an oracle log (the "O ..." lines of ORACLE_BT) for one pid. */
export function replay(lines: string[], pid: number): OracleCounts {
  const counts: OracleCounts = { 'TRC-104': 0, 'WXW-001': 0, 'WXW-003': 0, mprotectX: 0, execMmaps: 0, unknown: 0 };
  let space = new AddressSpace();
  const fds = new Map<number, string>();
  let serial = 0;
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'O' || Number(f[1]) !== pid) continue;
    const call = f[2];
    const n = (i: number) => Number(f[i]);
    if (call === 'execve' && n(3) === 0) {
      space = new AddressSpace(); // descriptors survive exec (unless close-on-exec: not seen)
    } else if (call === 'memfd' && n(3) >= 0) {
      fds.set(n(3), `memfd#${++serial}`);
    } else if (call === 'open' && n(3) >= 0) {
      fds.set(n(3), `file:${f.slice(4).join(' ')}`);
    } else if (call === 'close' && n(4) === 0) {
      fds.delete(n(3));
    } else if (call === 'munmap' && n(5) === 0) {
      space.carve(n(3), n(3) + pageUp(n(4)));
    } else if (call === 'mremap') {
      const ret = n(6);
      space.carve(n(3), n(3) + pageUp(n(4)));
      if (ret >= 0) space.carve(ret, ret + pageUp(n(5)));
      counts.unknown++;
    } else if (call === 'mmap') {
      const [len, prot, flags, fd, off, ret] = [n(4), n(5), n(6), n(7), n(8), n(9)];
      if (ret < 0 && ret > -4096) continue;
      const shared = (flags & MAP_SHARED_VALIDATE) === MAP_SHARED || (flags & MAP_SHARED_VALIDATE) === MAP_SHARED_VALIDATE;
      let obj: string | null = null;
      if (flags & MAP_ANONYMOUS) {
        obj = shared ? `shared-anon#${++serial}` : null;
      } else {
        obj = fds.get(fd) ?? null;
        if (obj === null) {
          obj = `fd${fd}?#${++serial}`;
          counts.unknown++;
        }
      }
      const fileOff = flags & MAP_ANONYMOUS ? 0 : off;
      const seg: Seg = { start: ret, end: ret + pageUp(len), prot, obj, off: fileOff, shared, everW: (prot & PROT_WRITE) !== 0 };
      space.carve(seg.start, seg.end);
      if (obj !== null) {
        const others = space.segs;
        if (prot & PROT_EXEC) {
          counts.execMmaps++;
          if (others.some((s) => s.shared && s.prot & PROT_WRITE && overlaps(s, obj!, fileOff, seg.end - seg.start))) counts['WXW-001']++;
        }
        if (shared && prot & PROT_WRITE && !(prot & PROT_EXEC)) {
          if (others.some((s) => s.prot & PROT_EXEC && overlaps(s, obj!, fileOff, seg.end - seg.start))) counts['WXW-001']++;
        }
      }
      space.insert(seg);
    } else if (call === 'mprotect' && n(6) === 0) {
      const [start, len, prot] = [n(3), pageUp(n(4)), n(5) & 7];
      const { pieces, uncovered } = space.within(start, start + len);
      if (uncovered) counts.unknown++;
      if (prot & PROT_EXEC) counts.mprotectX++;
      for (const p of pieces) {
        const newW = (prot & PROT_WRITE) !== 0;
        const newX = (prot & PROT_EXEC) !== 0;
        const trc104 = (p.prot & PROT_WRITE) !== 0 && newX && !newW;
        if (trc104) counts['TRC-104']++;
        else if (newX && !(p.prot & PROT_EXEC) && p.everW) counts['WXW-003']++;
        if (p.obj !== null && newX && !(p.prot & PROT_EXEC)) {
          const rest = space.segs.filter((s) => s.end <= p.start || s.start >= p.end);
          if (rest.some((s) => s.shared && s.prot & PROT_WRITE && overlaps(s, p.obj!, p.off, p.end - p.start))) counts['WXW-001']++;
        }
        if (p.obj !== null && p.shared && newW && !(p.prot & PROT_WRITE)) {
          const rest = space.segs.filter((s) => s.end <= p.start || s.start >= p.end);
          if (rest.some((s) => s.prot & PROT_EXEC && overlaps(s, p.obj!, p.off, p.end - p.start))) counts['WXW-001']++;
        }
        space.insert({ ...p, prot, everW: p.everW || newW });
      }
    }
  }
  return counts;
}

export interface OracleRun {
  /** The pid bpftrace started (cpid): the program, through its exec chain. */
  pid: number;
  counts: OracleCounts;
  lines: string[];
  /** What the program printed on its stdout. */
  output: string;
}

const BPFTRACE = ['/usr/bin/bpftrace', '/usr/sbin/bpftrace'].find((p) => existsSync(p)) ?? 'bpftrace';

/** bpftrace reads its tracepoints' formats from tracefs, which a fresh machine has not mounted
 * (the sensor itself needs none: raw tracepoints and trampolines). */
function ensureTracefs(): void {
  if (existsSync('/sys/kernel/tracing/events')) return;
  execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);
}

/** Runs argv under the oracle; resolves once it and bpftrace have exited. */
export function underOracle(argv: string[], timeoutMs = 90_000): Promise<OracleRun> {
  ensureTracefs();
  // bpftrace -c splits its argument on spaces: the command goes through a script.
  const dir = mkdtempSync(path.join(tmpdir(), 'wxwatch-oracle-'));
  const script = path.join(dir, 'run.sh');
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  // The program's own output goes to a file: on bpftrace's pipe a line it writes in pieces
  // could be split by an oracle line, corrupting both.
  const output = path.join(dir, 'output');
  writeFileSync(script, `exec ${argv.map(quote).join(' ')} >${quote(output)}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(BPFTRACE, ['-e', ORACLE_BT, '-c', `/bin/sh ${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const printed = existsSync(output) ? readFileSync(output, 'utf8') : '';
      rmSync(dir, { recursive: true, force: true });
      const lines = out.split('\n').filter((l) => l.startsWith('O '));
      const begin = lines.find((l) => / begin$/.test(l));
      if (code !== 0 || !begin) return reject(new Error(`bpftrace exited ${code}: ${err.slice(-2000)}`));
      if (/lost/i.test(err)) return reject(new Error(`bpftrace lost events: ${err.slice(-500)}`));
      const pid = Number(begin.split(/\s+/)[1]);
      resolve({ pid, counts: replay(lines, pid), lines, output: printed });
    });
  });
}

export function haveBpftrace(): boolean {
  return ['/usr/bin/bpftrace', '/usr/sbin/bpftrace'].some((p) => existsSync(p));
}
