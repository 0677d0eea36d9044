// require('wxwatch') as an ordinary user: no native code loads, and everything that does not
// touch the kernel works.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from '../helpers/fixtures';
import { isRoot } from '../helpers/sensor';

const SCRIPT = `
const w = require(${JSON.stringify(path.join(REPO, 'dist', 'lib', 'index.js'))});
const out = { loadedBeforeStart: Object.keys(require.cache).filter((k) => k.endsWith('.node')) };
out.podUID = w.podUidFromCgroup('kubepods-pod3f2a1b4c_5d6e_4f70_8a9b_0c1d2e3f4a5b.slice/x');
try { new w.Sensor({ ringBufferBytes: 3 }); } catch (e) { out.validation = e.constructor.name; }
out.metrics = typeof w.sensorMetrics(new w.Sensor()).registry.metrics;
try { new w.Sensor().start(); } catch (e) { out.startError = e.code; out.message = e.message; }
out.loadedAfterStart = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
console.log(JSON.stringify(out));
`;

describe('import', () => {
  it('loads no addon; validation, decoding helpers and metrics work; start() says what is missing', () => {
    // As root, drop to nobody with no capabilities; otherwise run as this (ordinary) user.
    const cmd = isRoot
      ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, '-e', SCRIPT]]
      : [process.execPath, ['-e', SCRIPT]];
    const res = spawnSync(cmd[0] as string, cmd[1] as string[], { encoding: 'utf8', cwd: '/' });
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.deepEqual(out.loadedBeforeStart, []);
    assert.equal(out.podUID, '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b');
    assert.equal(out.validation, 'RangeError');
    assert.equal(out.metrics, 'function');
    assert.equal(out.startError, 'EWXREQUIREMENTS');
    assert.match(out.message, /CAP_BPF/);
    assert.deepEqual(out.loadedAfterStart, [], 'the requirements check comes before the addon');
  });
});
