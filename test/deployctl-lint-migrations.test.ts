import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..');
let dir: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'deployctl-lint-'));
  await fs.writeFile(path.join(dir, '001_ok.sql'), '-- phase: expand\nALTER TABLE greetings ADD COLUMN note text;\n');
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function deployctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/deployctl.ts'), ...args], { cwd: REPO_ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
    });
  });
}

test('deployctl lint-migrations is the linter: 0 clean, 1 with findings in the contract format, 2 on usage errors', async () => {
  const clean = await deployctl(['lint-migrations', dir]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /1 file checked, 0 findings, 0 allowed: ok/);

  await fs.writeFile(path.join(dir, '002_index.sql'), '-- phase: expand\nCREATE INDEX greetings_note ON greetings (note);\n');
  const bad = await deployctl(['lint-migrations', dir]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, new RegExp(`^${path.join(dir, '002_index.sql').replace(/[.]/g, '\\.')}:2: index-without-concurrently: .*CONCURRENTLY`, 'm'));

  const json = await deployctl(['lint-migrations', '--json', dir]);
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.stdout).findingCount, 1);

  const usage = await deployctl(['lint-migrations']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /no migrations given/);
  const help = await deployctl(['lint-migrations', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: deployctl lint-migrations/);
});
