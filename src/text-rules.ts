/**
 * The rules for people's names and free text, as plain patterns and messages without zod, so that workflow
 * code can check signal and update payloads without bundling zod (src/workflows/payloads.ts). The zod
 * schemas in src/names.ts are built from the same constants.
 */

/** A person named in approvals and requests: a login or an email, never free text. */
export const PERSON_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;
export const PERSON_NAME_MESSAGE = 'must be a login or email (letters, digits, . _ @ + -; max 64)';

/**
 * Characters free text may not hold: C0 and C1 controls (ESC sequences, OSC 52 clipboard writes), bidi
 * overrides and isolates (text that displays differently from what it says) and zero-width characters (two
 * comments that look the same but differ). Tab and newline stay allowed.
 */
export const UNSAFE_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;
export const UNSAFE_TEXT_MESSAGE = 'must not contain control, bidi or zero-width characters';

export const FREE_TEXT_MAX_CHARS = 500;
export const FREE_TEXT_TOO_LONG = `must be at most ${FREE_TEXT_MAX_CHARS} characters`;

/** An armored SSH signature; checked by the verifier, bounded before it so a huge one never reaches it. */
export const SIGNATURE_MAX_CHARS = 8192;
export const SIGNATURE_TOO_LONG = `must be an armored SSH signature (at most ${SIGNATURE_MAX_CHARS} characters)`;
