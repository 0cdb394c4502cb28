/**
 * SHA-256/512 and ed25519 from the audited pure-JS @noble libraries (no Node crypto in the workflow
 * sandbox). They are required on first use, not imported at load: the workflow sandbox instantiates every
 * module of the bundle once per cached workflow, and most deploys never verify a signature
 * (BENCHMARKS.md, "Worker memory").
 */
type Sha2 = typeof import('@noble/hashes/sha2.js');
type Ed25519 = typeof import('@noble/curves/ed25519.js');

let sha2: Sha2 | undefined;
let curve: Ed25519 | undefined;

function sha2Module(): Sha2 {
  return (sha2 ??= require('@noble/hashes/sha2.js') as Sha2);
}

export function sha256(data: Uint8Array): Uint8Array {
  return sha2Module().sha256(data);
}

export function sha512(data: Uint8Array): Uint8Array {
  return sha2Module().sha512(data);
}

/**
 * Strict RFC 8032 verification (`zip215: false`): canonical point and scalar encodings only, small-order
 * public keys refused. Honest ed25519 signers (OpenSSH, FIDO keys) always produce such signatures.
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  curve ??= require('@noble/curves/ed25519.js') as Ed25519;
  try {
    return curve.ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
