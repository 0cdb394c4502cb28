import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { environmentName } from '../../src/names';
import { parseConfigSource } from '../../src/runtime-config';
import { ensureKeys, writeAllowedSigners } from '../../src/trust/keys';

/**
 * Prepares the world the example service `hello-service` is deployed into: a source repository with
 * one tagged commit per version, one database per environment and a runtime config file per
 * environment. Every step is idempotent: re-running changes nothing that already exists.
 */

const execFileAsync = promisify(execFile);

export const EXAMPLE_SERVICE = 'hello-service';
/** The example's people: alice and bob approve production, carol requests deploys. */
export const EXAMPLE_SIGNERS = ['alice', 'bob', 'carol'] as const;
export const EXAMPLE_VERSIONS = ['1.0.0', '1.1.0', '2.0.0'] as const;
export const EXAMPLE_VERSIONS_DIR = path.resolve(__dirname, '../../examples/hello-service/versions');

// Fixed identity and dates: the same tree, parent, identity and date give the same commit id on
// every machine, so builds of a tag are reproducible anywhere.
const RELEASE_DATES: Record<(typeof EXAMPLE_VERSIONS)[number], string> = {
  '1.0.0': '2024-01-15T10:00:00+0000',
  '1.1.0': '2024-02-12T10:00:00+0000',
  '2.0.0': '2024-03-11T10:00:00+0000',
};
const RELEASE_AUTHOR = { name: 'Hello Service Team', email: 'team@hello-service.example' };

export interface ExampleWorld {
  sourceRepo: string;
  configDir: string;
  databases: Record<'staging' | 'production' | 'fleet', string /* db name */>;
  envFiles: Record<'staging' | 'production' | 'fleet', string>;
  /** Demo signing keys (ed25519, mode 0600) by name: alice, bob, carol. */
  keys: Record<(typeof EXAMPLE_SIGNERS)[number], { privateKeyFile: string; publicKeyFile: string }>;
  /** The allowed_signers file listing their public keys (namespace deploy). */
  allowedSigners: string;
}

export interface PrepareExampleOptions {
  /** Where sources and config live, e.g. `.data` or a test's temp dir. */
  dataDir: string;
  /** A superuser connection, e.g. postgres://postgres@127.0.0.1:5432/postgres. */
  adminUrl: string;
  /** Database name prefix; databases are `<prefix>_<environment>`. Default `hello_service`. */
  dbPrefix?: string;
  /** Default `['staging', 'production', 'fleet']`. */
  environments?: string[];
  onProgress?: (message: string) => void;
  /** Where to write the allowed_signers file of the demo keys; default `<dataDir>/keys/allowed_signers`. */
  allowedSignersFile?: string;
}

export async function prepareExample(o: PrepareExampleOptions): Promise<ExampleWorld> {
  const progress = o.onProgress ?? (() => undefined);
  const dataDir = path.resolve(o.dataDir);
  const prefix = o.dbPrefix ?? 'hello_service';
  const environments = o.environments ?? ['staging', 'production', 'fleet'];
  const adminUrl = parseAdminUrl(o.adminUrl);
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) {
    throw new Error('dbPrefix must be lowercase letters, digits and _, starting with a letter or _ (e.g. hello_service)');
  }
  const databases: Record<string, string> = {};
  for (const env of environments) {
    const checked = environmentName.safeParse(env);
    if (!checked.success) throw new Error(`environments: "${env}" ${checked.error.issues[0]?.message ?? 'is not a valid name'}`);
    const db = `${prefix}_${env.replace(/-/g, '_')}`;
    if (db.length > 63) throw new Error(`dbPrefix: database name for ${env} would exceed PostgreSQL's 63 characters; use a shorter prefix`);
    databases[env] = db;
  }

  const sourceRepo = path.join(dataDir, 'sources', EXAMPLE_SERVICE);
  await prepareSourceRepo(sourceRepo, progress);

  await createDatabases(adminUrl, Object.values(databases), progress);

  const configDir = path.join(dataDir, 'config', EXAMPLE_SERVICE);
  await fs.mkdir(configDir, { recursive: true, mode: 0o700 });
  const envFiles: Record<string, string> = {};
  for (const env of environments) {
    envFiles[env] = path.join(configDir, `${env}.env`);
    const databaseUrl = new URL(adminUrl.href);
    databaseUrl.pathname = `/${databases[env]}`;
    await writeRuntimeConfig(envFiles[env]!, env, { DATABASE_URL: databaseUrl.href, GREETING: `Hello from ${env}` }, progress);
  }

  // Demo keys: created once, never committed; the allowed_signers file is what the spec trusts.
  const keyFiles = await ensureKeys(path.join(dataDir, 'keys'), EXAMPLE_SIGNERS);
  const allowedSigners = path.resolve(o.allowedSignersFile ?? path.join(dataDir, 'keys', 'allowed_signers'));
  await writeAllowedSigners(allowedSigners, keyFiles.map((k) => ({ principal: k.name, publicKeyLine: k.publicKeyLine })));
  const created = keyFiles.filter((k) => k.created).map((k) => k.name);
  progress(`signing keys in ${path.join(dataDir, 'keys')}${created.length ? ` (created ${created.join(', ')})` : ''}; allowed signers in ${allowedSigners}`);

  return {
    sourceRepo,
    configDir,
    databases: databases as ExampleWorld['databases'],
    envFiles: envFiles as ExampleWorld['envFiles'],
    keys: Object.fromEntries(keyFiles.map((k) => [k.name, { privateKeyFile: k.privateKeyFile, publicKeyFile: k.publicKeyFile }])) as ExampleWorld['keys'],
    allowedSigners,
  };
}

function parseAdminUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('adminUrl is not a valid URL; expected postgres://USER@HOST:PORT/postgres');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error('adminUrl must start with postgres:// (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  }
  return url;
}

// ---------- source repository ----------

interface GitContext {
  gitDir: string;
  home: string;
}

async function git(ctx: GitContext, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  // A clean environment: no system/global config, no inherited GIT_DIR, stable messages.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: ctx.home,
    GIT_CONFIG_NOSYSTEM: '1',
    LC_ALL: 'C',
    ...opts.env,
  };
  const argv = ['--git-dir', ctx.gitDir, '-c', 'core.autocrlf=false', '-c', 'commit.gpgSign=false', ...args];
  try {
    const { stdout } = await execFileAsync('git', argv, { cwd: opts.cwd ?? ctx.home, env, maxBuffer: 64 << 20 });
    return stdout.trim();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('git is not installed or not on PATH; install git and run setup again');
    throw new Error(`git ${args[0]} failed in ${path.dirname(ctx.gitDir)}: ${(e.stderr ?? e.message).trim()}`);
  }
}

async function tryGit(ctx: GitContext, args: string[]): Promise<string | null> {
  try {
    return await git(ctx, args);
  } catch {
    return null;
  }
}

async function prepareSourceRepo(repo: string, progress: (m: string) => void): Promise<void> {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'hello-service-source-'));
  try {
    const ctx: GitContext = { gitDir: path.join(repo, '.git'), home: path.join(scratch, 'home') };
    await fs.mkdir(ctx.home);
    await ensureRepository(repo, ctx);

    const vendored = await collectVendoredPackages();
    let parent: string | null = null;
    for (const version of EXAMPLE_VERSIONS) {
      const stage = path.join(scratch, 'stage', version);
      await stageVersionTree(version, stage, vendored);
      const indexEnv = { GIT_INDEX_FILE: path.join(scratch, `index-${version}`) };
      // --force: an ignore file shipped inside a vendored package must not drop files from the tree.
      await git(ctx, ['--work-tree', stage, 'add', '--all', '--force', '.'], { cwd: stage, env: indexEnv });
      const tree = await git(ctx, ['write-tree'], { env: indexEnv });

      const existing = await tryGit(ctx, ['rev-parse', '--verify', '--quiet', `refs/tags/${version}^{commit}`]);
      if (existing) {
        const taggedTree = await git(ctx, ['rev-parse', `${existing}^{tree}`]);
        if (taggedTree !== tree) {
          progress(
            `source repository: tag ${version} differs from examples/hello-service/versions/${version} ` +
              `(kept as is; delete ${repo} and run setup again to rebuild it)`,
          );
        }
        parent = existing;
        continue;
      }
      const identity = releaseIdentity(RELEASE_DATES[version]);
      const commit = await git(ctx, ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', `${EXAMPLE_SERVICE} ${version}`], {
        env: identity,
      });
      // The empty old value makes this create-only: a tag that appeared meanwhile is never moved.
      await git(ctx, ['update-ref', `refs/tags/${version}`, commit, '']);
      progress(`source repository: tagged ${version} at ${commit.slice(0, 12)}`);
      parent = commit;
    }

    // Give a fresh repository a checked-out branch so people can browse it; never move an existing one.
    if (!(await tryGit(ctx, ['rev-parse', '--verify', '--quiet', 'HEAD']))) {
      const last = EXAMPLE_VERSIONS[EXAMPLE_VERSIONS.length - 1];
      await git(ctx, ['--work-tree', repo, 'reset', '--quiet', '--hard', `refs/tags/${last}`], { cwd: repo });
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

function releaseIdentity(date: string): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: RELEASE_AUTHOR.name,
    GIT_AUTHOR_EMAIL: RELEASE_AUTHOR.email,
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: RELEASE_AUTHOR.name,
    GIT_COMMITTER_EMAIL: RELEASE_AUTHOR.email,
    GIT_COMMITTER_DATE: date,
  };
}

async function ensureRepository(repo: string, ctx: GitContext): Promise<void> {
  const entries = await fs.readdir(repo).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (entries && entries.includes('.git')) {
    if ((await tryGit(ctx, ['rev-parse', '--git-dir'])) === null) {
      throw new Error(`${repo}/.git is not a usable git repository; remove ${repo} and run setup again`);
    }
    return;
  }
  if (entries && entries.length > 0) {
    throw new Error(`${repo} exists but is not a git repository; move it away or remove it, then run setup again`);
  }
  await fs.mkdir(repo, { recursive: true });
  try {
    await execFileAsync('git', ['init', '--quiet', '--template=', '--initial-branch=main', repo], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: ctx.home, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' },
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('git is not installed or not on PATH; install git and run setup again');
    throw new Error(`git init failed in ${repo}: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** A package to vendor: where it is installed and where it goes under the release's node_modules. */
interface VendoredPackage {
  name: string;
  dir: string;
  /** Path relative to node_modules, e.g. `pg` or `pg/node_modules/pg-types` for a nested copy. */
  relative: string;
}

/**
 * `pg` and its runtime dependency tree as installed in this project, found the way Node would
 * resolve them (each dependency from the directory of the package that requires it).
 */
async function collectVendoredPackages(): Promise<VendoredPackage[]> {
  const rootDir = await resolvePackageDir('pg', __filename);
  const nodeModules = path.dirname(rootDir);
  const found = new Map<string, VendoredPackage>();
  const queue = [rootDir];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    if (found.has(dir)) continue;
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
    };
    const relative = path.relative(nodeModules, dir);
    if (relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new Error(`${manifest.name} is installed outside ${nodeModules}; run npm ci in the project so pg's dependencies sit beside it`);
    }
    found.set(dir, { name: manifest.name, dir, relative });
    for (const dep of Object.keys(manifest.dependencies ?? {}).sort()) {
      queue.push(await resolvePackageDir(dep, path.join(dir, 'package.json')));
    }
  }
  return [...found.values()].sort((a, b) => a.relative.localeCompare(b.relative));
}

async function resolvePackageDir(name: string, fromFile: string): Promise<string> {
  // resolve.paths gives Node's lookup directories; checking package.json directly avoids `exports` maps.
  for (const candidate of createRequire(fromFile).resolve.paths(name) ?? []) {
    const dir = path.join(candidate, name);
    try {
      await fs.access(path.join(dir, 'package.json'));
      return await fs.realpath(dir);
    } catch {
      // not in this node_modules; Node would look further up
    }
  }
  throw new Error(`package ${name} (needed by ${path.dirname(fromFile)}) is not installed; run npm ci in the project`);
}

/** The exact tree of one version: its source files plus the vendored packages. */
async function stageVersionTree(version: string, stage: string, vendored: VendoredPackage[]): Promise<void> {
  const source = path.join(EXAMPLE_VERSIONS_DIR, version);
  try {
    await fs.access(path.join(source, 'package.json'));
  } catch {
    throw new Error(`${source}/package.json is missing; the example versions must be complete source trees`);
  }
  // Build output and a local install are never part of the source.
  await copyTree(source, stage, (rel) => rel === 'dist' || rel === 'node_modules');
  // A package's own node_modules holds other packages, which are vendored on their own.
  const packageSkip = (rel: string) => /(^|\/)(node_modules|\.bin)$/.test(rel);
  for (const pkg of vendored) {
    await copyTree(pkg.dir, path.join(stage, 'node_modules', pkg.relative), packageSkip);
  }
}

/** Copies regular files only, with fixed modes, so the tree hashes the same on every machine. */
async function copyTree(from: string, to: string, skip: (relative: string) => boolean, relative = ''): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    const rel = relative ? `${relative}/${entry.name}` : entry.name;
    if (skip(rel)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) await copyTree(src, dst, skip, rel);
    else if (entry.isFile()) await fs.writeFile(dst, await fs.readFile(src), { mode: 0o644 });
  }
}

// ---------- databases ----------

async function createDatabases(adminUrl: URL, names: string[], progress: (m: string) => void): Promise<void> {
  const client = new Client({ connectionString: adminUrl.href, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'no error code';
    throw new Error(`cannot connect to PostgreSQL at ${adminUrl.host} with adminUrl (${code}); start PostgreSQL or fix adminUrl`);
  }
  try {
    for (const name of names) {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount) continue;
      try {
        // The name is checked against [a-z0-9_] above, so quoting it is enough.
        await client.query(`CREATE DATABASE "${name}"`);
        progress(`database ${name} created`);
      } catch (err) {
        // Another setup run created it between the check and the create.
        if ((err as { code?: string }).code !== '42P04') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

// ---------- runtime config ----------

const MANAGED_KEYS = ['DATABASE_URL', 'GREETING', 'HELLO_API_TOKEN'] as const;

/**
 * Writes `<env>.env` (mode 0600). DATABASE_URL and GREETING follow the setup; the planted secret
 * HELLO_API_TOKEN is generated once and kept; keys an operator added are kept after the managed ones.
 */
async function writeRuntimeConfig(
  file: string,
  env: string,
  values: { DATABASE_URL: string; GREETING: string },
  progress: (m: string) => void,
): Promise<void> {
  let current: Record<string, string> = {};
  let before: string | null = null;
  try {
    before = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (before !== null) {
    try {
      current = parseConfigSource(before, file);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n(fix these lines, or delete ${file} to have setup write it again with a new HELLO_API_TOKEN)`);
    }
  }
  const merged: Record<string, string> = {
    ...values,
    HELLO_API_TOKEN: current.HELLO_API_TOKEN || randomBytes(16).toString('hex'),
  };
  const lines = [
    `# Runtime configuration of ${EXAMPLE_SERVICE} in ${env}, KEY=VALUE (values literal, no quotes).`,
    '# Setup rewrites DATABASE_URL and GREETING, keeps HELLO_API_TOKEN (generated once) and any keys added below.',
    ...MANAGED_KEYS.map((k) => `${k}=${merged[k]}`),
    ...Object.entries(current)
      .filter(([k]) => !(MANAGED_KEYS as readonly string[]).includes(k))
      .map(([k, v]) => `${k}=${v}`),
  ];
  const text = `${lines.join('\n')}\n`;
  if (text !== before) {
    const temp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(temp, text, { mode: 0o600 });
    await fs.rename(temp, file);
    progress(`runtime config ${file} written (values not shown)`);
  }
  const mode = (await fs.stat(file)).mode & 0o777;
  if (mode !== 0o600) await fs.chmod(file, 0o600);
}

/** The runtime config format is the orchestrator's own (src/runtime-config.ts). */
export { readConfigSource as readEnvFile, parseConfigSource as parseEnvText } from '../../src/runtime-config';
