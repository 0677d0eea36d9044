// MITRE ATT&CK properties shared by signatures that detect the same technique, in Tracee's shape
// (the same ids Tracee's own signatures carry).
export const SOFTWARE_PACKING = {
  Severity: 2,
  Category: 'defense-evasion',
  Technique: 'Software Packing',
  Kubernetes_Technique: '',
  id: 'attack-pattern--deb98323-e13f-4b0c-8d94-175379069062',
  external_id: 'T1027.002',
} as const;

export const PROCESS_INJECTION = {
  Severity: 3,
  Category: 'defense-evasion',
  Technique: 'Process Injection',
  Kubernetes_Technique: '',
  id: 'attack-pattern--43e7dc91-05b2-474c-b9ac-2ed4fe101f4d',
  external_id: 'T1055',
} as const;

export const PTRACE_SYSTEM_CALLS = {
  Technique: 'Ptrace System Calls',
  id: 'attack-pattern--ea016b56-ae0e-47fe-967a-cc0ad51af67f',
  external_id: 'T1055.008',
} as const;

export const PROC_MEMORY = {
  Technique: 'Proc Memory',
  id: 'attack-pattern--d201d4cc-214d-4a74-a1ba-b3fa09fd4591',
  external_id: 'T1055.009',
} as const;

export const REFLECTIVE_CODE_LOADING = {
  Severity: 3,
  Category: 'defense-evasion',
  Technique: 'Reflective Code Loading',
  Kubernetes_Technique: '',
  id: 'attack-pattern--4933e63b-9b77-476e-ab29-761bc5b7d15a',
  external_id: 'T1620',
} as const;
