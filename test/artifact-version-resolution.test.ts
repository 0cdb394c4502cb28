import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { resolveRevision } from '../src/artifacts';
import { FailureType } from '../src/errors';
import { createServiceRepo, type GitRepo } from './helpers/git-repo';

let repo: GitRepo;
let notARepo: string;

before(async () => {
  repo = await createServiceRepo();
  notARepo = await fs.mkdtemp(path.join(os.tmpdir(), 'not-a-repo-'));
});
after(async () => {
  await repo.remove();
  await fs.rm(notARepo, { recursive: true, force: true });
});

function refusedWith(type: string, ...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

test('a version resolves to the tag of the same name, then to v<version>', async () => {
  assert.equal(await resolveRevision(repo.dir, '1.0.0'), repo.commits['1.0.0']);
  assert.equal(await resolveRevision(repo.dir, '1.1.0'), repo.commits['v1.1.0']);
  assert.notEqual(repo.commits['1.0.0'], repo.commits['1.1.0']);
});

test('1.1.0 and v1.1.0 naming different commits is ambiguous: refused, naming both, never guessed', async () => {
  await repo.git('tag', '1.1.0', repo.commits['1.0.0']!);
  try {
    await assert.rejects(resolveRevision(repo.dir, '1.1.0'), /version 1\.1\.0 is ambiguous .*tag 1\.1\.0 is commit .* but tag v1\.1\.0 is commit/);
  } finally {
    await repo.git('tag', '-d', '1.1.0');
  }
});

test('an annotated tag resolves to its commit, not to the tag object', async () => {
  await repo.git('tag', '-a', '3.0.0', '-m', 'release 3.0.0', repo.commits['1.0.0']!);
  assert.equal(await resolveRevision(repo.dir, '3.0.0'), repo.commits['1.0.0']);
});

test('a full or abbreviated commit hash resolves to the full hash', async () => {
  const full = repo.commits['1.1.0']!;
  assert.equal(await resolveRevision(repo.dir, full), full);
  assert.equal(await resolveRevision(repo.dir, full.slice(0, 7)), full);
});

test('an unknown version is refused, naming the version, the repository, what was tried and how to tag it', async () => {
  await assert.rejects(
    resolveRevision(repo.dir, '9.9.9'),
    refusedWith(FailureType.InvalidInput, /9\.9\.9/, new RegExp(repo.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), /tag 9\.9\.9/, /tag v9\.9\.9/, /git -C .* tag 9\.9\.9/),
  );
});

test('branch names and unknown hashes are not versions', async () => {
  await assert.rejects(resolveRevision(repo.dir, 'main'), refusedWith(FailureType.InvalidInput, /version main was not found/));
  await assert.rejects(resolveRevision(repo.dir, 'deadbeefcafe'), refusedWith(FailureType.InvalidInput, /commit deadbeefcafe/));
});

test('revision syntax is not a version: a suffix cannot select another commit', async () => {
  await assert.rejects(resolveRevision(repo.dir, '1.1.0^'), refusedWith(FailureType.InvalidInput, /version "1\.1\.0\^"/));
  await assert.rejects(resolveRevision(repo.dir, '--output=/tmp/x'), refusedWith(FailureType.InvalidInput, /version "--output/));
});

test('a directory that is not a git repository is refused by name', async () => {
  await assert.rejects(resolveRevision(notARepo, '1.0.0'), refusedWith(FailureType.InvalidInput, /is not a git repository/));
  await assert.rejects(
    resolveRevision(path.join(notARepo, 'missing'), '1.0.0'),
    refusedWith(FailureType.InvalidInput, /does not exist/),
  );
});

test("the worker user's git configuration cannot redirect a version", async () => {
  // A global config that would make "1.0.0" mean something else if it were read.
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'git-home-'));
  await fs.writeFile(path.join(home, '.gitconfig'), '[core]\n\tbare = true\n[safe]\n\tdirectory = nowhere\n[include]\n\tpath = /nonexistent\n');
  const saved = { HOME: process.env.HOME, GIT_DIR: process.env.GIT_DIR };
  process.env.HOME = home;
  process.env.GIT_DIR = notARepo; // would point git at the wrong repository if inherited
  try {
    assert.equal(await resolveRevision(repo.dir, '1.0.0'), repo.commits['1.0.0']);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await fs.rm(home, { recursive: true, force: true });
  }
});
