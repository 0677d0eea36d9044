// wxwatch: a dynamic-code-loading (W→X) sensor for Node.js. The public API.
export { Sensor } from './sensor';
export type { SensorStats, SensorEvents, RecordBatch, FindingsOptions } from './sensor';
export { Detection } from './finding';
export type { SensorOptions, SensorMode } from './options';
export type { ProcessSelector } from './filters';
export { MemProtAlert, decodeBatch } from './mem-prot-alert';
export type { Finding, Signature, SignatureMetadata } from './signatures/signature';
export { TRC104 } from './signatures/trc104';
export { ALERT, alertText, protText, EVENT_IDS } from './event';
export type { TraceeEvent, EventArg, AlertKind, RegionKind, WxwatchExtras } from './event';
export { detectionJson, detectionObject, toJson } from './output/json';
export { detectionLine } from './output/text';
export { RequirementsError, missingRequirements } from './privileges';
