import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { decodeBase64 } from './base64';
import { SIGNATURE_NAMESPACE } from './statement';

/**
 * Signs a statement with OpenSSH: `ssh-keygen -Y sign -n deploy -f <key>`, the statement on stdin, the
 * armored signature on stdout (checked with OpenSSH 9.2). Node side only (the CLI); the workflow verifies
 * with sshsig.ts. The key is a private key file, or a `.pub` whose private half is loaded in ssh-agent
 * (`SSH_AUTH_SOCK`), which is how passphrase-protected and most security keys are used.
 */

export type SigningErrorCode =
  | 'bad-input'
  | 'key-missing'
  | 'key-permissions'
  | 'key-encrypted'
  | 'agent-missing'
  | 'key-not-in-agent'
  | 'ssh-keygen-missing'
  | 'timeout'
  | 'failed';

export class SigningError extends Error {
  constructor(
    readonly code: SigningErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SigningError';
  }
}

export interface SignStatementOptions {
  /** The exact statement (statement.ts renders it). */
  statement: string;
  /** A private key file, or a `.pub` whose private key is loaded in ssh-agent. */
  keyFile: string;
  /** Default `deploy`. */
  namespace?: string;
  /** The ssh-keygen to run; default `ssh-keygen` from PATH. */
  sshKeygen?: string;
  /** The environment ssh-keygen runs with (SSH_AUTH_SOCK, PATH); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default 120 s: a security key waits for a touch. */
  timeoutMs?: number;
  /** ssh-keygen's messages as they come, e.g. "Confirm user presence for key …". */
  onMessage?: (line: string) => void;
  /** Whether a person at a terminal can type a passphrase; default: stdin is a TTY. */
  interactive?: boolean;
}

const MAX_STATEMENT_LENGTH = 64 * 1024;
const MAX_KEY_FILE_BYTES = 64 * 1024;
const MAX_OUTPUT_BYTES = 64 * 1024;
const INSTALL_ADVICE = 'install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)';

/** Returns the armored signature (`-----BEGIN SSH SIGNATURE-----` … `-----END SSH SIGNATURE-----\n`). */
export async function signStatement(options: SignStatementOptions): Promise<string> {
  const { statement, keyFile } = options;
  const namespace = options.namespace ?? SIGNATURE_NAMESPACE;
  const env = options.env ?? process.env;
  if (typeof statement !== 'string' || statement === '' || statement.length > MAX_STATEMENT_LENGTH) {
    throw new SigningError('bad-input', `the statement to sign must be non-empty text of at most ${MAX_STATEMENT_LENGTH} characters`);
  }
  if (!/^[a-z0-9][a-z0-9._@-]{0,63}$/.test(namespace)) {
    throw new SigningError('bad-input', 'the signature namespace must be lowercase letters, digits, . _ @ - (e.g. deploy)');
  }
  if (typeof keyFile !== 'string' || keyFile === '' || keyFile.includes('\0')) {
    throw new SigningError('bad-input', 'the key file must be a path, e.g. --key ~/.ssh/id_ed25519');
  }

  const key = await inspectKeyFile(keyFile);
  const args = ['-Y', 'sign', '-n', namespace, '-f', key.path];
  if (key.kind === 'public') {
    if (!env.SSH_AUTH_SOCK) {
      throw new SigningError(
        'agent-missing',
        `${keyFile} is a public key, so its private half must be loaded in ssh-agent, but SSH_AUTH_SOCK is not set. ` +
          `Start ssh-agent and run ssh-add <private key>, or pass the private key file instead.`,
      );
    }
    args.push('-U'); // the private key is in the agent: never fall back to a file next to the .pub
  } else if (key.encrypted && !env.SSH_AUTH_SOCK && !(options.interactive ?? process.stdin.isTTY === true)) {
    // With no terminal, ssh-keygen would read the passphrase from stdin, i.e. from the statement.
    throw new SigningError(
      'key-encrypted',
      `${keyFile} is protected by a passphrase and there is no terminal to ask for it. ` +
        `Load it into ssh-agent (ssh-add ${keyFile}) and pass ${keyFile}.pub, or sign from a terminal.`,
    );
  }
  return runSshKeygen(args, statement, keyFile, options, env);
}

interface KeyFileFacts {
  path: string;
  kind: 'private' | 'public';
  encrypted: boolean;
}

async function inspectKeyFile(keyFile: string): Promise<KeyFileFacts> {
  const resolved = path.resolve(keyFile);
  let stat;
  try {
    stat = await fs.stat(resolved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SigningError(
        'key-missing',
        `the key file ${keyFile} does not exist. Pass your private key (e.g. --key ~/.ssh/id_ed25519), ` +
          `or its .pub when the private key is loaded in ssh-agent.`,
      );
    }
    throw new SigningError('key-missing', `the key file ${keyFile} cannot be read (${(err as NodeJS.ErrnoException).code}); check the path and its permissions`);
  }
  if (!stat.isFile()) throw new SigningError('key-missing', `the key file ${keyFile} is not a regular file`);
  if (stat.size > MAX_KEY_FILE_BYTES) throw new SigningError('key-missing', `the key file ${keyFile} is too large to be an SSH key`);
  let text: string;
  try {
    text = await fs.readFile(resolved, 'utf8');
  } catch (err) {
    throw new SigningError('key-permissions', `the key file ${keyFile} cannot be read (${(err as NodeJS.ErrnoException).code}); check its owner and permissions`);
  }
  if (/^\s*(ssh|sk|ecdsa)-\S+\s+AAAA/.test(text)) return { path: resolved, kind: 'public', encrypted: false };
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new SigningError('key-missing', `${keyFile} is neither an SSH private key nor a public key (.pub); pass the file ssh-keygen created`);
  }
  // ssh-keygen refuses a private key that group or others may read (OpenSSH sshkey_perm_ok)
  if ((stat.mode & 0o077) !== 0 && (typeof process.getuid !== 'function' || stat.uid === process.getuid())) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new SigningError(
      'key-permissions',
      `the private key ${keyFile} may be read by other users (mode ${mode}), so ssh-keygen will not use it; run chmod 600 ${keyFile}`,
    );
  }
  return { path: resolved, kind: 'private', encrypted: isEncryptedOpensshKey(text) };
}

/** The openssh-key-v1 container names its cipher in clear: anything but "none" needs a passphrase. */
function isEncryptedOpensshKey(text: string): boolean {
  const match = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!match) return /ENCRYPTED/.test(text); // PEM: "Proc-Type: 4,ENCRYPTED" or "BEGIN ENCRYPTED PRIVATE KEY"
  const blob = decodeBase64(match[1].replace(/\s+/g, ''));
  const magic = 'openssh-key-v1\0';
  if (!blob || blob.length < magic.length + 4) return false;
  const at = magic.length;
  const length = ((blob[at] << 24) >>> 0) + (blob[at + 1] << 16) + (blob[at + 2] << 8) + blob[at + 3];
  const cipher = new TextDecoder().decode(blob.subarray(at + 4, at + 4 + length));
  return cipher !== 'none';
}

function runSshKeygen(args: string[], statement: string, keyFile: string, options: SignStatementOptions, env: NodeJS.ProcessEnv): Promise<string> {
  const command = options.sshKeygen ?? 'ssh-keygen';
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pendingLine = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      finish(() =>
        reject(new SigningError('timeout', `ssh-keygen did not finish signing within ${Math.round(timeoutMs / 1000)} s (a security key waits for a touch); try again`)),
      );
    }, timeoutMs);

    child.on('error', (err: NodeJS.ErrnoException) => {
      finish(() =>
        reject(
          err.code === 'ENOENT'
            ? new SigningError('ssh-keygen-missing', `${command} was not found; ${INSTALL_ADVICE}`)
            : new SigningError('failed', `could not run ${command}: ${err.message}`),
        ),
      );
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (stdout.length < MAX_OUTPUT_BYTES) stdout += chunk;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < MAX_OUTPUT_BYTES) stderr += chunk;
      const parts = (pendingLine + chunk).split('\n');
      pendingLine = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) options.onMessage?.(line.trim());
    });
    // ssh-keygen may exit before reading stdin (a bad key); its exit status tells why, not EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(statement, 'utf8');

    child.on('close', (code, signal) => {
      if (pendingLine.trim()) options.onMessage?.(pendingLine.trim());
      finish(() => {
        if (code === 0 && /^-----BEGIN SSH SIGNATURE-----\n[\s\S]+\n-----END SSH SIGNATURE-----\n?$/.test(stdout)) {
          resolve(stdout.endsWith('\n') ? stdout : `${stdout}\n`);
          return;
        }
        reject(explainFailure(code, signal, stderr, keyFile, command));
      });
    });
  });
}

function explainFailure(code: number | null, signal: NodeJS.Signals | null, stderr: string, keyFile: string, command: string): SigningError {
  const said = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Signing (data on standard input|file)/.test(l) && !/^@+$/.test(l));
  const last = said.slice(-3).join(' / ') || (signal ? `killed by ${signal}` : `exit status ${code}`);
  if (/Couldn't find key in agent/i.test(stderr)) {
    return new SigningError('key-not-in-agent', `the private key of ${keyFile} is not loaded in ssh-agent; run ssh-add <private key> (ssh-add -l lists what the agent holds)`);
  }
  if (/Couldn't get agent socket|agent.*(refused|No such file)/i.test(stderr)) {
    return new SigningError('agent-missing', `ssh-agent does not answer at SSH_AUTH_SOCK; start it (eval "$(ssh-agent)") and ssh-add your key`);
  }
  if (/UNPROTECTED PRIVATE KEY FILE|bad permissions/i.test(stderr)) {
    return new SigningError('key-permissions', `ssh-keygen refused ${keyFile} because other users may read it; run chmod 600 ${keyFile}`);
  }
  if (/incorrect passphrase|passphrase/i.test(stderr)) {
    return new SigningError('key-encrypted', `ssh-keygen could not unlock ${keyFile} (wrong or missing passphrase); load it into ssh-agent with ssh-add and pass ${keyFile}.pub`);
  }
  return new SigningError('failed', `${command} -Y sign failed for ${keyFile}: ${last}`);
}
