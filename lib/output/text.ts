// One line per finding for people at a terminal. Every string from the watched process is
// escaped: a process name cannot move the cursor or recolour the screen.
import { protText } from '../event';
import type { Finding } from '../signatures/signature';
import { terminalString } from './escape';

export function detectionLine(finding: Finding): string {
  const e = finding.Event;
  const x = e.wxwatch;
  const when = new Date(Number(e.timestamp / 1_000_000n)).toISOString();
  const file = e.hasFile ? ` file=${terminalString(e.pathname)}${x.fileDeleted ? ' (deleted)' : ''}` : '';
  return (
    `${when} ${finding.SigMetadata.ID} ${finding.SigMetadata.Name}: ` +
    `pid=${e.hostProcessId} tid=${e.hostThreadId} comm=${terminalString(e.processName)} ` +
    `exe=${terminalString(e.executable.path)} uid=${e.userId} ${e.syscall}(0x${e.addr.toString(16)}, ${e.len}, ` +
    `${protText(e.prot)}) prev=${x.prevProtUnknown ? 'unknown' : protText(x.prevProt)} region=${x.region}${file}` +
    (x.writableAlias ? ` writable-mappings=${x.writableMappings}` : '') +
    (e.contextFlags.isCompat ? ' abi=32-bit' : '') +
    (x.readImpliesExec ? ' read-implies-exec' : '') +
    (x.blocked ? ' BLOCKED' : '') +
    (e.containerId ? ` container=${terminalString(e.containerId)}` : '')
  );
}
