import type { AllowedSigner } from './allowed-signers';
import { decodeBase64 } from './base64';
import { ed25519Verify, sha256, sha512 } from './hashes';
import {
  bytesEqual,
  concatBytes,
  encodeString,
  encodeUint32,
  fingerprintOf,
  parsePublicKeyBlob,
  sanitizeName,
  SshReader,
  type SignerKeyType,
  type SignerPublicKey,
} from './ssh-wire';

/**
 * Verifier of armored SSH signatures (OpenSSH PROTOCOL.sshsig, as made by `ssh-keygen -Y sign`) over a
 * statement, against an allowed_signers list. Workflow-safe and pure: no Node built-ins, no Buffer, no
 * clock (the caller passes the verification time), so a replay reaches the same verdict.
 *
 * Blob (base64 between the armor lines):
 *   byte[6] "SSHSIG" · uint32 1 · string publickey · string namespace · string reserved · string hash_algorithm
 *   · string signature
 * Signed data:
 *   byte[6] "SSHSIG" · string namespace · string reserved · string hash_algorithm · string H(message)
 * Like ssh-keygen, the signed data is rebuilt with an empty `reserved`, whatever the blob carries.
 *
 * Signatures: `ssh-ed25519` (string "ssh-ed25519" · string sig[64]) and `sk-ssh-ed25519@openssh.com`
 * (string type · string sig[64] · byte flags · uint32 counter), whose ed25519 signature is over
 * sha256(application) · flags · counter · sha256(signed data) (OpenSSH PROTOCOL.u2f, ssh-ed25519-sk.c).
 *
 * Stricter than ssh-keygen -Y verify (each a deliberate choice):
 * - a security-key signature must carry the user-presence flag (someone touched the key); ssh-keygen -Y
 *   verify does not look at the flags at all;
 * - only ed25519 keys; only blob version 1; nothing but whitespace after the END line;
 * - ed25519 is checked per RFC 8032 strictly (canonical encodings, no small-order keys), which honest
 *   signers always satisfy.
 */

/** Far larger than an ed25519 signature (≈ 300 characters) and checked before any parsing. */
export const MAX_ARMORED_SIGNATURE_LENGTH = 8 * 1024;

const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
const MAGIC = new TextEncoder().encode('SSHSIG');
const SK_USER_PRESENT = 0x01;
const SK_USER_VERIFIED = 0x04;

export type VerifyFailureCode =
  | 'malformed'
  | 'too-large'
  | 'unsupported-version'
  | 'wrong-namespace'
  | 'unsupported-hash'
  | 'unsupported-key-type'
  | 'key-not-allowed'
  | 'principal-not-allowed'
  | 'namespace-not-allowed'
  | 'key-not-yet-valid'
  | 'key-expired'
  | 'bad-signature'
  | 'no-user-presence'
  | 'bad-input';

export interface VerifySignedStatementInput {
  /** The armored signature, `-----BEGIN SSH SIGNATURE-----` … `-----END SSH SIGNATURE-----`. */
  armored: unknown;
  /** The exact statement that was to be signed (see statement.ts); its UTF-8 bytes are the message. */
  statement: string;
  /** The namespace the signature must be made for: `deploy`. */
  namespace: string;
  /** Who claims to have signed: the key must be listed for this principal. */
  principal: string;
  signers: readonly AllowedSigner[];
  /** When to judge `valid-after`/`valid-before` (ms since the epoch); in a workflow, `Date.now()`. */
  verifyTimeMs: number;
}

export interface VerifiedSignature {
  ok: true;
  principal: string;
  keyType: SignerKeyType;
  /** `SHA256:…` of the signing key, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** The allowed_signers line that admitted the key. */
  line: number;
  hashAlgorithm: 'sha256' | 'sha512';
  /** Security keys only: what the authenticator reported. */
  securityKey?: { application: string; userVerified: boolean; counter: number };
}

export interface RefusedSignature {
  ok: false;
  code: VerifyFailureCode;
  /** One operator-facing sentence; names from the signature appear only sanitized and bounded. */
  reason: string;
}

export type VerifyResult = VerifiedSignature | RefusedSignature;

function refused(code: VerifyFailureCode, reason: string): RefusedSignature {
  return { ok: false, code, reason };
}

interface ParsedSignature {
  publicKeyBlob: Uint8Array;
  namespace: string;
  hashAlgorithm: string;
  signature: Uint8Array;
}

/**
 * Verifies that `armored` is an SSH signature over `statement` in `namespace`, made by a key that
 * `signers` lists for `principal` (and for that namespace, at `verifyTimeMs`). Never throws.
 */
export function verifySignedStatement(input: VerifySignedStatementInput): VerifyResult {
  const { armored, statement, namespace, principal, signers, verifyTimeMs } = input;
  if (typeof statement !== 'string' || typeof namespace !== 'string' || namespace === '' || typeof principal !== 'string') {
    return refused('bad-input', 'the verifier needs a statement, a namespace and a principal');
  }
  if (!Array.isArray(signers) || !Number.isFinite(verifyTimeMs)) {
    return refused('bad-input', 'the verifier needs the allowed signers and a verification time');
  }
  if (typeof armored !== 'string') return refused('malformed', 'the signature must be a string holding an armored SSH signature');
  if (armored.length > MAX_ARMORED_SIGNATURE_LENGTH) {
    return refused('too-large', `the signature is longer than ${MAX_ARMORED_SIGNATURE_LENGTH} characters; an SSH signature of an ed25519 key is about 300`);
  }

  const blob = dearmor(armored);
  if (typeof blob === 'string') return refused('malformed', blob);
  const parsed = parseBlob(blob);
  if (!('publicKeyBlob' in parsed)) return parsed;

  if (parsed.namespace !== namespace) {
    return refused('wrong-namespace', `the signature was made for namespace "${sanitizeName(parsed.namespace)}", not "${namespace}"; sign with ssh-keygen -Y sign -n ${namespace}`);
  }
  if (parsed.hashAlgorithm !== 'sha256' && parsed.hashAlgorithm !== 'sha512') {
    return refused('unsupported-hash', `the signature uses hash algorithm "${sanitizeName(parsed.hashAlgorithm)}"; only sha256 and sha512 are accepted`);
  }

  const keyParse = parsePublicKeyBlob(parsed.publicKeyBlob);
  if (!keyParse.ok) {
    if (keyParse.problem === 'unsupported') {
      return refused('unsupported-key-type', `the signature was made with a ${sanitizeName(keyParse.type)} key; deploy decisions must be signed with an ed25519 key (ssh-ed25519 or sk-ssh-ed25519@openssh.com)`);
    }
    return refused('malformed', `the signature's public key is damaged: ${keyParse.detail}`);
  }
  const key = keyParse.key;
  const fingerprint = fingerprintOf(parsed.publicKeyBlob);

  const admitted = admit(signers, parsed.publicKeyBlob, fingerprint, principal, namespace, verifyTimeMs);
  if (!('line' in admitted)) return admitted;

  const signedData = concatBytes(
    MAGIC,
    encodeString(namespace),
    encodeString(new Uint8Array(0)),
    encodeString(parsed.hashAlgorithm),
    encodeString((parsed.hashAlgorithm === 'sha256' ? sha256 : sha512)(new TextEncoder().encode(statement))),
  );
  const checked = checkKeySignature(key, parsed.signature, signedData);
  if (!checked.ok) return checked;

  const result: VerifiedSignature = {
    ok: true,
    principal,
    keyType: key.type,
    fingerprint,
    line: admitted.line,
    hashAlgorithm: parsed.hashAlgorithm,
  };
  if (checked.securityKey) result.securityKey = checked.securityKey;
  return result;
}

/** The blob between the armor lines, or why there is none. */
function dearmor(armored: string): Uint8Array | string {
  const text = armored.trim();
  if (!text.startsWith(BEGIN)) return 'the signature does not start with -----BEGIN SSH SIGNATURE-----';
  if (!text.endsWith(END)) return 'the signature does not end with -----END SSH SIGNATURE-----';
  const afterBegin = text.slice(BEGIN.length);
  if (!/^\r?\n/.test(afterBegin)) return 'the -----BEGIN SSH SIGNATURE----- line must be on a line of its own';
  const body = afterBegin.slice(0, afterBegin.length - END.length);
  if (!/\n$/.test(body)) return 'the -----END SSH SIGNATURE----- line must be on a line of its own';
  // base64 broken into lines (LF or CRLF; a paste may have turned line breaks into spaces)
  const base64 = body.replace(/[ \t\r\n]+/g, '');
  if (base64 === '') return 'the signature has no content between its armor lines';
  const blob = decodeBase64(base64);
  if (!blob) return 'the signature between the armor lines is not valid base64; it was damaged or truncated';
  return blob;
}

function parseBlob(blob: Uint8Array): ParsedSignature | RefusedSignature {
  const reader = new SshReader(blob);
  try {
    if (!bytesEqual(reader.raw(MAGIC.length), MAGIC)) return refused('malformed', 'the signature is not an SSH signature (its blob does not start with SSHSIG)');
    const version = reader.uint32();
    if (version !== 1) return refused('unsupported-version', `the signature has format version ${version}; this verifier reads version 1`);
    const publicKeyBlob = reader.string();
    const namespace = reader.text();
    reader.string(); // reserved: ignored, as PROTOCOL.sshsig says
    const hashAlgorithm = reader.text();
    const signature = reader.string();
    if (reader.remaining !== 0) return refused('malformed', 'the signature has trailing bytes after its last field');
    return { publicKeyBlob, namespace, hashAlgorithm, signature };
  } catch (err) {
    return refused('malformed', `the signature is damaged or truncated (a field ${(err as Error).message})`);
  }
}

/** The allowed_signers entry that lets this key sign for `principal` now, or why none does. */
function admit(
  signers: readonly AllowedSigner[],
  keyBlob: Uint8Array,
  fingerprint: string,
  principal: string,
  namespace: string,
  verifyTimeMs: number,
): { line: number } | RefusedSignature {
  const sameKey = signers.filter((s) => {
    const listed = decodeBase64(s.key);
    return listed !== undefined && bytesEqual(listed, keyBlob);
  });
  if (sameKey.length === 0) {
    return refused('key-not-allowed', `the signing key ${fingerprint} is not in the allowed signers; sign with the key listed for ${sanitizeName(principal)}, or add that key to the allowed_signers file`);
  }
  const forPrincipal = sameKey.filter((s) => s.principals.includes(principal));
  if (forPrincipal.length === 0) {
    const listedFor = [...new Set(sameKey.flatMap((s) => s.principals))].slice(0, 5).join(', ');
    return refused('principal-not-allowed', `the signing key ${fingerprint} is listed for ${listedFor}, not for ${sanitizeName(principal)}; ${sanitizeName(principal)} must sign with their own key`);
  }
  const inNamespace = forPrincipal.filter((s) => !s.namespaces || s.namespaces.includes(namespace));
  if (inNamespace.length === 0) {
    return refused('namespace-not-allowed', `the key ${fingerprint} of ${sanitizeName(principal)} is not allowed to sign in namespace "${namespace}" (allowed_signers line ${forPrincipal[0].line}: namespaces="${forPrincipal[0].namespaces?.join(',')}")`);
  }
  // OpenSSH compares whole seconds: valid through the second named by valid-before.
  const verifySecond = Math.floor(verifyTimeMs / 1000) * 1000;
  const current = inNamespace.find(
    (s) => (s.validAfterMs === undefined || verifySecond >= s.validAfterMs) && (s.validBeforeMs === undefined || verifySecond <= s.validBeforeMs),
  );
  if (current) return { line: current.line };
  const early = inNamespace.find((s) => s.validAfterMs !== undefined && verifySecond < s.validAfterMs);
  if (early) {
    return refused('key-not-yet-valid', `the key ${fingerprint} of ${sanitizeName(principal)} is valid only from ${new Date(early.validAfterMs!).toISOString()} (allowed_signers line ${early.line})`);
  }
  const expired = inNamespace[0];
  return refused('key-expired', `the key ${fingerprint} of ${sanitizeName(principal)} expired at ${new Date(expired.validBeforeMs!).toISOString()} (allowed_signers line ${expired.line})`);
}

type SignatureCheck =
  | { ok: true; securityKey?: { application: string; userVerified: boolean; counter: number } }
  | RefusedSignature;

const MISMATCH = 'the signature does not match this statement: it was made over different content (another deploy, run, version, stage or decision) or it was altered';

function checkKeySignature(key: SignerPublicKey, signatureBlob: Uint8Array, signedData: Uint8Array): SignatureCheck {
  const reader = new SshReader(signatureBlob);
  let type: string;
  let raw: Uint8Array;
  let flags = 0;
  let counter = 0;
  try {
    type = reader.text();
    raw = reader.string();
    if (key.type === 'sk-ssh-ed25519@openssh.com') {
      flags = reader.byte();
      counter = reader.uint32();
    }
    if (reader.remaining !== 0) return refused('malformed', 'the signature value has trailing bytes');
  } catch (err) {
    return refused('malformed', `the signature value is damaged or truncated (a field ${(err as Error).message})`);
  }
  if (type !== key.type) {
    return refused('malformed', `the signature value is of type "${sanitizeName(type)}" but the key is ${key.type}`);
  }
  if (raw.length !== 64) return refused('malformed', `the ed25519 signature is ${raw.length} bytes instead of 64`);

  if (key.type === 'ssh-ed25519') {
    return ed25519Verify(raw, signedData, key.ed25519) ? { ok: true } : refused('bad-signature', MISMATCH);
  }
  // FIDO: the authenticator signs sha256(application) · flags · counter · sha256(data)
  const application = key.application ?? '';
  const message = concatBytes(sha256(new TextEncoder().encode(application)), new Uint8Array([flags]), encodeUint32(counter), sha256(signedData));
  if (!ed25519Verify(raw, message, key.ed25519)) return refused('bad-signature', MISMATCH);
  if ((flags & SK_USER_PRESENT) === 0) {
    return refused('no-user-presence', 'the security key signed without user presence (nobody touched it); sign again and touch the key when it blinks');
  }
  return { ok: true, securityKey: { application, userVerified: (flags & SK_USER_VERIFIED) !== 0, counter } };
}
