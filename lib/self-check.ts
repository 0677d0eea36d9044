// The self-check page: what Sensor.selfCheck()'s helper makes RW→RX (native/sensor_wrap.cc,
// Probe, writes the same bytes). Any wxwatch sensor recognises another sensor's helper by the
// SHA-256 of the whole page, so a second sensor on the host does not report the first one's
// self-check as TRC-104. Code cannot hide behind it: the hash covers every byte of the page, so
// only this page (a ret, a marker, zeros) matches, and only when it was captured whole.
import { createHash } from 'node:crypto';
import type { MemProtAlert } from './mem-prot-alert';
import { CODE_PAGE, OFF } from './record-layout';
import { codeStart } from './shape';
import { TRC104 } from './signatures/trc104';

/** Kept in step with kProbeMarker in native/sensor_wrap.cc (the e2e self-check test proves it). */
export const PROBE_MARKER = 'wxwatch self-check page: not code';
const MARKER_AT = 8;

/** The probe page: `ret` at 0, the marker at 8, zeros after. */
export function probePage(): Uint8Array {
  const page = new Uint8Array(CODE_PAGE);
  page[0] = 0xc3;
  page.set(Buffer.from(PROBE_MARKER, 'latin1'), MARKER_AT);
  return page;
}

export const PROBE_PAGE_SHA256 = createHash('sha256').update(probePage()).digest('hex');
const MARKER_FIRST = PROBE_MARKER.charCodeAt(0);
const CODE_LEN_AT = OFF.code_len;

/**
 * A W→X whose captured code is exactly the probe page, read whole: some wxwatch sensor's
 * self-check. Without captured code (captureBytes 0, a capture budget spent) nothing is known
 * of the bytes, and it is not recognised.
 */
export function isSelfCheckOfASensor(event: MemProtAlert): boolean {
  // Every record passes here: cheap tests first, read in place (no view made). Most records are
  // not one page starting with this marker.
  const { view, bytes } = event.b;
  if (view.getUint32(event.o + CODE_LEN_AT, true) !== CODE_PAGE) return false;
  const at = codeStart(view, event.o);
  if (bytes[at] !== 0xc3 || bytes[at + MARKER_AT] !== MARKER_FIRST) return false;
  if (!TRC104.matches(event)) return false;
  // A refusal (enforce) of it is still reported: someone's self-check was blocked.
  const { blocked, code } = event.wxwatch;
  return !blocked && !!code && code.bytes === CODE_PAGE && !code.truncated && code.unreadablePages.length === 0 && code.sha256 === PROBE_PAGE_SHA256;
}
