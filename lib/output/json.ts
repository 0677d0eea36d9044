// Tracee's detection JSON: one object per finding, Tracee's fields in Tracee's order, 64-bit
// integers written exactly (JSON.stringify cannot write a bigint), strings escaped. The writers
// are generated from lib/event-fields.ts once per shape (per signature, and per event), so a
// finding's line costs its own numbers and strings, not a walk of it.
import { detectionFields, EVENT_FIELDS } from '../event-fields';
import { MemProtAlert } from '../mem-prot-alert';
import type { ByteSink } from '../byte-writer';
import { compileObject, Field } from '../shape';
import { compileBytes } from './json-bytes';
import { compileJson } from './json-text';
import { SIGNATURES } from '../signatures';
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
      if (value instanceof MemProtAlert) return eventJson(value);
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

/** A signature's own fields, for the signatures wxwatch ships. */
function extraFields(m: SignatureMetadata): readonly Field[] {
  return SIGNATURES.find((s) => s.metadata === m)?.fields ?? [];
}

interface Shape {
  json: (e: MemProtAlert) => string;
  parsedJson: (e: MemProtAlert) => string;
  bytes: (e: MemProtAlert, sink: ByteSink) => void;
  parsedBytes: (e: MemProtAlert, sink: ByteSink) => void;
  object: (e: MemProtAlert) => Record<string, unknown>;
  parsedObject: (e: MemProtAlert) => Record<string, unknown>;
}

// A signature's metadata never changes: its shape (and its metadata's text) is made once.
const shapes = new WeakMap<SignatureMetadata, Shape>();

let lastMeta: SignatureMetadata | undefined;
let lastShape: Shape | undefined;

function shapeOf(m: SignatureMetadata): Shape {
  // findings of one signature come in runs
  if (m === lastMeta) return lastShape!;
  let shape = shapes.get(m);
  if (!shape) {
    const fields = detectionFields(m, extraFields(m));
    shape = {
      json: compileJson(fields, toJson),
      parsedJson: compileJson(fields, toJson, { parsed: true }),
      bytes: compileBytes(fields, toJson),
      parsedBytes: compileBytes(fields, toJson, { parsed: true }),
      object: compileObject(fields),
      parsedObject: compileObject(fields, { parsed: true }),
    };
    shapes.set(m, shape);
  }
  lastMeta = m;
  lastShape = shape;
  return shape;
}

export function detectionJson(finding: Finding, options?: JsonOptions): string {
  const shape = shapeOf(finding.SigMetadata);
  return (options?.parseArguments ? shape.parsedJson : shape.json)(finding.Event);
}

/** detectionJson(), written as UTF-8 into a sink at sink.at (the CLI's batches: no string). */
export function detectionJsonInto(finding: Finding, sink: ByteSink, options?: JsonOptions): void {
  const shape = shapeOf(finding.SigMetadata);
  (options?.parseArguments ? shape.parsedBytes : shape.bytes)(finding.Event, sink);
}

/** The detection event Tracee prints for a finding, as a plain object in Tracee's field order
 * (64-bit values bigint). */
export function detectionObject(finding: Finding, options: JsonOptions = {}): Record<string, unknown> {
  const shape = shapeOf(finding.SigMetadata);
  return (options.parseArguments ? shape.parsedObject : shape.object)(finding.Event);
}

const eventWriter = compileJson(EVENT_FIELDS, toJson);
const parsedEventWriter = compileJson(EVENT_FIELDS, toJson, { parsed: true });
const eventBytes = compileBytes(EVENT_FIELDS, toJson);
const parsedEventBytes = compileBytes(EVENT_FIELDS, toJson, { parsed: true });

/** The JSON of an event itself (an --alerts or --denied line). */
export function eventJson(event: MemProtAlert, options: JsonOptions = {}): string {
  return (options.parseArguments ? parsedEventWriter : eventWriter)(event);
}

/** eventJson(), written as UTF-8 into a sink at sink.at. */
export function eventJsonInto(event: MemProtAlert, sink: ByteSink, options: JsonOptions = {}): void {
  (options.parseArguments ? parsedEventBytes : eventBytes)(event, sink);
}
