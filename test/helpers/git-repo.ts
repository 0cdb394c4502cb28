import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A file's content, content plus mode (e.g. 0o755 for a script), or a symlink to `symlink`. */
export type RepoFile = string | { content: string; mode?: number } | { symlink: string };

/** One commit of a test repository; `tag` (if given) is created on it. */
export interface RepoCommit {
  tag?: string;
  message?: string;
  files?: Record<string, RepoFile>;
  remove?: string[];
}

export interface GitRepo {
  /** The repository's working tree. */
  dir: string;
  /** Full commit hash by tag name and by version (the tag without a leading "v"). */
  commits: Record<string, string>;
  /** Runs git in the repository with the same isolated environment. */
  git(...args: string[]): Promise<string>;
  /** Writes files into the working tree without committing them. */
  write(files: Record<string, RepoFile>): Promise<void>;
  /** Adds one more commit (and its tag); returns the commit hash. */
  commit(c: RepoCommit): Promise<string>;
  remove(): Promise<void>;
}

function run(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env }, (err, stdout, stderr) =>
      err ? reject(new Error(`git ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

/**
 * Creates a real git repository in a temp dir with the given commits. Author, committer and dates are
 * fixed per commit, so commit hashes are the same on every run and machine.
 */
export async function createGitRepo(commits: RepoCommit[], prefix = 'git-repo-'): Promise<GitRepo> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const dir = path.join(root, 'repo');
  const home = path.join(root, 'home');
  await Promise.all([fs.mkdir(dir), fs.mkdir(home)]);
  let clock = 1_700_000_000;
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    LANG: 'C',
    GIT_AUTHOR_NAME: 'Test Author',
    GIT_AUTHOR_EMAIL: 'author@example.com',
    GIT_COMMITTER_NAME: 'Test Author',
    GIT_COMMITTER_EMAIL: 'author@example.com',
  };
  const git = (...args: string[]) => run(dir, args, baseEnv);
  const tags: Record<string, string> = {};

  const write = async (files: Record<string, RepoFile>) => {
    for (const [rel, file] of Object.entries(files)) {
      const abs = path.join(dir, rel);
      await fs.mkdir(path.dirname(abs), { recursive: true });
      if (typeof file !== 'string' && 'symlink' in file) {
        await fs.rm(abs, { force: true });
        await fs.symlink(file.symlink, abs);
        continue;
      }
      const { content, mode } = typeof file === 'string' ? { content: file, mode: 0o644 } : { mode: 0o644, ...file };
      await fs.writeFile(abs, content);
      await fs.chmod(abs, mode);
    }
  };

  const commit = async (c: RepoCommit): Promise<string> => {
    await write(c.files ?? {});
    for (const rel of c.remove ?? []) await git('rm', '-q', '-r', '--', rel);
    await git('add', '-A');
    clock += 3600;
    const date = `${clock} +0000`;
    await run(dir, ['commit', '-q', '--allow-empty', '-m', c.message ?? c.tag ?? 'change'], {
      ...baseEnv,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    });
    const hash = (await git('rev-parse', 'HEAD')).trim();
    if (c.tag) {
      await git('tag', '--', c.tag, hash);
      tags[c.tag.replace(/^v/, '')] = hash;
      tags[c.tag] = hash;
    }
    return hash;
  };

  await git('init', '-q', '-b', 'main');
  for (const c of commits) await commit(c);
  return { dir, commits: tags, git, write, commit, remove: () => fs.rm(root, { recursive: true, force: true }) };
}

/** A build script that copies src/ into dist/ and records the build environment it was given. */
export const NODE_BUILD_SCRIPT = `
const fs = require('node:fs');
const path = require('node:path');
fs.rmSync('dist', { recursive: true, force: true });
fs.mkdirSync('dist/lib', { recursive: true });
for (const name of fs.readdirSync('src')) fs.copyFileSync(path.join('src', name), path.join('dist/lib', name));
const seen = {};
for (const key of Object.keys(process.env).sort()) if (key !== 'PWD' && key !== 'SHLVL' && key !== '_') seen[key] = key.startsWith('DEPLOY_') || key === 'SOURCE_DATE_EPOCH' ? process.env[key] : 'set';
fs.writeFileSync('dist/build-env.json', JSON.stringify(seen, null, 2) + '\\n');
fs.writeFileSync('dist/start.sh', '#!/bin/sh\\nexec node lib/server.js\\n', { mode: 0o755 });
if (process.env.BUILD_SHOULD_FAIL || fs.existsSync('FAIL')) { console.error('compile error: src/server.js line 1'); process.exit(3); }
console.log('built ' + fs.readdirSync('dist/lib').length + ' files');
`;

/**
 * A service repository with tags `1.0.0` and `v1.1.0`: `node build.js` writes dist/, and
 * `migrations/` gains an expand migration in 1.1.0.
 */
export function createServiceRepo(): Promise<GitRepo> {
  return createGitRepo(
    [
      {
        tag: '1.0.0',
        files: {
          'build.js': NODE_BUILD_SCRIPT,
          'src/server.js': "console.log('hello 1.0.0');\n",
          'migrations/001_create_greetings.sql': '-- phase: expand\nCREATE TABLE greetings (id serial PRIMARY KEY, text text NOT NULL);\n',
          'README.md': 'hello service\n',
        },
      },
      {
        tag: 'v1.1.0',
        files: {
          'src/server.js': "console.log('hello 1.1.0');\n",
          'migrations/002_add_greeting_locale.sql': '-- phase: expand\nALTER TABLE greetings ADD COLUMN locale text;\n',
        },
      },
    ],
    'service-repo-',
  );
}
