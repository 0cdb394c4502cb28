import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** Every `temporal …` command in a Markdown file's code blocks, continuation lines joined. */
async function temporalCommands(file: string): Promise<string[]> {
  const text = await fs.readFile(path.join(ROOT, file), 'utf8');
  const blocks = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const commands: string[] = [];
  for (const block of blocks) {
    const joined = block.replace(/\\\n\s*/g, ' ');
    for (const line of joined.split('\n')) if (line.trim().startsWith('temporal ')) commands.push(line.trim().replace(/\s+/g, ' '));
  }
  return commands;
}

test('every Temporal CLI command in the README is one that test/cli-flows.test.ts runs (docs/cli-commands.md)', async () => {
  const readme = await temporalCommands('README.md');
  const tested = new Set(await temporalCommands('docs/cli-commands.md'));
  assert.ok(readme.length >= 8, `expected the README to show the daily CLI flows, found ${readme.length} commands`);
  const untested = readme.filter((c) => !tested.has(c));
  assert.deepEqual(untested, [], 'README commands not covered by the CLI flow test; add them to docs/cli-commands.md');
});
