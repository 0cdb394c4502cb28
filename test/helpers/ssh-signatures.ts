import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';

/**
 * Test support for signed decisions: temp directories, `ssh-keygen -Y verify` as the reference verifier,
 * and SSH signatures of security keys built by hand (no FIDO hardware on the test machines).
 */

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with argv and optional stdin; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(command: string, args: string[], input?: string, env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What `ssh-keygen -Y verify` says about a signature: the reference the verifier must agree with. */
export async function sshKeygenAccepts(options: {
  dir: string;
  allowedSigners: string;
  principal: string;
  namespace: string;
  armored: string;
  statement: string;
}): Promise<boolean> {
  const work = await fs.mkdtemp(path.join(options.dir, 'verify-'));
  const signersFile = path.join(work, 'allowed_signers');
  const signatureFile = path.join(work, 'statement.sig');
  await fs.writeFile(signersFile, options.allowedSigners);
  await fs.writeFile(signatureFile, options.armored);
  const result = await run(
    'ssh-keygen',
    ['-Y', 'verify', '-f', signersFile, '-I', options.principal, '-n', options.namespace, '-s', signatureFile],
    options.statement,
  );
  await fs.rm(work, { recursive: true, force: true });
  return result.code === 0;
}

function sshString(value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Armors a blob the way ssh-keygen does: base64 in lines of 70 characters. */
export function armor(blob: Uint8Array): string {
  const base64 = Buffer.from(blob).toString('base64');
  const lines = base64.match(/.{1,70}/g) ?? [];
  return `-----BEGIN SSH SIGNATURE-----\n${lines.join('\n')}\n-----END SSH SIGNATURE-----\n`;
}

/** The blob inside an armored signature. */
export function dearmor(armored: string): Buffer {
  const body = armored.replace(/-----(BEGIN|END) SSH SIGNATURE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

export interface SyntheticSecurityKey {
  /** The public key line for allowed_signers / ssh-keygen -lf: `sk-ssh-ed25519@openssh.com AAAA…`. */
  publicKeyLine: string;
  sign(options: { statement: string; namespace: string; flags: number; counter?: number; hashAlgorithm?: 'sha256' | 'sha512'; signingApplication?: string }): string;
}

/**
 * An `sk-ssh-ed25519@openssh.com` key as a FIDO authenticator would hold it, signing as OpenSSH's
 * PROTOCOL.u2f describes: the authenticator signs sha256(application) · flags · counter · sha256(data),
 * and the SSH signature carries the flags and counter after the ed25519 signature.
 */
export function syntheticSecurityKey(seed: Uint8Array, application = 'ssh:'): SyntheticSecurityKey {
  const publicKey = ed25519.getPublicKey(seed);
  const keyType = 'sk-ssh-ed25519@openssh.com';
  const keyBlob = Buffer.concat([sshString(keyType), sshString(publicKey), sshString(application)]);
  return {
    publicKeyLine: `${keyType} ${keyBlob.toString('base64')}`,
    sign({ statement, namespace, flags, counter = 7, hashAlgorithm = 'sha512', signingApplication = application }) {
      const hash = hashAlgorithm === 'sha256' ? sha256 : sha512;
      const signedData = Buffer.concat([
        Buffer.from('SSHSIG'),
        sshString(namespace),
        sshString(''),
        sshString(hashAlgorithm),
        sshString(hash(Buffer.from(statement, 'utf8'))),
      ]);
      const authenticatorData = Buffer.concat([
        Buffer.from(sha256(Buffer.from(signingApplication, 'utf8'))),
        Buffer.from([flags]),
        uint32(counter),
        Buffer.from(sha256(signedData)),
      ]);
      const signature = ed25519.sign(authenticatorData, seed);
      const signatureBlob = Buffer.concat([sshString(keyType), sshString(signature), Buffer.from([flags]), uint32(counter)]);
      const blob = Buffer.concat([
        Buffer.from('SSHSIG'),
        uint32(1),
        sshString(keyBlob),
        sshString(namespace),
        sshString(''),
        sshString(hashAlgorithm),
        sshString(signatureBlob),
      ]);
      return armor(blob);
    },
  };
}

/** Rebuilds a signature blob with one field replaced, to make structurally valid but wrong signatures. */
export function rewriteSignatureBlob(
  armored: string,
  change: (fields: { version: number; publicKey: Buffer; namespace: Buffer; reserved: Buffer; hashAlgorithm: Buffer; signature: Buffer }) => void,
): string {
  const blob = dearmor(armored);
  let offset = 10;
  const next = () => {
    const length = blob.readUInt32BE(offset);
    const value = blob.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
    return Buffer.from(value);
  };
  const fields = { version: blob.readUInt32BE(6), publicKey: next(), namespace: next(), reserved: next(), hashAlgorithm: next(), signature: next() };
  change(fields);
  return armor(
    Buffer.concat([
      Buffer.from('SSHSIG'),
      uint32(fields.version),
      sshString(fields.publicKey),
      sshString(fields.namespace),
      sshString(fields.reserved),
      sshString(fields.hashAlgorithm),
      sshString(fields.signature),
    ]),
  );
}
