import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Finds Debian's Chromium for the browser tests. playwright-core drives it through executablePath, so no
 * browser build is ever downloaded: the distribution's package is the only source.
 */

const execFileAsync = promisify(execFile);

/** Where Debian's `chromium` package puts the browser; CHROMIUM_PATH overrides it. */
export const DEBIAN_CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet, isolated headless run inside a container (no sandbox: we run as root there). */
export const HEADLESS_CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
] as const;

export type ChromiumLookup =
  | { found: true; path: string; installedNow: boolean }
  | { found: false; reason: string };

export interface FindChromiumOptions {
  /** Install the Debian package when missing and running as root (default true). */
  install?: boolean;
  onProgress?: (line: string) => void;
}

const INSTALL_ADVICE =
  'Install Debian\'s Chromium (as root: apt-get install -y chromium) or set CHROMIUM_PATH=/path/to/chromium.';

/**
 * CHROMIUM_PATH, else /usr/bin/chromium, else (as root) `apt-get install -y chromium` non-interactively.
 * Never throws: a missing browser is a reason the caller turns into a skip with that message.
 */
export async function findOrInstallChromium(options: FindChromiumOptions = {}): Promise<ChromiumLookup> {
  const progress = options.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (await isExecutable(fromEnv)) return { found: true, path: fromEnv, installedNow: false };
    return { found: false, reason: `CHROMIUM_PATH=${fromEnv} is not an executable file. ${INSTALL_ADVICE}` };
  }
  if (await isExecutable(DEBIAN_CHROMIUM_PATH)) return { found: true, path: DEBIAN_CHROMIUM_PATH, installedNow: false };

  if (options.install === false) return { found: false, reason: `${DEBIAN_CHROMIUM_PATH} is missing. ${INSTALL_ADVICE}` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { found: false, reason: `${DEBIAN_CHROMIUM_PATH} is missing and installing it needs root. ${INSTALL_ADVICE}` };
  }
  try {
    await fs.access('/usr/bin/apt-get', fsConstants.X_OK);
  } catch {
    return { found: false, reason: `${DEBIAN_CHROMIUM_PATH} is missing and this system has no apt-get. ${INSTALL_ADVICE}` };
  }

  const started = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => execFileAsync('apt-get', args, { env, timeout: 15 * 60_000, maxBuffer: 64 << 20 });
  progress(`${DEBIAN_CHROMIUM_PATH} is missing: installing Debian's chromium package (apt-get install -y chromium)…`);
  try {
    await apt(['install', '-y', '--no-install-recommends', 'chromium']);
  } catch {
    // A fresh machine may have no package lists yet; refresh them once and try again.
    progress('  apt-get install failed; running apt-get update and trying again…');
    try {
      await apt(['update']);
      await apt(['install', '-y', '--no-install-recommends', 'chromium']);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const tail = (e.stderr ?? e.message).trim().split('\n').slice(-5).join('\n');
      return { found: false, reason: `apt-get install -y chromium failed:\n${tail}\n${INSTALL_ADVICE}` };
    }
  }
  if (!(await isExecutable(DEBIAN_CHROMIUM_PATH))) {
    return { found: false, reason: `apt-get installed chromium but ${DEBIAN_CHROMIUM_PATH} is still missing. ${INSTALL_ADVICE}` };
  }
  progress(`  installed ${DEBIAN_CHROMIUM_PATH} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { found: true, path: DEBIAN_CHROMIUM_PATH, installedNow: true };
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

if (require.main === module) {
  findOrInstallChromium().then(
    (r) => {
      process.stdout.write(r.found ? `${r.path}${r.installedNow ? ' (installed now)' : ''}\n` : `${r.reason}\n`);
      process.exit(r.found ? 0 : 1);
    },
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
