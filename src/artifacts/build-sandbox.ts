import { execFile } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { FailureType, refuse } from '../errors';

/**
 * Builds run a repository's code, so they run sandboxed: as an unprivileged user, in their own PID
 * namespace (they see only their own processes in /proc), with a file system of only the checkout
 * (read-write) and the toolchain (read-only). The worker's data directory (artifact store, config
 * sources, keys), its environment and every other process stay out of reach.
 *
 * - Worker is root: bubblewrap builds the mount and PID namespaces, then setpriv drops to uid/gid 65534
 *   with no groups and no capabilities before the build command runs.
 * - Worker is not root: bubblewrap in a user namespace maps the build to uid 65534.
 * - Neither possible: builds are refused, unless DEPLOY_UNSANDBOXED_BUILDS=1 (development only).
 */

/** The unprivileged user (nobody) builds run as. */
export const BUILD_UID = 65534;
export const BUILD_GID = 65534;

/** Opt-out for development machines without bubblewrap; off by default. */
export const UNSANDBOXED_BUILDS_ENV = 'DEPLOY_UNSANDBOXED_BUILDS';
/** Extra read-only paths (colon-separated, absolute) a build's toolchain needs, e.g. /opt/toolchains. */
export const SANDBOX_PATHS_ENV = 'DEPLOY_BUILD_SANDBOX_PATHS';

/** Where the checkout, the build's HOME and its temp directory appear inside the sandbox. */
export const SANDBOX_CHECKOUT = '/build/src';
export const SANDBOX_HOME = '/build/home';
export const SANDBOX_TMP = '/tmp';

const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const TOOLCHAIN_ROOTS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Enough of /etc for name lookups, TLS and the dynamic linker; no shadow, no ssh keys, no app config. */
const ETC_FILES = [
  '/etc/passwd',
  '/etc/group',
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/services',
  '/etc/protocols',
  '/etc/localtime',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/alternatives',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/os-release',
];

export type BuildSandbox =
  | { kind: 'root'; bwrap: string; setpriv: string }
  | { kind: 'userns'; bwrap: string }
  | { kind: 'unsandboxed' };

/** The scratch directories of one build, on the host. */
export interface BuildScratch {
  checkout: string;
  home: string;
  tmp: string;
}

async function executable(file: string): Promise<boolean> {
  return fs.access(file, fsConstants.X_OK).then(
    () => true,
    () => false,
  );
}

async function findOnPath(name: string, dirs: string[]): Promise<string | null> {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (await executable(file)) return file;
  }
  return null;
}

/** The PATH a build sees: the system directories plus the worker's node (the example build is `node build.js`). */
export function sandboxPath(): string {
  const nodeDir = path.dirname(process.execPath);
  return [...new Set([...SYSTEM_PATH, nodeDir])].join(':');
}

function extraReadOnlyPaths(): string[] {
  const raw = process.env[SANDBOX_PATHS_ENV] ?? '';
  const paths = raw.split(':').filter(Boolean);
  for (const p of paths) {
    if (!path.isAbsolute(p) || path.normalize(p) !== p || p === '/') {
      throw refuse(
        FailureType.InvalidInput,
        `${SANDBOX_PATHS_ENV} entry "${p}" must be a normalised absolute path other than /; list toolchain directories such as /opt/go, separated by ":"`,
      );
    }
  }
  // The node that runs the worker, when it lives outside /usr (e.g. /opt/node/bin/node): its install prefix.
  const nodePrefix = path.dirname(path.dirname(process.execPath));
  if (!TOOLCHAIN_ROOTS.some((root) => nodePrefix === root || nodePrefix.startsWith(`${root}/`)) && nodePrefix !== '/') paths.push(nodePrefix);
  return [...new Set(paths)];
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The bubblewrap (and setpriv) command line that runs `argv` in the sandbox, with the checkout as cwd. */
export async function sandboxArgv(sandbox: Exclude<BuildSandbox, { kind: 'unsandboxed' }>, scratch: BuildScratch, argv: string[]): Promise<string[]> {
  const args = [sandbox.bwrap, '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session'];
  if (sandbox.kind === 'userns') args.push('--unshare-user', '--uid', String(BUILD_UID), '--gid', String(BUILD_GID));
  // bubblewrap creates missing parents of a mount point as 0700 root: the build user could not pass them.
  const made = new Set<string>(['/']);
  const parents = (dest: string) => {
    const missing: string[] = [];
    for (let dir = path.dirname(dest); !made.has(dir); dir = path.dirname(dir)) missing.unshift(dir);
    for (const dir of missing) {
      args.push('--perms', '0755', '--dir', dir);
      made.add(dir);
    }
  };
  const bind = (option: string, source: string, dest: string) => {
    parents(dest);
    args.push(option, source, dest);
  };
  for (const root of TOOLCHAIN_ROOTS) {
    const st = await fs.lstat(root).catch(() => null);
    if (!st) continue;
    if (st.isSymbolicLink()) args.push('--symlink', await fs.readlink(root), root);
    else if (st.isDirectory()) args.push('--ro-bind', root, root);
  }
  for (const file of ETC_FILES) bind('--ro-bind-try', file, file);
  for (const extra of extraReadOnlyPaths()) bind('--ro-bind-try', extra, extra);
  args.push('--proc', '/proc', '--dev', '/dev');
  bind('--bind', scratch.tmp, SANDBOX_TMP);
  bind('--bind', scratch.home, SANDBOX_HOME);
  bind('--bind', scratch.checkout, SANDBOX_CHECKOUT);
  args.push('--chdir', SANDBOX_CHECKOUT, '--');
  if (sandbox.kind === 'root') {
    args.push(
      sandbox.setpriv,
      `--reuid=${BUILD_UID}`,
      `--regid=${BUILD_GID}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
    );
  }
  args.push(...argv);
  // The outer bubblewrap dies with the worker (and takes the sandbox with it through --die-with-parent).
  const setpriv = sandbox.kind === 'root' ? sandbox.setpriv : await findOnPath('setpriv', SYSTEM_PATH);
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...args] : args;
}

/** Makes the scratch directories the build user's own (root mode): it writes the checkout, nothing else. */
export async function handScratchToBuildUser(sandbox: BuildSandbox, scratch: BuildScratch): Promise<void> {
  if (sandbox.kind !== 'root') return;
  const chownTree = async (dir: string): Promise<void> => {
    await fs.lchown(dir, BUILD_UID, BUILD_GID);
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await chownTree(full);
      else await fs.lchown(full, BUILD_UID, BUILD_GID);
    }
  };
  for (const dir of [scratch.checkout, scratch.home, scratch.tmp]) await chownTree(dir);
}

function run(file: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: SYSTEM_PATH.join(':') }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, output: `${stdout}${stderr}`.trim() || (err?.message ?? '') }),
    );
  });
}

const HOW_TO_FIX =
  `Install bubblewrap (Debian: apt-get install -y bubblewrap; \`npm run setup\` does this as root) and, for a worker running as root, ` +
  `util-linux's setpriv; a worker not running as root needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1). ` +
  `For development only, ${UNSANDBOXED_BUILDS_ENV}=1 runs builds without the sandbox, with the worker's user and file access.`;

let detected: Promise<BuildSandbox> | undefined;

/**
 * The sandbox this worker runs builds in, probed once (a real sandboxed `true`). Refuses, naming the
 * fix, when no sandbox works and the development opt-out is not set.
 */
export function detectBuildSandbox(): Promise<BuildSandbox> {
  if (process.env[UNSANDBOXED_BUILDS_ENV] === '1') return Promise.resolve({ kind: 'unsandboxed' });
  detected ??= probe().catch((err: unknown) => {
    detected = undefined;
    throw err;
  });
  return detected;
}

async function probe(): Promise<BuildSandbox> {
  const bwrap = await findOnPath('bwrap', SYSTEM_PATH);
  if (!bwrap) throw refuse(FailureType.BuildFailed, `builds run sandboxed, but bubblewrap (bwrap) was not found in ${SYSTEM_PATH.join(', ')}. ${HOW_TO_FIX}`);
  let sandbox: Exclude<BuildSandbox, { kind: 'unsandboxed' }>;
  if (isRoot()) {
    const setpriv = await findOnPath('setpriv', SYSTEM_PATH);
    if (!setpriv) throw refuse(FailureType.BuildFailed, `builds run sandboxed as uid ${BUILD_UID}, but setpriv (util-linux) was not found. ${HOW_TO_FIX}`);
    sandbox = { kind: 'root', bwrap, setpriv };
  } else {
    sandbox = { kind: 'userns', bwrap };
  }
  const probeDir = await fs.mkdtemp(path.join(process.env.TMPDIR || '/tmp', 'deploy-sandbox-probe-'));
  try {
    const scratch = { checkout: path.join(probeDir, 'src'), home: path.join(probeDir, 'home'), tmp: path.join(probeDir, 'tmp') };
    await Promise.all(Object.values(scratch).map((d) => fs.mkdir(d)));
    await handScratchToBuildUser(sandbox, scratch);
    const [file, ...args] = await sandboxArgv(sandbox, scratch, ['/bin/sh', '-c', 'test "$(id -u)" = "$1" && touch ./probe', 'probe', String(BUILD_UID)]);
    const result = await run(file!, args);
    const wrote = await fs.stat(path.join(scratch.checkout, 'probe')).then(() => true, () => false);
    if (!result.ok || !wrote) {
      throw refuse(FailureType.BuildFailed, `builds run sandboxed, but a test run of the sandbox (${sandbox.kind === 'root' ? 'bubblewrap + setpriv' : 'bubblewrap in a user namespace'}) failed: ${result.output || 'no output'}. ${HOW_TO_FIX}`);
    }
    return sandbox;
  } finally {
    await fs.rm(probeDir, { recursive: true, force: true });
  }
}

/**
 * Resolves the build command's program the way the sandbox will (on its PATH, or relative to the
 * checkout), so a missing tool is refused by name before anything runs.
 */
export async function findBuildProgram(command: string, checkout: string): Promise<string | null> {
  if (command.includes('/')) {
    const onHost = path.isAbsolute(command) ? command : path.join(checkout, command);
    return (await executable(onHost)) ? command : null;
  }
  return findOnPath(command, sandboxPath().split(':'));
}
