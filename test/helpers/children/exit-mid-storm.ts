// process.exit() while a sensor is draining a storm: prints the program ids, then exits 0 with
// the sensor still running. Nothing may abort on the way out.
import { spawn } from 'node:child_process';
import { Sensor } from '../../../lib/sensor';

const sensor = new Sensor({ dedup: false });
let findings = 0;
sensor.on('finding', () => findings++);
const { programIds } = sensor.start();
const storm = spawn(process.argv[2], ['match', '0', '5'], { stdio: 'ignore' });
const poll = setInterval(() => {
  if (findings < 1000) return;
  clearInterval(poll);
  storm.kill();
  process.stdout.write(`${JSON.stringify({ programIds, findings })}\n`);
  process.exit(0);
}, 10);
