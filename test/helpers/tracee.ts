// Tracee's detection fields, in Tracee's order (shared/docs/trc104-reference.md §3).
export const TRACEE_FIELDS = [
  'timestamp', 'threadStartTime', 'processorId', 'processId', 'cgroupId', 'threadId', 'parentProcessId',
  'hostProcessId', 'hostThreadId', 'hostParentProcessId', 'userId', 'mountNamespace', 'pidNamespace',
  'processName', 'executable', 'hostName', 'containerId', 'container', 'kubernetes', 'eventId', 'eventName',
  'matchedPolicies', 'argsNum', 'returnValue', 'syscall', 'stackAddresses', 'contextFlags', 'threadEntityId',
  'processEntityId', 'parentEntityId', 'args', 'metadata',
];
