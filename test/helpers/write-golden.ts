// Writes test/fixtures/golden/*.json from the current build: node dist/test/helpers/write-golden.js
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './fixtures';
import { GOLDEN_CASES, goldenText } from './golden-cases';

for (const c of GOLDEN_CASES) writeFileSync(path.join(REPO, 'test', 'fixtures', 'golden', `${c.name}.json`), goldenText(c));
