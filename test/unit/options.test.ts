import assert from 'node:assert/strict';
import { resolveOptions } from '../../lib/options';
import { Sensor } from '../../lib/sensor';

describe('options', () => {
  it('has defaults that stream only findings', () => {
    const o = resolveOptions();
    assert.equal(o.ringBufferBytes, 1 << 20);
    assert.equal(o.alertKinds.size, 0);
    assert.equal(o.denied, false);
  });

  const bad: Array<[string, object, RegExp, ErrorConstructor]> = [
    ['ring size not a power of two', { ringBufferBytes: 100000 }, /power of two/, RangeError],
    ['ring size too small', { ringBufferBytes: 4096 }, /between/, RangeError],
    ['ring size not a number', { ringBufferBytes: '8M' }, /integer/, TypeError],
    ['unknown alert kind', { alerts: [5] }, /unknown alert kind 5/, RangeError],
    ['alerts of the wrong type', { alerts: 'all' }, /boolean or a list/, TypeError],
    ['misspelt option', { ringbuffer: 1 }, /unknown option "ringbuffer"/, TypeError],
    ['drain interval zero', { drainIntervalMs: 0 }, /between 1 and 1000/, RangeError],
  ];
  for (const [name, options, message, type] of bad) {
    it(`rejects ${name} before any native call`, () => {
      assert.throws(() => new Sensor(options as never), (err: Error) => err instanceof type && message.test(err.message));
    });
  }
});
