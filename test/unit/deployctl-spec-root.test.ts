import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { specAgainstRoot } from '../../src/cli/commands/deploy';

// deployctl deploy checks a spec path where the worker will read it: against DEPLOY_SPEC_ROOT when set,
// and sends it relative to that root, so what was validated is what is deployed.
test('with DEPLOY_SPEC_ROOT the path is checked against the root and sent relative to it', async () => {
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'cli-root-')));
  const elsewhere = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'cli-cwd-')));
  try {
    await fs.mkdir(path.join(root, 'specs'));
    await fs.writeFile(path.join(root, 'specs', 'deploy.yaml'), 'service: x\n');
    await fs.symlink(elsewhere, path.join(root, 'specs', 'out'));
    // From another directory, by absolute path: sent as the root-relative path the worker resolves.
    assert.deepEqual(await specAgainstRoot(path.join(root, 'specs', 'deploy.yaml'), elsewhere, root), { specPath: 'specs/deploy.yaml', base: root });
    assert.deepEqual(await specAgainstRoot('specs/deploy.yaml', root, root), { specPath: 'specs/deploy.yaml', base: root });
    await assert.rejects(specAgainstRoot('deploy.yaml', elsewhere, root), /resolves to .*outside the spec root .*the worker would refuse it/);
    await assert.rejects(specAgainstRoot('specs/out/deploy.yaml', root, root), /outside the spec root/);
    // Without a root the caller's path is kept as given (the worker reads from its working directory).
    assert.deepEqual(await specAgainstRoot('specs/deploy.yaml', elsewhere, undefined), { specPath: 'specs/deploy.yaml', base: elsewhere });
  } finally {
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(elsewhere, { recursive: true, force: true });
  }
});
