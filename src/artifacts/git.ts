import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FailureType, refuse } from '../errors';
import { versionName, canonicalVersion } from '../names';

/**
 * An empty HOME shared by every git call of this process, so that neither the worker user's
 * ~/.gitconfig nor XDG config can change how revisions resolve or files check out.
 */
let isolatedHome: string | undefined;
function gitHome(): string {
  if (!isolatedHome) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-git-home-'));
    isolatedHome = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return isolatedHome;
}

function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const home = gitHome();
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    LANG: 'C',
    LC_ALL: 'C',
    ...extra,
  };
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

/** Runs git with an argv (never a shell) in `cwd`; resolves stdout, rejects with GitError on a non-zero exit. */
export function runGit(cwd: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env: gitEnv(extraEnv), maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && code === null) {
          return reject(new Error(`git is not installed or not on PATH (${err.message}); install git on the worker`));
        }
        reject(new GitError(`git ${args[0]} failed in ${cwd}: ${stderr.trim() || err.message}`, code, stderr));
      },
    );
  });
}

/** The repository's git directory (absolute); refuses a path that is not a git repository. */
export async function gitDirOf(repository: string): Promise<string> {
  const stat = await fs.stat(repository).catch(() => null);
  if (!stat?.isDirectory()) {
    throw refuse(
      FailureType.InvalidInput,
      `source repository ${repository} does not exist or is not a directory; set the spec's source repository to a git checkout or bare repository`,
    );
  }
  try {
    return (await runGit(repository, ['rev-parse', '--absolute-git-dir'])).trim();
  } catch (err) {
    if (err instanceof GitError) {
      throw refuse(
        FailureType.InvalidInput,
        `source repository ${repository} is not a git repository (${err.stderr.trim()}); point the spec's source repository at one`,
      );
    }
    throw err;
  }
}

/**
 * The identity of a source repository that the store records beside each artifact: the real path of its
 * git directory, so a checkout and its `.git`, or two spellings of one path, are the same source.
 */
export async function sourceIdentity(repository: string): Promise<string> {
  return fs.realpath(await gitDirOf(repository));
}

/** The full commit hash `rev` peels to, or null when it names no commit. */
async function peelToCommit(gitDir: string, rev: string): Promise<string | null> {
  try {
    const out = await runGit(gitDir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]);
    return out.trim() || null;
  } catch (err) {
    if (err instanceof GitError) return null;
    throw err;
  }
}

const COMMIT_HASH = /^[0-9a-f]{7,64}$/;

/**
 * Resolves a release version to a full commit hash: the tag named exactly `version`, then the tag
 * `v<version>`, then a commit hash of 7–40 hex digits. Branch names are never consulted: a version must
 * name one immutable revision.
 */
export async function resolveRevision(repository: string, version: string): Promise<string> {
  // Revision syntax (`1.0.0^`, `@{-1}`, `:path`) must not turn a version into some other commit.
  const checked = versionName.safeParse(version);
  if (!checked.success) {
    throw refuse(FailureType.InvalidInput, `version "${version}" ${checked.error.issues[0]?.message ?? 'is invalid'}`);
  }
  const gitDir = await gitDirOf(repository);
  const tried: string[] = [];
  // 1.2.3 and v1.2.3 name one release: either tag may carry it, but two tags that disagree are refused.
  const bare = canonicalVersion(version);
  const tags = /^[0-9]/.test(bare) ? [bare, `v${bare}`] : [version];
  const found: Array<{ tag: string; commit: string }> = [];
  for (const tag of tags) {
    tried.push(`tag ${tag}`);
    const commit = await peelToCommit(gitDir, `refs/tags/${tag}`);
    if (commit) found.push({ tag, commit });
  }
  if (found.length === 2 && found[0]!.commit !== found[1]!.commit) {
    throw refuse(
      FailureType.InvalidInput,
      `version ${bare} is ambiguous in repository ${repository}: tag ${found[0]!.tag} is commit ${found[0]!.commit} but tag ${found[1]!.tag} is commit ${found[1]!.commit}; delete one of the tags or deploy a commit hash`,
    );
  }
  if (found[0]) return found[0].commit;
  if (COMMIT_HASH.test(version) && version.length <= 40) {
    tried.push(`commit ${version}`);
    const commit = await peelToCommit(gitDir, version);
    if (commit && commit.startsWith(version)) return commit;
  } else {
    tried.push(`commit hash (not applicable: "${version}" is not 7–40 lowercase hex digits)`);
  }
  throw refuse(
    FailureType.InvalidInput,
    `version ${version} was not found in repository ${repository}: tried ${tried.join(', ')}. ` +
      `Tag the release commit (git -C ${repository} tag ${version} <commit>) or give a full or abbreviated commit hash.`,
    { version, repository, tried },
  );
}

/** The committer time of `commit` in seconds since the epoch, used as SOURCE_DATE_EPOCH and bundle mtime. */
export async function commitTime(repository: string, commit: string): Promise<number> {
  const gitDir = await gitDirOf(repository);
  const out = await runGit(gitDir, ['show', '-s', '--format=%ct', '--end-of-options', commit]);
  const seconds = Number.parseInt(out.trim(), 10);
  if (!Number.isFinite(seconds)) throw new Error(`git show gave no commit time for ${commit} in ${repository}`);
  return seconds;
}

/**
 * Writes the tree of `commit` into `destDir` (created, must not exist) through a private index file,
 * so the repository's own index and working tree are never read or changed: uncommitted edits cannot
 * reach a build. Unlike `git archive`, this ignores export-subst/export-ignore, so the build sees
 * exactly what is committed.
 */
export async function checkoutCommit(repository: string, commit: string, destDir: string, indexFile: string): Promise<void> {
  const gitDir = await gitDirOf(repository);
  await fs.mkdir(destDir, { recursive: false });
  const env = { GIT_INDEX_FILE: indexFile };
  await runGit(gitDir, ['--work-tree', destDir, 'read-tree', '--end-of-options', commit], env);
  await runGit(destDir, ['--git-dir', gitDir, '--work-tree', destDir, 'checkout-index', '--all', '--force'], env);
}
