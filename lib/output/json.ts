// Tracee's detection JSON: one object per finding, Tracee's fields in Tracee's order, 64-bit
// integers written exactly (JSON.stringify cannot write a bigint), strings escaped.
import { alertText, EVENT_IDS, EventArg, protText } from '../event';
import { MemProtAlert } from '../mem-prot-alert';
import type { Finding, SignatureMetadata } from '../signatures/signature';
import { jsonString } from './escape';

export interface JsonOptions {
  /** Render arguments for people, as Tracee's --parse-arguments does. */
  parseArguments?: boolean;
}

function isFinding(value: object): value is Finding {
  return (value as Finding).Event instanceof MemProtAlert && 'SigMetadata' in value;
}

/** Serialises plain data: bigint as digits, strings escaped, object keys in insertion order.
 * Events and findings are written as their documented JSON, never by walking their internals;
 * binary buffers as null. */
export function toJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof MemProtAlert) return toJson(value.toObject());
      if (isFinding(value)) return detectionJson(value);
      if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + toJson(value[i]);
        return `${out}]`;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return toJson((value as { toJSON(): unknown }).toJSON());
      let out = '{';
      for (const k of Object.keys(value)) {
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined) continue;
        out += `${out.length > 1 ? ',' : ''}${jsonString(k)}:${toJson(v)}`;
      }
      return `${out}}`;
    }
    default:
      return 'null';
  }
}

function parsedValue(arg: EventArg): unknown {
  switch (arg.name) {
    case 'alert':
      return alertText(arg.value as number);
    case 'addr':
      return `0x${(arg.value as bigint).toString(16)}`;
    case 'prot':
    case 'prev_prot':
      return protText(arg.value as number);
    default:
      return arg.value;
  }
}

function argsOf(finding: Finding, options: JsonOptions): EventArg[] {
  const args = finding.Event.args;
  return options.parseArguments ? args.map((a) => ({ ...a, value: parsedValue(a) })) : args;
}

function metadataOf(m: SignatureMetadata) {
  return {
    Version: m.Version,
    Description: m.Description,
    Tags: m.Tags,
    Properties: { ...m.Properties, signatureID: m.ID, signatureName: m.Name },
  };
}

function detectedFrom(finding: Finding, options: JsonOptions) {
  const e = finding.Event;
  return [{ name: 'detectedFrom', type: 'unknown', value: { id: Number(e.eventId), name: e.eventName, args: argsOf(finding, options), returnValue: e.returnValue } }];
}

type Field = [name: string, get: (f: Finding, options: JsonOptions) => unknown];

/** The detection's fields: Tracee's, in Tracee's order, then wxwatch's. The one definition of
 * the shape, for the object and for the JSON text. */
const FIELDS: Field[] = [
  ['timestamp', (f) => f.Event.timestamp],
  ['threadStartTime', (f) => f.Event.threadStartTime],
  ['processorId', (f) => f.Event.processorId],
  ['processId', (f) => f.Event.processId],
  ['cgroupId', (f) => f.Event.cgroupId],
  ['threadId', (f) => f.Event.threadId],
  ['parentProcessId', (f) => f.Event.parentProcessId],
  ['hostProcessId', (f) => f.Event.hostProcessId],
  ['hostThreadId', (f) => f.Event.hostThreadId],
  ['hostParentProcessId', (f) => f.Event.hostParentProcessId],
  ['userId', (f) => f.Event.userId],
  ['mountNamespace', (f) => f.Event.mountNamespace],
  ['pidNamespace', (f) => f.Event.pidNamespace],
  ['processName', (f) => f.Event.processName],
  ['executable', (f) => f.Event.executable],
  ['hostName', (f) => f.Event.hostName],
  ['containerId', (f) => f.Event.containerId],
  ['container', (f) => f.Event.container],
  ['kubernetes', (f) => f.Event.kubernetes],
  ['eventId', (f) => EVENT_IDS[f.SigMetadata.EventName as keyof typeof EVENT_IDS] ?? ''],
  ['eventName', (f) => f.SigMetadata.EventName],
  ['matchedPolicies', (f) => f.Event.matchedPolicies],
  ['argsNum', () => 1],
  ['returnValue', () => 0],
  ['syscall', (f) => f.Event.syscall],
  ['stackAddresses', (f) => f.Event.stackAddresses],
  ['contextFlags', (f) => f.Event.contextFlags],
  ['threadEntityId', (f) => f.Event.threadEntityId],
  ['processEntityId', (f) => f.Event.processEntityId],
  ['parentEntityId', (f) => f.Event.parentEntityId],
  ['args', detectedFrom],
  ['metadata', (f) => metadataOf(f.SigMetadata)],
  ['wxwatch', (f) => f.Event.wxwatch],
];

/** The detection event Tracee prints for a finding, as a plain object in Tracee's field order. */
export function detectionObject(finding: Finding, options: JsonOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, get] of FIELDS) out[name] = get(finding, options);
  return out;
}

// Per field, the text before its value: '{"timestamp":', ',"threadStartTime":', …
const KEY_TEXT = FIELDS.map(([name], i) => `${i ? ',' : '{'}${JSON.stringify(name)}:`);
const METADATA = FIELDS.findIndex(([name]) => name === 'metadata');
// A signature's metadata never changes: its JSON is made once.
const metadataText = new WeakMap<SignatureMetadata, string>();

export function detectionJson(finding: Finding, options: JsonOptions = {}): string {
  let out = '';
  for (let i = 0; i < FIELDS.length; i++) {
    let value: string;
    if (i === METADATA) {
      const m = finding.SigMetadata;
      value = metadataText.get(m) ?? toJson(metadataOf(m));
      metadataText.set(m, value);
    } else {
      value = toJson(FIELDS[i][1](finding, options));
    }
    out += KEY_TEXT[i] + value;
  }
  return `${out}}`;
}
