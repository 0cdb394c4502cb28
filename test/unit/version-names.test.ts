import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveRevision } from '../../src/artifacts/git';
import { canonicalVersion } from '../../src/names';

// v1.10.3 and 1.10.3 are one release: one canonical name, either tag resolves it, and two tags that name
// different commits are refused rather than guessed between.
async function repoWithTags(tags: Record<string, number>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'versions-'));
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' }).trim();
  git('init', '-q');
  const commits: string[] = [];
  for (let i = 0; i < 2; i++) {
    await fs.writeFile(path.join(dir, 'f'), String(i));
    git('add', 'f');
    git('commit', '-q', '-m', `c${i}`);
    commits.push(git('rev-parse', 'HEAD'));
  }
  for (const [tag, i] of Object.entries(tags)) git('tag', tag, commits[i]!);
  return dir;
}

test('the canonical version drops a leading v before a digit, and only then', () => {
  assert.equal(canonicalVersion('v1.10.3'), '1.10.3');
  assert.equal(canonicalVersion('1.10.3'), '1.10.3');
  assert.equal(canonicalVersion('vnext'), 'vnext');
});

test('either tag form resolves the release; a missing one names the tags tried, never "vv"', async () => {
  const repo = await repoWithTags({ 'v1.12.0': 0 });
  try {
    const commit = await resolveRevision(repo, '1.12.0');
    assert.equal(await resolveRevision(repo, 'v1.12.0'), commit);
    const err = await resolveRevision(repo, 'v1.13.0').then(() => assert.fail('found'), (e: Error) => e);
    assert.match(err.message, /tried tag 1\.13\.0, tag v1\.13\.0/);
    assert.doesNotMatch(err.message, /vv/);
  } finally {
    await fs.rm(repo, { recursive: true, force: true });
  }
});

test('tags 1.2.3 and v1.2.3 on different commits are refused as ambiguous, naming both', async () => {
  const repo = await repoWithTags({ '1.2.3': 0, 'v1.2.3': 1 });
  try {
    const err = await resolveRevision(repo, 'v1.2.3').then(() => assert.fail('resolved'), (e: Error) => e);
    assert.match(err.message, /version 1\.2\.3 is ambiguous .* tag 1\.2\.3 is commit [0-9a-f]{40} but tag v1\.2\.3 is commit [0-9a-f]{40}/);
  } finally {
    await fs.rm(repo, { recursive: true, force: true });
  }
});
