// Tracee's detection JSON: one object per finding, Tracee's fields in Tracee's order, 64-bit
// integers written exactly (JSON.stringify cannot write a bigint), strings escaped.
import { alertText, EVENT_IDS, EventArg, MEM_PROT_ALERT_PARAMS, protText } from '../event';
import type { Finding } from '../signatures/signature';
import { jsonString } from './escape';

export interface JsonOptions {
  /** Render arguments for people, as Tracee's --parse-arguments does. */
  parseArguments?: boolean;
}

/** Serialises plain data: bigint as digits, strings escaped, object keys in insertion order. */
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
      if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value)) {
        if (v !== undefined) parts.push(`${jsonString(k)}:${toJson(v)}`);
      }
      return `{${parts.join(',')}}`;
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

/** The detection event Tracee prints for a finding, as a plain object in Tracee's field order. */
export function detectionObject(finding: Finding, options: JsonOptions = {}): Record<string, unknown> {
  const e = finding.Event;
  const m = finding.SigMetadata;
  const args = options.parseArguments ? e.args.map((a) => ({ ...a, value: parsedValue(a) })) : e.args;
  if (args.length !== MEM_PROT_ALERT_PARAMS.length) throw new Error('wxwatch: mem_prot_alert must have 9 args');
  return {
    timestamp: e.timestamp,
    threadStartTime: e.threadStartTime,
    processorId: e.processorId,
    processId: e.processId,
    cgroupId: e.cgroupId,
    threadId: e.threadId,
    parentProcessId: e.parentProcessId,
    hostProcessId: e.hostProcessId,
    hostThreadId: e.hostThreadId,
    hostParentProcessId: e.hostParentProcessId,
    userId: e.userId,
    mountNamespace: e.mountNamespace,
    pidNamespace: e.pidNamespace,
    processName: e.processName,
    executable: e.executable,
    hostName: e.hostName,
    containerId: e.containerId,
    container: e.container,
    kubernetes: e.kubernetes,
    eventId: EVENT_IDS.dynamic_code_loading,
    eventName: m.EventName,
    matchedPolicies: e.matchedPolicies,
    argsNum: 1,
    returnValue: 0,
    syscall: e.syscall,
    stackAddresses: e.stackAddresses,
    contextFlags: e.contextFlags,
    threadEntityId: e.threadEntityId,
    processEntityId: e.processEntityId,
    parentEntityId: e.parentEntityId,
    args: [
      {
        name: 'detectedFrom',
        type: 'unknown',
        value: { id: Number(e.eventId), name: e.eventName, args, returnValue: e.returnValue },
      },
    ],
    metadata: {
      Version: m.Version,
      Description: m.Description,
      Tags: m.Tags,
      Properties: { ...m.Properties, signatureID: m.ID, signatureName: m.Name },
    },
    wxwatch: e.wxwatch,
  };
}

export function detectionJson(finding: Finding, options: JsonOptions = {}): string {
  return toJson(detectionObject(finding, options));
}
