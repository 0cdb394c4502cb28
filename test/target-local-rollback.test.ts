import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../src/errors';
import { createLocalTarget, type LocalTargetConfig, type ReleaseToDeploy } from '../src/targets';
import { destroyTargetRoot, freePort, makeTempDir, packRelease, processGone, waitForVersion } from './fixtures/targets/harness';

let work: string;
const releases: ReleaseToDeploy[] = [];
const roots: string[] = [];

before(async () => {
  work = await makeTempDir('local-rollback');
  for (const version of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) releases.push(await packRelease(work, version));
});

after(async () => {
  for (const root of roots) await destroyTargetRoot(root);
  await fs.rm(work, { recursive: true, force: true });
});

async function newConfig(keepReleases: number): Promise<LocalTargetConfig> {
  const root = await makeTempDir('local-root');
  roots.push(root);
  return { root, command: [process.execPath, 'service.js'], port: await freePort(), keepReleases, stopTimeoutMs: 5000 };
}

function assertRefused(type: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, pattern);
    return true;
  };
}

test('rollback restores the previous release and answers its version; rollback to nothing stops the service', async () => {
  const config = await newConfig(3);
  const target = createLocalTarget(config);
  await target.deploy(releases[0]!, {});
  const outcome = await target.deploy(releases[1]!, {});
  const newer = await waitForVersion(config.port, '1.1.0');

  const { restored } = await target.rollback(outcome.previous, {});
  assert.deepEqual(restored, outcome.previous);
  const older = await waitForVersion(config.port, '1.0.0');
  assert.ok(processGone(newer.pid));
  assert.equal(await fs.readlink(path.join(config.root, 'current')), path.join('releases', outcome.previous!.releaseId));
  assert.equal((await target.status()).running, true);

  const again = await target.rollback(outcome.previous, {});
  assert.deepEqual(again.restored, outcome.previous);
  assert.equal((await waitForVersion(config.port, '1.0.0')).pid, older.pid, 'rolling back to what runs restarts nothing');

  const cleared = await target.rollback(null, {});
  assert.equal(cleared.restored, null);
  assert.ok(processGone(older.pid));
  assert.equal(await target.current(), null);
  await assert.rejects(fs.lstat(path.join(config.root, 'current')), { code: 'ENOENT' });
  assert.deepEqual(await target.status(), { current: null, running: false });
});

test('pruning keeps the newest keepReleases releases and never the current or previous one', async () => {
  const config = await newConfig(2);
  const target = createLocalTarget(config);
  const ids: string[] = [];
  for (const release of releases) ids.push((await target.deploy(release, {})).releaseId);
  await waitForVersion(config.port, '1.3.0');
  const kept = (await fs.readdir(path.join(config.root, 'releases'))).sort();
  assert.deepEqual(kept, [ids[2], ids[3]].sort());
  assert.deepEqual((await fs.readdir(path.join(config.root, 'logs'))).sort(), [`${ids[2]}.log`, `${ids[3]}.log`].sort());

  const pruned = { releaseId: ids[0]!, version: '1.0.0', sha256: releases[0]!.sha256 };
  await assert.rejects(
    target.rollback(pruned, {}),
    assertRefused(FailureType.RollbackRefused, new RegExp(`${ids[0]}.*no longer exists.*deploy version 1.0.0 again`)),
  );
  assert.equal((await waitForVersion(config.port, '1.3.0')).version, '1.3.0', 'a refused rollback changes nothing');

  // keepReleases 1 still keeps the previous release, so the rollback a failed deploy needs stays possible.
  const tight = createLocalTarget({ ...(await newConfig(1)) });
  const tightIds: string[] = [];
  for (const release of releases.slice(0, 3)) tightIds.push((await tight.deploy(release, {})).releaseId);
  const tightRoot = roots[roots.length - 1]!;
  assert.deepEqual((await fs.readdir(path.join(tightRoot, 'releases'))).sort(), [tightIds[1], tightIds[2]].sort());
});

test('invalid configuration is refused naming the field', () => {
  const good = { root: '/srv/hello', command: ['node', 'server.js'], port: 8080, keepReleases: 3, stopTimeoutMs: 1000 };
  assert.throws(() => createLocalTarget({ ...good, root: 'relative/dir' }), assertRefused(FailureType.SpecInvalid, /target\.root must be an absolute/));
  assert.throws(() => createLocalTarget({ ...good, port: 70000 }), assertRefused(FailureType.SpecInvalid, /target\.port must be 1024-65535/));
  assert.throws(() => createLocalTarget({ ...good, command: [] }), assertRefused(FailureType.SpecInvalid, /target\.command must be a non-empty argv/));
  assert.throws(() => createLocalTarget({ ...good, port: 0 }), assertRefused(FailureType.SpecInvalid, /target\.port/));
});

test('a release with a version that could escape the releases directory is refused before anything is written', async () => {
  const config = await newConfig(2);
  const target = createLocalTarget(config);
  const bad = { ...releases[0]!, version: '../../etc' };
  await assert.rejects(target.deploy(bad, {}), assertRefused(FailureType.InvalidInput, /version must/));
  assert.deepEqual(await fs.readdir(config.root), []);
  const wrongSha = { ...releases[0]!, sha256: 'a'.repeat(64) };
  await assert.rejects(target.deploy(wrongSha, {}), assertRefused(FailureType.ArtifactConflict, /rebuild the artifact/));
});
