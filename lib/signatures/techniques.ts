// MITRE ATT&CK properties shared by signatures that detect the same technique, in Tracee's shape.
export const SOFTWARE_PACKING = {
  Severity: 2,
  Category: 'defense-evasion',
  Technique: 'Software Packing',
  Kubernetes_Technique: '',
  id: 'attack-pattern--deb98323-e13f-4b0c-8d94-175379069062',
  external_id: 'T1027.002',
} as const;
