// One line per finding (and per --alerts/--denied event) for people at a terminal. Every string
// from the watched process is escaped: a process name cannot move the cursor or recolour the
// screen, and a byte that is not UTF-8 shows as \xNN (lib/record-text.ts).
import { alertText, protText } from '../event';
import type { MemProtAlert } from '../mem-prot-alert';
import type { Finding } from '../signatures/signature';
import { terminalName } from './escape';

/** What a finding's line and an event's line share: who, which call, which memory. */
function eventText(e: MemProtAlert): string {
  const x = e.wxwatch;
  const file = e.hasFile ? ` file=${terminalName(e.pathname)}${x.fileDeleted ? ' (deleted)' : ''}` : '';
  return (
    `pid=${e.hostProcessId} tid=${e.hostThreadId} comm=${terminalName(e.processName)} ` +
    `exe=${terminalName(e.executable.path)} uid=${e.userId} ${e.syscall}(0x${e.addr.toString(16)}, ${e.len}, ` +
    `${protText(e.prot)}) prev=${x.prevProtUnknown ? 'unknown' : protText(x.prevProt)} region=${x.region}${file}` +
    (x.writableAlias ? ` writable-mappings=${x.writableMappings}` : '') +
    (e.contextFlags.isCompat ? ' abi=32-bit' : '') +
    (x.readImpliesExec ? ' read-implies-exec' : '') +
    (x.blocked ? ' BLOCKED' : '') +
    (e.containerId ? ` container=${terminalName(e.containerId)}` : '')
  );
}

const when = (e: MemProtAlert) => new Date(Number(e.timestamp / 1_000_000n)).toISOString();

export function detectionLine(finding: Finding): string {
  const e = finding.Event;
  return `${when(e)} ${finding.SigMetadata.ID} ${finding.SigMetadata.Name}: ${eventText(e)}`;
}

/** A raw mem_prot_alert (--alerts) or mem_prot_denied (--denied) event. */
export function eventLine(e: MemProtAlert): string {
  const what = e.denied ? `mem_prot_denied ret=${e.returnValue}` : `mem_prot_alert ${e.alert} ${alertText(e.alert)}`;
  return `${when(e)} ${what}: ${eventText(e)}`;
}
