// TRC-104, "Dynamic code loading detected": memory that was writable becomes executable.
// Metadata exactly as Tracee's; the condition is alert 4 (ALERT_MPROT_W_REM) on a call that
// succeeded.
import { ALERT } from '../event';
import type { Signature } from './signature';
import { SOFTWARE_PACKING } from './techniques';

export const TRC104: Signature = {
  metadata: {
    ID: 'TRC-104',
    Version: '1',
    Name: 'Dynamic code loading detected',
    EventName: 'dynamic_code_loading',
    Description:
      "Possible dynamic code loading was detected as the binary's memory is both writable and executable. Writing to an executable allocated memory region could be a technique used by adversaries to run code undetected and without dropping executables.",
    Tags: null,
    Properties: { ...SOFTWARE_PACKING },
  },
  alertKinds: [ALERT.MPROT_W_REM],
  refusedBy: ['written-then-executable'],
  matches: (event) => !event.isWrite && event.alert === ALERT.MPROT_W_REM && !event.denied,
};
