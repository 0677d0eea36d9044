// The generated JSON writers against what the generic serialiser they replaced wrote for the same
// records (test/fixtures/golden/, made by test/helpers/write-golden.ts with ed9cbc5's build):
// field order, exact 64-bit integers, escapes, byte for byte.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers/fixtures';
import { GOLDEN_CASES, goldenBytes, goldenText } from '../helpers/golden-cases';

describe('detection and event JSON, byte for byte', () => {
  for (const c of GOLDEN_CASES) {
    it(`${c.name}: ${c.as === 'event' ? 'toJson(event) and JSON.stringify(event)' : `${c.as} detectionJson and JSON.stringify(finding)`}${c.parseArguments ? ', --parse-arguments' : ''}`, () => {
      const expected = readFileSync(path.join(REPO, 'test', 'fixtures', 'golden', `${c.name}.json`), 'utf8');
      const [json, stringified] = goldenText(c).split('\n');
      const [wantJson, wantStringified] = expected.split('\n');
      assert.equal(json, wantJson);
      assert.equal(stringified, wantStringified);
      assert.equal(goldenBytes(c), wantJson, 'the byte writer (the CLI) writes the same');
    });
  }
});
