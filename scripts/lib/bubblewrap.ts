import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { detectBuildSandbox } from '../../src/artifacts/build-sandbox';

/**
 * Builds run in a bubblewrap sandbox (src/artifacts/build-sandbox.ts). Installs Debian's bubblewrap when
 * it is missing and setup runs as root; then runs the sandbox once to prove it works here. Never throws.
 */

const execFileAsync = promisify(execFile);

export type SandboxLookup = { ok: true; kind: string; installedNow: boolean } | { ok: false; reason: string };

async function hasBwrap(): Promise<boolean> {
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin']) {
    if (await fs.access(`${dir}/bwrap`, fsConstants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export async function findOrInstallBubblewrap(onProgress: (line: string) => void): Promise<SandboxLookup> {
  let installedNow = false;
  if (!(await hasBwrap()) && typeof process.getuid === 'function' && process.getuid() === 0) {
    const apt = await fs.access('/usr/bin/apt-get', fsConstants.X_OK).then(() => true, () => false);
    if (apt) {
      onProgress("bubblewrap is missing: installing Debian's bubblewrap package (apt-get install -y bubblewrap)…");
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const install = () => execFileAsync('apt-get', ['install', '-y', '--no-install-recommends', 'bubblewrap'], { env, timeout: 15 * 60_000, maxBuffer: 64 << 20 });
      try {
        await install();
      } catch {
        onProgress('  apt-get install failed; running apt-get update and trying again…');
        try {
          await execFileAsync('apt-get', ['update'], { env, timeout: 15 * 60_000, maxBuffer: 64 << 20 });
          await install();
        } catch (err) {
          return { ok: false, reason: `apt-get install -y bubblewrap failed: ${(err as Error).message.split('\n').slice(-3).join(' ')}` };
        }
      }
      installedNow = true;
    }
  }
  try {
    const sandbox = await detectBuildSandbox();
    return { ok: true, kind: sandbox.kind, installedNow };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
