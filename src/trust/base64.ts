/**
 * Standard base64 (RFC 4648 §4, with padding) for the workflow sandbox, where `Buffer` does not exist.
 * Decoding is strict: only the alphabet, correct padding, and zero bits after the last full byte, so
 * one byte string has exactly one accepted encoding.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

const DECODE_TABLE: Int16Array = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

export function encodeBase64(bytes: Uint8Array, options: { padding?: boolean } = {}): string {
  const padding = options.padding ?? true;
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + (padding ? '==' : '');
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + (padding ? '=' : '');
  }
  return out;
}

/**
 * Decodes padded base64 with no whitespace inside. Returns undefined for anything else (a character
 * outside the alphabet, a length that is not a multiple of 4, misplaced padding, non-zero spare bits):
 * callers say what the text was supposed to be.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length % 4 !== 0) return undefined;
  let pad = 0;
  if (text.endsWith('==')) pad = 2;
  else if (text.endsWith('=')) pad = 1;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const quad = [0, 0, 0, 0];
    for (let j = 0; j < 4; j++) {
      const code = text.charCodeAt(i + j);
      if (last && j >= 4 - pad) {
        if (code !== 61 /* = */) return undefined;
        continue;
      }
      const value = code < 128 ? DECODE_TABLE[code] : -1;
      if (value < 0) return undefined;
      quad[j] = value;
    }
    const n = (quad[0] << 18) | (quad[1] << 12) | (quad[2] << 6) | quad[3];
    out[o++] = n >> 16;
    if (!(last && pad === 2)) out[o++] = (n >> 8) & 255;
    else if ((n & 0xffff) !== 0) return undefined;
    if (!(last && pad >= 1)) out[o++] = n & 255;
    else if (pad === 1 && (n & 0xff) !== 0) return undefined;
  }
  return out;
}
