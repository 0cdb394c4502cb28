import { encodeBase64 } from './base64';
import { sha256 } from './hashes';

/**
 * The SSH wire encoding (RFC 4251 §5) and the public key blobs the verifier accepts. Workflow-safe:
 * no Node built-ins, no Buffer.
 */

/** The key types a signed decision may be made with. */
export const SUPPORTED_KEY_TYPES = ['ssh-ed25519', 'sk-ssh-ed25519@openssh.com'] as const;
export type SignerKeyType = (typeof SUPPORTED_KEY_TYPES)[number];

export function isSupportedKeyType(type: string): type is SignerKeyType {
  return (SUPPORTED_KEY_TYPES as readonly string[]).includes(type);
}

/** Thrown by SshReader when the bytes end early or a string is not what it claims to be. */
export class WireFormatError extends Error {}

/** Reads uint32s and length-prefixed strings from a byte array, never past its end. */
export class SshReader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  byte(): number {
    if (this.remaining < 1) throw new WireFormatError('ends early');
    return this.bytes[this.offset++];
  }

  uint32(): number {
    if (this.remaining < 4) throw new WireFormatError('ends early');
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
  }

  raw(length: number): Uint8Array {
    if (this.remaining < length) throw new WireFormatError('ends early');
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  string(): Uint8Array {
    return this.raw(this.uint32());
  }

  /**
   * A string that must be text: valid UTF-8 without NUL (OpenSSH's sshbuf_get_cstring refuses an
   * embedded NUL). Names read here are short protocol identifiers.
   */
  text(): string {
    const bytes = this.string();
    if (bytes.includes(0)) throw new WireFormatError('contains a NUL byte');
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new WireFormatError('is not UTF-8 text');
    }
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function encodeUint32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** string(bytes): uint32 length followed by the bytes. */
export function encodeString(value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  return concatBytes(encodeUint32(bytes.length), bytes);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface SignerPublicKey {
  type: SignerKeyType;
  /** The 32-byte ed25519 point. */
  ed25519: Uint8Array;
  /** sk keys: the FIDO application (relying party) the key was made for, e.g. "ssh:". */
  application?: string;
}

export type PublicKeyBlobParse =
  | { ok: true; key: SignerPublicKey }
  | { ok: false; problem: 'malformed'; detail: string }
  | { ok: false; problem: 'unsupported'; type: string };

/**
 * Parses a public key blob (the bytes inside the base64 of a `.pub` line, or the publickey field of an
 * SSHSIG): string(type) string(ed25519 point) [string(application) for sk keys], nothing after.
 */
export function parsePublicKeyBlob(blob: Uint8Array): PublicKeyBlobParse {
  const reader = new SshReader(blob);
  let type: string;
  try {
    type = reader.text();
  } catch (err) {
    return { ok: false, problem: 'malformed', detail: `its key type ${(err as Error).message}` };
  }
  if (!isSupportedKeyType(type)) return { ok: false, problem: 'unsupported', type };
  try {
    const ed25519 = reader.string();
    if (ed25519.length !== 32) {
      return { ok: false, problem: 'malformed', detail: `its ed25519 key is ${ed25519.length} bytes instead of 32` };
    }
    const key: SignerPublicKey = { type, ed25519 };
    if (type === 'sk-ssh-ed25519@openssh.com') key.application = reader.text();
    if (reader.remaining !== 0) return { ok: false, problem: 'malformed', detail: 'it has trailing bytes after the key' };
    return { ok: true, key };
  } catch (err) {
    return { ok: false, problem: 'malformed', detail: `it ${(err as Error).message}` };
  }
}

/** The OpenSSH SHA256 fingerprint of a key blob, as `ssh-keygen -lf` prints it: `SHA256:<base64, no padding>`. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${encodeBase64(sha256(blob), { padding: false })}`;
}

/**
 * A name read from untrusted bytes, made safe to put in a message: printable ASCII only (anything else
 * becomes "?") and at most `max` characters.
 */
export function sanitizeName(value: string, max = 40): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}
