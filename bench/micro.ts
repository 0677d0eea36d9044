// Micro benchmarks of the JavaScript half of the pipeline, on a synthetic batch of real
// wx_record bytes: decoding, building findings, serialising them as Tracee's JSON.
import { createHash } from 'node:crypto';
import { Bench } from 'tinybench';
import { decodeBatch } from '../lib/mem-prot-alert';
import { ByteSink } from '../lib/byte-writer';
import { detectionJson, detectionJsonInto } from '../lib/output/json';
import { ALIGN, CODE_PAGE, FIXED_SIZE, OFF } from '../lib/record-layout';
import { Sensor } from '../lib/sensor';
import { DIGEST_BYTES } from '../lib/batch-view';
import type { Finding } from '../lib/signatures/signature';
import { TRC104 } from '../lib/signatures/trc104';
import { BASELINE, baselineLibrary, config, round } from './helpers';

const RECORDS = 1024;
const UTS = 'bench-host';
const EXE = '/usr/lib/jvm/bin/java'; // an executable path of ordinary length

export interface MicroTask {
  name: string;
  nsPerBatch: number;
  nsPerRecord: number;
  recordsPerSec: number;
  samples: number;
}

export interface MicroResult {
  recordsPerBatch: number;
  tasks: MicroTask[];
  /** detectionJson per finding against JSON.stringify of the same detection as a plain object. */
  json: {
    usPerFinding: number;
    stringifyUsPerFinding: number;
    ratio: number;
    bytesPerLine: number;
    /** The CLI's path: the same JSON as bytes into its batch buffer. */
    bytesUsPerFinding: number;
    bytesRatio: number;
  };
  /** Findings per second a 'finding' listener gets from Sensor's own batch callback. */
  findingListenerPerSec: number;
  /** BENCH_BASELINE: the same tasks with the other checkout's library, in the same run. */
  before?: { root: string; jsonUsPerFinding: number; findingListenerPerSec: number };
}

/** A batch as the addon hands it over: records back to back, each padded to ALIGN, then their
 * digests. Values are
 * what a JIT's RW→RX mprotect produces, so every lazy getter has real data to read. */
export function syntheticBatch(records: number): ArrayBuffer {
  const enc = new TextEncoder();
  const uts = enc.encode(UTS);
  const exe = enc.encode(EXE);
  // A page of code, as a W→X record carries: a few instructions, then zeros.
  const code = new Uint8Array(CODE_PAGE);
  code.set([0x55, 0x48, 0x89, 0xe5, 0xb8, 0x2a, 0x00, 0x00, 0x00, 0x5d, 0xc3]);
  const size = FIXED_SIZE + uts.length + exe.length + code.length;
  const stride = (size + ALIGN - 1) & ~(ALIGN - 1);
  // then a SHA-256 per record, as the addon's drain thread writes them
  const buffer = new ArrayBuffer((stride + DIGEST_BYTES) * records);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < records; i++) {
    const o = i * stride;
    const u32 = (field: number, v: number) => view.setUint32(o + field, v, true);
    const u64 = (field: number, v: bigint) => view.setBigUint64(o + field, v, true);
    u32(OFF.size, size);
    u32(OFF.alert, 4); // WX_ALERT_MPROT_W_REM: a TRC-104 finding
    u64(OFF.ts_boot_ns, 5_000_000_000n + BigInt(i) * 1000n);
    u64(OFF.thread_start_boot_ns, 1_000_000_000n);
    u64(OFF.addr, 0x7f12_3456_0000n + BigInt(i) * 4096n);
    u64(OFF.len, 4096n);
    u64(OFF.vma_start, 0x7f12_3456_0000n + BigInt(i) * 4096n);
    u64(OFF.vma_end, 0x7f12_3456_1000n + BigInt(i) * 4096n);
    u64(OFF.prev_vm_flags, 0x73n); // VM_READ|VM_WRITE|VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC
    u64(OFF.cgroup_id, 4242n);
    view.setInt32(o + OFF.prot, 5, true); // PROT_READ|PROT_EXEC
    for (const f of [OFF.host_pid, OFF.host_tid, OFF.ns_pid, OFF.ns_tid]) u32(f, 31337);
    u32(OFF.host_ppid, 1);
    u32(OFF.ns_ppid, 1);
    u32(OFF.mnt_ns, 4026531841);
    u32(OFF.pid_ns, 4026531836);
    u32(OFF.cpu, i & 1);
    view.setUint16(o + OFF.uts_len, uts.length, true);
    view.setUint16(o + OFF.exe_len, exe.length, true);
    bytes.set(enc.encode('java'), o + OFF.comm);
    u64(OFF.leader_start_boot_ns, 1_000_000_000n);
    u64(OFF.parent_start_boot_ns, 10_000_000n);
    bytes.set(uts, o + FIXED_SIZE);
    bytes.set(exe, o + FIXED_SIZE + uts.length);
    u32(OFF.code_len, code.length);
    u64(OFF.code_addr, 0x7f12_3456_0000n + BigInt(i) * 4096n);
    u32(OFF.code_window, code.length);
    bytes.set(code, o + FIXED_SIZE + uts.length + exe.length);
    bytes.set(Buffer.from(createHash('sha256').update(code).digest('hex')), stride * records + DIGEST_BYTES * i);
  }
  return buffer;
}

/** What Sensor.dispatch does per batch for 'finding' listeners. */
function buildFindings(buffer: ArrayBuffer, records: number, offset: bigint): Finding[] {
  const out: Finding[] = [];
  for (const event of decodeBatch(buffer, records, offset)) {
    if (TRC104.matches(event)) out.push({ SigMetadata: TRC104.metadata, Event: event, Data: null });
  }
  return out;
}

export async function runMicro(): Promise<MicroResult> {
  const buffer = syntheticBatch(RECORDS);
  const offset = 1_700_000_000_000_000_000n; // any boot→epoch offset: only additions use it
  const findings = buildFindings(buffer, RECORDS, offset);
  if (findings.length !== RECORDS) throw new Error(`bench: synthetic batch gave ${findings.length} findings, not ${RECORDS}`);

  // A sink the engine cannot prove unused, so no task is optimised away.
  let sink = 0;
  let sinkBytes = 0;
  // Few minimum iterations: serialising a batch takes tens of ms, and tinybench's default of 64
  // would let that one task outrun the time budget many times over.
  const bench = new Bench({
    time: config.microTimeMs,
    iterations: 10,
    warmupTime: Math.min(250, config.microTimeMs),
    warmupIterations: 4,
  });
  bench.add(`decodeBatch (${RECORDS} records)`, () => {
    sink += decodeBatch(buffer, RECORDS, offset).length;
  });
  bench.add(`decode + TRC-104 findings (${RECORDS})`, () => {
    sink += buildFindings(buffer, RECORDS, offset).length;
  });
  bench.add(`findings + read every field (${RECORDS})`, () => {
    // what a consumer that looks at everything pays: toObject materialises each field
    for (const f of buildFindings(buffer, RECORDS, offset)) sink += f.Event.toObject().args.length;
  });
  bench.add(`detectionJson (${RECORDS} findings)`, () => {
    for (const f of findings) sink += detectionJson(f).length;
  });
  // What the CLI runs: the same JSON written as bytes into its batch buffer.
  const out = new ByteSink(8 << 20);
  bench.add(`detectionJsonInto, bytes (${RECORDS} findings)`, () => {
    out.at = 0;
    for (const f of findings) detectionJsonInto(f, out);
    sinkBytes += out.at;
  });
  // The same detections as plain objects (64-bit values as numbers or strings), made once.
  const plain = findings.map((f) => JSON.parse(JSON.stringify(f)) as unknown);
  bench.add(`JSON.stringify, same objects (${RECORDS})`, () => {
    for (const p of plain) sink += JSON.stringify(p).length;
  });
  // What the addon's callback runs for each batch, with one 'finding' listener.
  const sensor = new Sensor();
  sensor.on('finding', () => void sink++);
  const onBatch = (sensor as unknown as { onBatch(b: ArrayBuffer, n: number): void }).onBatch.bind(sensor);
  bench.add(`Sensor batch → 'finding' listener (${RECORDS})`, () => onBatch(buffer, RECORDS));
  // BENCH_BASELINE: the other checkout's decoder, JSON and batch callback on the same batch.
  const base = baselineLibrary();
  if (base) {
    const baseFindings = base.decodeBatch(buffer, RECORDS, offset).map((e) => ({ SigMetadata: base.TRC104.metadata, Event: e, Data: null as null }));
    bench.add(`baseline detectionJson (${RECORDS} findings)`, () => {
      for (const f of baseFindings) sink += base.detectionJson(f).length;
    });
    const baseSensor = new base.Sensor();
    baseSensor.on('finding', () => void sink++);
    const baseOnBatch = (baseSensor as unknown as { onBatch(b: ArrayBuffer, n: number): void }).onBatch.bind(baseSensor);
    bench.add(`baseline Sensor batch → 'finding' listener (${RECORDS})`, () => baseOnBatch(buffer, RECORDS));
  }
  await bench.run();
  console.table(bench.table());
  if (sink === 0 || sinkBytes === 0) throw new Error('bench: micro tasks did no work');

  const tasks: MicroTask[] = bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') {
      throw new Error(`bench: micro task "${task.name}" ${r.state === 'errored' ? `failed: ${r.error.message}` : r.state}`);
    }
    const nsPerBatch = r.latency.mean * 1e6; // tinybench reports milliseconds
    return {
      name: task.name,
      nsPerBatch: round(nsPerBatch),
      nsPerRecord: round(nsPerBatch / RECORDS),
      recordsPerSec: round((RECORDS * 1e9) / nsPerBatch),
      samples: r.latency.samplesCount,
    };
  });
  const perRecord = (prefix: string) => tasks.find((t) => t.name.startsWith(prefix))!;
  const json = perRecord('detectionJson (').nsPerRecord / 1000;
  const stringify = perRecord('JSON.stringify').nsPerRecord / 1000;
  const bytes = perRecord('detectionJsonInto').nsPerRecord / 1000;
  return {
    recordsPerBatch: RECORDS,
    tasks,
    json: {
      usPerFinding: round(json),
      stringifyUsPerFinding: round(stringify),
      ratio: round(json / stringify),
      bytesPerLine: detectionJson(findings[0]).length,
      bytesUsPerFinding: round(bytes),
      bytesRatio: round(bytes / stringify),
    },
    findingListenerPerSec: perRecord('Sensor batch').recordsPerSec,
    ...(base
      ? {
          before: {
            root: BASELINE!,
            jsonUsPerFinding: round(perRecord('baseline detectionJson').nsPerRecord / 1000),
            findingListenerPerSec: perRecord('baseline Sensor batch').recordsPerSec,
          },
        }
      : {}),
  };
}
