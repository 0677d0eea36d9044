// The corpus fixtures' report (test/fixtures/corpus.h) and the checks every corpus test makes:
// for each process the fixture names, exactly the expected number of findings of each signature.
import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runWithPid } from './fixtures';
import type { Finding } from '../../lib/signatures/signature';

export const SIGNATURE_IDS = ['TRC-104', 'WXW-001', 'WXW-002', 'WXW-003', 'WXW-004'] as const;
export type SignatureId = (typeof SIGNATURE_IDS)[number];
export type Counts = Record<SignatureId, number>;

export interface ProcessExpectation {
  pid: number;
  expected: Counts;
  refused: number;
}

export interface CorpusReport extends ProcessExpectation {
  mode: string;
  /** Decimal: addresses exceed 2^53. */
  addr: string;
  /** Set when this kernel cannot do a step of the mode: the test skips, saying why. */
  unsupported?: string;
  /** More processes with findings expected (a storm's children, a flood's victim). */
  others?: ProcessExpectation[];
  targetPid?: number;
  len?: number;
  [detail: string]: unknown;
}

function checkShape(r: CorpusReport, where: string): void {
  assert.equal(typeof r.pid, 'number', `${where}: pid`);
  assert.equal(typeof r.refused, 'number', `${where}: refused`);
  for (const id of SIGNATURE_IDS) assert.equal(typeof r.expected?.[id], 'number', `${where}: expected.${id}`);
  for (const o of r.others ?? []) checkShape(o as CorpusReport, `${where}: others[${o.pid}]`);
}

/** Runs a corpus program to completion; its one report line, checked for shape. */
export async function corpus(program: string, args: string[]): Promise<CorpusReport> {
  const run = await runWithPid<CorpusReport>(program, args);
  assert.equal(run.reports.length, 1, `${program} ${args.join(' ')} printed ${run.reports.length} lines`);
  checkShape(run.report, `${program} ${args.join(' ')}`);
  return run.report;
}

/** Skips the test (saying why on the console) when the kernel could not do the mode. */
export function skipUnsupported(ctx: Mocha.Context, r: CorpusReport): void {
  if (r.unsupported === undefined) return;
  console.log(`      (skipped: ${r.mode}: ${r.unsupported})`);
  ctx.skip();
}

/** Every process the report names, with what it expects. */
export function expectations(r: CorpusReport): ProcessExpectation[] {
  return [{ pid: r.pid, expected: r.expected, refused: r.refused }, ...(r.others ?? [])];
}

export function findingsOf(findings: Finding[], pid: number, signature?: SignatureId): Finding[] {
  return findings.filter((f) => f.Event.hostProcessId === pid && (signature === undefined || f.SigMetadata.ID === signature));
}

/**
 * How many changes a finding stands for: 1, or, where the sensor summarises a burst of one kind
 * from one process (issue 14's per-process budget), the count its summary says
 * (wxwatch.summary.count: the contract proposed to the kernel side).
 */
export function weight(f: Finding): number {
  const summary = (f.Event.wxwatch as unknown as { summary?: { count: number } }).summary;
  return summary ? summary.count : 1;
}

export function countsOf(findings: Finding[], pid: number): Counts {
  const c = Object.fromEntries(SIGNATURE_IDS.map((id) => [id, 0])) as Counts;
  for (const f of findingsOf(findings, pid)) {
    const id = f.SigMetadata.ID as SignatureId;
    if (id in c) c[id] += weight(f);
  }
  return c;
}

/** Exactly the expected findings of each signature for every process the report names. */
export function assertCounts(findings: Finding[], r: CorpusReport): void {
  for (const e of expectations(r)) {
    assert.deepEqual(countsOf(findings, e.pid), e.expected, `${r.mode}: findings of pid ${e.pid} by signature`);
  }
}

/** Under enforcement: the refused steps are blocked findings, naming their rule; nothing else is blocked. */
export function assertBlocked(findings: Finding[], r: CorpusReport): void {
  for (const e of expectations(r)) {
    const blocked = findingsOf(findings, e.pid).filter((f) => f.Event.wxwatch.blocked);
    assert.equal(blocked.length, e.refused, `${r.mode}: blocked findings of pid ${e.pid}`);
    for (const f of blocked) {
      const rule = (f.Event.wxwatch as unknown as { rule?: unknown }).rule;
      assert.equal(typeof rule, 'string', `${r.mode}: a blocked finding names its rule`);
      assert.ok((rule as string).length > 0);
    }
  }
}

const OVERLAYFS = 0x794c7630;

/**
 * A directory for the file modes on a filesystem whose kind the fixture can tell: the system's
 * temporary directory, unless it is overlayfs (the guests' root), then /dev/shm (tmpfs: the file
 * is in memory and the fixture expects WXW-004 as well).
 */
export function fileDir(): string {
  const dir = tmpdir();
  return statfsSync(dir).type === OVERLAYFS ? '/dev/shm' : dir;
}
