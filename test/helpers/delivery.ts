// Feeds hand-made batches through a sensor's delivery path without the kernel: the same code
// the addon's callback runs.
import { Sensor } from '../../lib/sensor';

export function deliverBatch(sensor: Sensor, buffer: ArrayBuffer, records: number): void {
  (sensor as unknown as { onBatch(b: ArrayBuffer, n: number): void }).onBatch(buffer, records);
}
