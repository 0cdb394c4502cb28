import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { formatAllowedSignerLine } from './allowed-signers';
import { SIGNATURE_NAMESPACE, SIGNER_NAME_PATTERN } from './statement';

/**
 * Demo and test keys for signed decisions (Node side, used by setup): ed25519 key pairs made by
 * ssh-keygen, and the allowed_signers file that lists them. Private keys stay on the machine that made them.
 */

const execFileAsync = promisify(execFile);

export interface SignerKeyFiles {
  name: string;
  /** `<dir>/<name>`, mode 0600, no passphrase. */
  privateKeyFile: string;
  /** `<dir>/<name>.pub`. */
  publicKeyFile: string;
  /** The content of the .pub file: `ssh-ed25519 AAAA… <name>`. */
  publicKeyLine: string;
  /** False when the key already existed. */
  created: boolean;
}

export interface EnsureKeysOptions {
  /** The ssh-keygen to run; default `ssh-keygen` from PATH. */
  sshKeygen?: string;
}

/**
 * Makes sure `<dir>/<name>` is an ed25519 key pair for each name (comment = name), creating only the
 * missing ones. Safe to run twice and concurrently: a key is generated in a private directory and linked
 * into place, so an existing key is never overwritten.
 */
export async function ensureKeys(dir: string, names: readonly string[], options: EnsureKeysOptions = {}): Promise<SignerKeyFiles[]> {
  for (const name of names) {
    if (typeof name !== 'string' || !SIGNER_NAME_PATTERN.test(name)) {
      throw new Error(`key name "${String(name).slice(0, 64)}" must be a login or email (letters, digits, . _ @ + -; max 64), as approvers are named`);
    }
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const keys: SignerKeyFiles[] = [];
  for (const name of names) keys.push(await ensureKey(dir, name, options.sshKeygen ?? 'ssh-keygen'));
  return keys;
}

async function ensureKey(dir: string, name: string, sshKeygen: string): Promise<SignerKeyFiles> {
  const privateKeyFile = path.join(dir, name);
  const publicKeyFile = `${privateKeyFile}.pub`;
  let created = false;
  if (!(await existingRegularFile(privateKeyFile))) {
    const staging = await fs.mkdtemp(path.join(dir, `.keygen-${name}-`));
    try {
      const staged = path.join(staging, 'key');
      await runKeygen(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', staged]);
      created = await linkIfAbsent(staged, privateKeyFile);
      if (created) await linkIfAbsent(`${staged}.pub`, publicKeyFile);
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }
  const mode = (await fs.stat(privateKeyFile)).mode & 0o777;
  if ((mode & 0o077) !== 0) await fs.chmod(privateKeyFile, 0o600); // ssh-keygen refuses a key others may read

  if (!(await existingRegularFile(publicKeyFile))) {
    // A key whose .pub went missing (or whose maker stopped between the two links): derive it.
    const { stdout } = await runKeygen(sshKeygen, ['-y', '-f', privateKeyFile]);
    const staging = await fs.mkdtemp(path.join(dir, `.pub-${name}-`));
    try {
      await fs.writeFile(path.join(staging, 'key.pub'), stdout.trim() + '\n', { mode: 0o644 });
      await linkIfAbsent(path.join(staging, 'key.pub'), publicKeyFile);
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }
  const publicKeyLine = (await fs.readFile(publicKeyFile, 'utf8')).trim();
  return { name, privateKeyFile, publicKeyFile, publicKeyLine, created };
}

async function existingRegularFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.lstat(file);
    if (!stat.isFile()) throw new Error(`${file} exists but is not a regular file (a symlink or directory); move it away so a key can be made there`);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Hard-links `from` to `to` unless `to` exists; true when this call put the file there. */
async function linkIfAbsent(from: string, to: string): Promise<boolean> {
  try {
    await fs.link(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function runKeygen(sshKeygen: string, args: string[]): Promise<{ stdout: string }> {
  try {
    return await execFileAsync(sshKeygen, args, { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${sshKeygen} was not found; install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)`);
    throw new Error(`${sshKeygen} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

export interface AllowedSignerEntry {
  principal: string;
  /** A public key line as in a .pub file: `ssh-ed25519 AAAA… [comment]`; the comment is not copied. */
  publicKeyLine: string;
}

export interface WriteAllowedSignersOptions {
  /** The namespaces each key may sign in; default `deploy`. */
  namespaces?: string[];
}

/**
 * Writes an allowed_signers file, one `alice namespaces="deploy" ssh-ed25519 AAAA…` line per entry,
 * atomically (a reader sees the old or the new file, never half of one). Returns the text written.
 */
export async function writeAllowedSigners(file: string, entries: readonly AllowedSignerEntry[], options: WriteAllowedSignersOptions = {}): Promise<string> {
  const namespaces = options.namespaces ?? [SIGNATURE_NAMESPACE];
  const lines = entries.map((entry, i) => {
    const match = /^\s*(\S+)\s+(\S+)(?:\s.*)?$/.exec(entry.publicKeyLine ?? '');
    if (!match) throw new Error(`allowed signer ${i + 1} (${entry.principal}): publicKeyLine must be "<key type> <base64 key> [comment]", the content of a .pub file`);
    try {
      return formatAllowedSignerLine({ principals: [entry.principal], namespaces, keyType: match[1], key: match[2] });
    } catch (err) {
      throw new Error(`allowed signer ${i + 1} (${String(entry.principal).slice(0, 64)}): ${(err as Error).message.replace(/^allowed_signers entry: /, '')}`);
    }
  });
  const text = `# Keys allowed to sign deploy decisions: <principal> namespaces="…" <key type> <public key>\n${lines.join('\n')}\n`;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const staging = `${file}.${randomUUID()}.tmp`;
  try {
    await fs.writeFile(staging, text, { mode: 0o644 });
    await fs.rename(staging, file);
  } finally {
    await fs.rm(staging, { force: true });
  }
  return text;
}
