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

/** Words of a README command line as a POSIX shell splits them, up to an unquoted comment or redirection. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let current: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "'" || ch === '"') {
      const end = line.indexOf(ch, i + 1);
      assert.ok(end > i, `unterminated quote in: ${line}`);
      const quoted = line.slice(i + 1, end);
      assert.ok(ch === "'" || !/[$`\\]/.test(quoted), `a README deployctl line expands ${quoted} inside double quotes: ${line}`);
      current = (current ?? '') + quoted;
      i = end;
    } else if (/\s/.test(ch)) {
      if (current !== undefined) words.push(current);
      current = undefined;
    } else if ((ch === '#' && current === undefined) || ch === '>' || ch === '|') {
      break;
    } else {
      assert.ok(!'$`\\;&<'.includes(ch), `README deployctl lines use ${ch}, which this reader does not interpret: ${line}`);
      current = (current ?? '') + ch;
    }
  }
  if (current !== undefined) words.push(current);
  return words;
}

test('every deployctl command in the README is accepted by deployctl as written (dry run: parsed and validated, nothing contacted)', async () => {
  const { runDeployctl } = await import('../src/cli/deployctl');
  const text = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const lines = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.split('\n'))
    .map((l) => l.trim())
    .filter((l) => l.startsWith('npx deployctl '));
  assert.ok(lines.length >= 15, `expected the README to show deployctl's daily commands, found ${lines.length}`);
  const commands = new Set<string>();
  for (const line of lines) {
    const words = shellWords(line);
    const err: string[] = [];
    let code = -1;
    const calls: unknown[] = [];
    await runDeployctl(words.slice(2), {
      io: { out: () => undefined, err: (t) => err.push(t), isTTY: false, rewrite: () => undefined },
      env: { USER: 'carol' },
      cwd: ROOT,
      dryRun: (c) => calls.push(c),
      setExitCode: (c) => (code = c),
    });
    assert.equal(code, 0, `deployctl refused a README line: ${line}\n${err.join('\n')}`);
    if (words[2] !== 'lint-migrations') assert.equal(calls.length, 1, line);
    commands.add(words[2]!);
  }
  for (const command of ['deploy', 'approve', 'reject', 'status', 'statement']) assert.ok(commands.has(command), `the README shows deployctl ${command}`);
});
