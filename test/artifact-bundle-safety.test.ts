import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { ApplicationFailure } from '@temporalio/common';
import { buildArtifact, unpackArtifact, type BuildOptions } from '../src/artifacts';
import { END_OF_ARCHIVE, entryHeader, padding, type TarEntry } from '../src/artifacts/tar-writer';
import { FailureType } from '../src/errors';
import { createServiceRepo, type GitRepo } from './helpers/git-repo';

let repo: GitRepo;
let scratch: string;

before(async () => {
  repo = await createServiceRepo();
  await repo.commit({
    tag: '1.3.0',
    files: {
      'links/outside': { symlink: '../../../../../../etc' },
      'links/absolute': { symlink: '/etc/hostname' },
      'realdir/file.txt': 'inside\n',
      'dirlink': { symlink: 'realdir' },
    },
  });
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-safety-'));
});
after(async () => {
  await repo.remove();
  await fs.rm(scratch, { recursive: true, force: true });
});

let counter = 0;
function options(extra: Partial<BuildOptions> = {}): BuildOptions {
  counter += 1;
  return {
    service: 'hello-service',
    version: '1.3.0',
    repository: repo.dir,
    buildCommand: ['node', 'build.js'],
    outputs: ['dist'],
    migrationsDir: 'migrations',
    requiredConfig: [],
    storeDir: path.join(scratch, `store-${counter}`),
    workDir: path.join(scratch, `work-${counter}`),
    timeoutMs: 60_000,
    ...extra,
  };
}

function refusedWith(type: string, ...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

/** Runs node with `script` as the build, after the normal build. */
function buildThen(script: string): string[] {
  return ['node', '-e', `require('child_process').execFileSync(process.execPath, ['build.js'], { stdio: 'inherit' }); ${script}`];
}

test('outputs outside the checkout are refused before anything is built', async () => {
  for (const [output, why] of [
    ['../outside', /output "\.\.\/outside" leaves the checkout/],
    ['dist/../../x', /leaves the checkout/],
    ['/etc', /output "\/etc" is absolute/],
    ['', /is empty/],
  ] as const) {
    await assert.rejects(buildArtifact(options({ outputs: [output] })), refusedWith(FailureType.InvalidInput, why));
  }
  await assert.rejects(buildArtifact(options({ migrationsDir: '../migrations' })), refusedWith(FailureType.InvalidInput, /migrations directory/));
});

test('symlinks that lead out of the checkout are refused', async () => {
  await assert.rejects(
    buildArtifact(options({ outputs: ['links/outside'] })),
    refusedWith(FailureType.InvalidInput, /output symlink links\/outside points outside the bundle/),
  );
  await assert.rejects(
    buildArtifact(options({ outputs: ['links'] })),
    refusedWith(FailureType.InvalidInput, /output symlink links\/(absolute|outside)/),
  );
  await assert.rejects(
    buildArtifact(options({ outputs: ['dirlink/file.txt'] })),
    refusedWith(FailureType.InvalidInput, /dirlink is a symlink/),
  );
  await assert.rejects(
    buildArtifact(options({ buildCommand: buildThen("require('fs').symlinkSync('/etc/passwd', 'dist/passwd')") })),
    refusedWith(FailureType.InvalidInput, /output symlink dist\/passwd points to the absolute path \/etc\/passwd/),
  );
  await assert.rejects(
    buildArtifact(options({ outputs: ['dirlink'] })),
    refusedWith(FailureType.InvalidInput, /points to realdir, which is not part of the bundle/),
  );
});

test('an output missing after the build is refused by name', async () => {
  await assert.rejects(
    buildArtifact(options({ outputs: ['dist', 'build/out'] })),
    refusedWith(FailureType.InvalidInput, /output "build\/out" does not exist after the build/),
  );
});

test('a symlink that stays inside the bundle is kept as a link', async () => {
  const built = await buildArtifact(
    options({ buildCommand: buildThen("require('fs').symlinkSync('lib/server.js', 'dist/main.js')"), outputs: ['dist', 'dirlink', 'realdir'] }),
  );
  const dest = path.join(scratch, 'kept-link');
  await unpackArtifact(built.path, dest);
  assert.equal(await fs.readlink(path.join(dest, 'dist/main.js')), 'lib/server.js');
  assert.equal(await fs.readFile(path.join(dest, 'dist/main.js'), 'utf8'), "console.log('hello 1.1.0');\n");
  assert.equal(await fs.readFile(path.join(dest, 'dirlink/file.txt'), 'utf8'), 'inside\n');
});

/** A hand-made gzip tarball with whatever entries a hostile artifact might carry. */
async function craftedTarball(name: string, entries: Array<TarEntry & { body?: string }>): Promise<string> {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    blocks.push(entryHeader(e));
    if (e.type === 'file') {
      blocks.push(Buffer.from(e.body ?? ''), padding(e.size));
    }
  }
  blocks.push(END_OF_ARCHIVE);
  const file = path.join(scratch, `${name}.tar.gz`);
  await fs.writeFile(file, gzipSync(Buffer.concat(blocks)));
  return file;
}

const file = (p: string, body = 'x'): TarEntry & { body: string } => ({ type: 'file', path: p, mode: 0o644, mtime: 0, size: body.length, body });
const dir = (p: string): TarEntry => ({ type: 'directory', path: p, mode: 0o755, mtime: 0 });
const link = (p: string, target: string): TarEntry => ({ type: 'symlink', path: p, mode: 0o777, mtime: 0, linkTarget: target });

test('unpacking refuses hostile entries and writes nothing', async () => {
  const cases: Array<[string, Array<TarEntry & { body?: string }>, RegExp]> = [
    ['dotdot', [file('ok.txt'), file('../evil')], /entry "\.\.\/evil" escapes the destination/],
    ['nested-dotdot', [dir('a'), file('a/../../evil')], /escapes the destination/],
    ['absolute', [file('/tmp/evil-absolute')], /is an absolute path/],
    ['link-out', [link('etc', '../../../../etc')], /is a symlink that points outside the bundle/],
    ['link-absolute', [link('passwd', '/etc/passwd')], /points to the absolute path/],
    ['link-through-link', [link('here', '.'), link('evil', 'here/../outside')], /points through another symlink/],
    ['under-link', [dir('real'), link('alias', 'real'), file('alias/x')], /lies under alias, which is a symlink/],
    ['duplicate', [file('a.txt'), file('a.txt')], /appears twice/],
  ];
  for (const [name, entries, why] of cases) {
    const tarball = await craftedTarball(name, entries);
    const parent = path.join(scratch, `hostile-${name}`);
    const dest = path.join(parent, 'dest');
    await fs.mkdir(parent);
    await assert.rejects(unpackArtifact(tarball, dest), refusedWith(FailureType.InvalidInput, why), name);
    assert.deepEqual(await fs.readdir(parent), [], `${name}: nothing was written`);
  }
  await assert.rejects(fs.access('/tmp/evil-absolute'));
});

test('unpacking refuses hard links and a destination that is not empty', async () => {
  const src = path.join(scratch, 'hardlink-src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'a'), 'a');
  await fs.link(path.join(src, 'a'), path.join(src, 'b'));
  // Packed plain, then gzipped in one call: tar's streaming gzip can fail on a hard link under load.
  const plain = path.join(scratch, 'hardlink.tar');
  await tar.c({ file: plain, cwd: src }, ['a', 'b']);
  const tarball = path.join(scratch, 'hardlink.tar.gz');
  await fs.writeFile(tarball, gzipSync(await fs.readFile(plain)));
  await assert.rejects(unpackArtifact(tarball, path.join(scratch, 'hardlink-dest')), refusedWith(FailureType.InvalidInput, /is a Link/));

  const good = await craftedTarball('good', [file('a.txt')]);
  const busy = path.join(scratch, 'busy');
  await fs.mkdir(busy);
  await fs.writeFile(path.join(busy, 'left-over'), '');
  await assert.rejects(unpackArtifact(good, busy), refusedWith(FailureType.InvalidInput, /is not empty/));
  await unpackArtifact(good, path.join(scratch, 'fresh'));
  assert.equal(await fs.readFile(path.join(scratch, 'fresh', 'a.txt'), 'utf8'), 'x');
});
