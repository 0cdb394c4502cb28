import { decodeBase64 } from './base64';
import { fingerprintOf, isSupportedKeyType, parsePublicKeyBlob, sanitizeName, type SignerKeyType } from './ssh-wire';
import { SIGNER_NAME_PATTERN } from './statement';

/**
 * Parser of OpenSSH `allowed_signers` files (ssh-keygen(1), "ALLOWED SIGNERS"), the list of approver keys
 * a spec names. Workflow-safe and pure: the caller reads the file.
 *
 *   # comment
 *   alice,alice@example.com namespaces="deploy" ssh-ed25519 AAAAC3Nz… optional comment
 *   bob valid-after="20260101Z",valid-before="20270101Z" sk-ssh-ed25519@openssh.com AAAAGnNr…
 *
 * Deliberately narrower than ssh-keygen, so that a file means the same thing to every reader:
 * - principals are exact names (a login or an email, as `by` in a signal); the wildcard patterns
 *   ssh-keygen allows (`*`, `?`, `!`) are refused, because an approver is a person named in the file;
 * - `namespaces="…"` lists exact namespaces, without patterns, for the same reason;
 * - `valid-after`/`valid-before` must be UTC (a trailing `Z` or `UTC`): ssh-keygen reads a time without
 *   a zone in the verifying machine's local time, which would make a verdict depend on the worker's TZ;
 * - `cert-authority` is refused: approvals are made with each approver's own key;
 * - only ed25519 keys (`ssh-ed25519`, `sk-ssh-ed25519@openssh.com`) are accepted;
 * - every line must be valid, whereas ssh-keygen only notices a bad line when it reaches it.
 */

export interface AllowedSigner {
  /** The line of the file (1-based), for messages and audit. */
  line: number;
  principals: string[];
  /** The namespaces the key may sign in; undefined when the line has no `namespaces=` (any namespace). */
  namespaces?: string[];
  /** `valid-after`, in milliseconds since the epoch (whole seconds, as OpenSSH keeps it). */
  validAfterMs?: number;
  /** `valid-before`, in milliseconds since the epoch. */
  validBeforeMs?: number;
  keyType: SignerKeyType;
  /** The public key blob in base64, as on the line: plain JSON, so the entry can travel in workflow history. */
  key: string;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

export interface AllowedSignersProblem {
  line: number;
  message: string;
}

/** A file that cannot be used as it is; `message` lists every bad line as `<source>:<line>: <problem>`. */
export class AllowedSignersError extends Error {
  constructor(
    readonly source: string,
    readonly problems: AllowedSignersProblem[],
  ) {
    const shown = problems.slice(0, 20).map((p) => (p.line > 0 ? `${source}:${p.line}: ${p.message}` : `${source}: ${p.message}`));
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more problems`);
    super(shown.join('\n'));
    this.name = 'AllowedSignersError';
  }
}

/** Bigger than any list of approvers; bounds the work a corrupt or hostile file can cause. */
export const MAX_ALLOWED_SIGNERS_BYTES = 1024 * 1024;

/** Key type names OpenSSH knows: recognised so that an unsupported one is named as such, not as an unknown option. */
const KNOWN_KEY_TYPES = new Set([
  'ssh-ed25519',
  'sk-ssh-ed25519@openssh.com',
  'ssh-rsa',
  'ssh-dss',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-xmss@openssh.com',
]);

const SUPPORTED_TYPES_ADVICE = 'use an ed25519 key (ssh-keygen -t ed25519, or -t ed25519-sk for a FIDO security key)';
const WILDCARD = /[*?!]/;

/**
 * Parses the text of an allowed_signers file. Throws AllowedSignersError naming every bad line; key
 * material is never quoted in a message, only its type.
 */
export function parseAllowedSigners(text: string, options: { source?: string } = {}): AllowedSigner[] {
  const source = options.source ?? 'allowed_signers';
  if (typeof text !== 'string') throw new AllowedSignersError(source, [{ line: 0, message: 'is not text' }]);
  if (text.length > MAX_ALLOWED_SIGNERS_BYTES) {
    throw new AllowedSignersError(source, [
      { line: 0, message: `is larger than ${MAX_ALLOWED_SIGNERS_BYTES} bytes; an allowed_signers file lists keys, one per line` },
    ]);
  }
  const signers: AllowedSigner[] = [];
  const problems: AllowedSignersProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const parsed = parseLine(lines[i], i + 1);
    if (parsed === undefined) continue;
    if (typeof parsed === 'string') problems.push({ line: i + 1, message: parsed });
    else signers.push(parsed);
  }
  if (problems.length > 0) throw new AllowedSignersError(source, problems);
  return signers;
}

/** One line of an allowed_signers file: `alice namespaces="deploy" ssh-ed25519 AAAA…`. Validates what it writes. */
export function formatAllowedSignerLine(entry: { principals: string[]; namespaces?: string[]; keyType: string; key: string }): string {
  const options = entry.namespaces ? ` namespaces="${entry.namespaces.join(',')}"` : '';
  const line = `${entry.principals.join(',')}${options} ${entry.keyType} ${entry.key}`;
  const parsed = parseLine(line, 1);
  if (parsed === undefined || typeof parsed === 'string') {
    throw new AllowedSignersError('allowed_signers entry', [{ line: 0, message: parsed ?? 'is empty' }]);
  }
  return line;
}

/** undefined for a blank or comment line, a string for a problem, the entry otherwise. */
function parseLine(raw: string, line: number): AllowedSigner | string | undefined {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(text)) return 'contains a control character; each entry is one line of text';
  const rest0 = text.replace(/^[ \t]+/, '');
  if (rest0 === '' || rest0.startsWith('#')) return undefined;

  // principals: one token, optionally in double quotes
  let principalsText: string;
  let rest: string;
  if (rest0.startsWith('"')) {
    const end = rest0.indexOf('"', 1);
    if (end < 0) return 'the quoted principals have no closing quote';
    principalsText = rest0.slice(1, end);
    rest = rest0.slice(end + 1);
  } else {
    principalsText = /^[^ \t]+/.exec(rest0)![0];
    rest = rest0.slice(principalsText.length);
  }
  if (!/^[ \t]/.test(rest)) {
    return rest === '' ? 'has principals but no key; write "<principal> [options] <key type> <base64 key>"' : 'the principals must be followed by a space';
  }
  const principals = parsePrincipals(principalsText);
  if (typeof principals === 'string') return principals;
  rest = rest.replace(/^[ \t]+/, '');

  // options, when the next word is not a key type
  let optionsText = '';
  const firstWord = /^[^ \t]*/.exec(rest)![0];
  const looksLikeKeyType = KNOWN_KEY_TYPES.has(firstWord) || firstWord.endsWith('-cert-v01@openssh.com');
  if (!looksLikeKeyType) {
    // "<word> AAAA…": a key of a type this parser does not know, rather than a misspelt option
    const nextWord = /^[^ \t]*[ \t]+([^ \t]*)/.exec(rest)?.[1] ?? '';
    if (!firstWord.includes('=') && firstWord.toLowerCase() !== 'cert-authority' && nextWord.startsWith('AAAA')) {
      return `key type "${sanitizeName(firstWord)}" is not supported; ${SUPPORTED_TYPES_ADVICE}`;
    }
    const end = endOfOptions(rest);
    if (end === undefined) return 'an option value has no closing quote';
    optionsText = rest.slice(0, end);
    rest = rest.slice(end).replace(/^[ \t]+/, '');
  }
  const options = parseOptions(optionsText);
  if (typeof options === 'string') return options;

  const keyMatch = /^([^ \t]+)[ \t]+([^ \t]+)(?:[ \t].*)?$/.exec(rest);
  if (!keyMatch) return 'has no key; write "<principal> [options] <key type> <base64 key>" (the key is the content of a .pub file)';
  const [, keyType, keyBase64] = keyMatch;
  if (keyType.endsWith('-cert-v01@openssh.com')) {
    return `certificates (${sanitizeName(keyType)}) are not supported; list the approver's own public key`;
  }
  if (!isSupportedKeyType(keyType)) {
    return `key type "${sanitizeName(keyType)}" is not supported; ${SUPPORTED_TYPES_ADVICE}`;
  }
  const blob = decodeBase64(keyBase64);
  if (!blob) return `the ${keyType} key is not valid base64; copy it again from the approver's .pub file`;
  const key = parsePublicKeyBlob(blob);
  if (!key.ok) {
    if (key.problem === 'unsupported') {
      return `the key data is a "${sanitizeName(key.type)}" key but the line says ${keyType}; copy the line again from the approver's .pub file`;
    }
    return `the ${keyType} key is damaged (${key.detail}); copy it again from the approver's .pub file`;
  }
  if (key.key.type !== keyType) {
    return `the key data is a "${key.key.type}" key but the line says ${keyType}; copy the line again from the approver's .pub file`;
  }
  return {
    line,
    principals,
    ...options,
    keyType,
    key: keyBase64,
    fingerprint: fingerprintOf(blob),
  };
}

function parsePrincipals(text: string): string[] | string {
  const names = text.split(',');
  for (const name of names) {
    if (name === '') return 'the principals list has an empty name (two commas, or a comma at an end)';
    if (WILDCARD.test(name)) {
      return `principal "${sanitizeName(name)}" is a pattern (*, ? or !); name each approver exactly, one name per principal`;
    }
    if (!SIGNER_NAME_PATTERN.test(name)) {
      return `principal "${sanitizeName(name)}" must be a login or email (letters, digits, . _ @ + -; max 64), as in the "by" of a decision`;
    }
  }
  return names;
}

/** The index where the options end: the first space or tab outside double quotes (`\"` escapes a quote). */
function endOfOptions(text: string): number | undefined {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\' && text[i + 1] === '"') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) return i;
  }
  return quoted ? undefined : text.length;
}

type LineOptions = Pick<AllowedSigner, 'namespaces' | 'validAfterMs' | 'validBeforeMs'>;

const KNOWN_OPTIONS = 'namespaces="…", valid-after="…", valid-before="…"';

function parseOptions(text: string): LineOptions | string {
  const options: LineOptions = {};
  let pos = 0;
  while (pos < text.length) {
    const rest = text.slice(pos);
    const name = /^[^=,]*/.exec(rest)![0];
    const lower = name.toLowerCase();
    if (lower === 'cert-authority') {
      return 'cert-authority is not supported: list each approver\'s own public key (certificates are not accepted for deploy approvals)';
    }
    if (lower !== 'namespaces' && lower !== 'valid-after' && lower !== 'valid-before') {
      return `unknown option "${sanitizeName(name)}"; allowed_signers options are ${KNOWN_OPTIONS}`;
    }
    if (rest[name.length] !== '=') return `option ${lower} needs a quoted value, e.g. ${lower}="…"`;
    const value = dequote(text, pos + name.length + 1);
    if (typeof value === 'string') return `option ${lower}: ${value}`;
    pos = value.end;
    if (lower === 'namespaces') {
      if (options.namespaces) return 'option namespaces is given twice';
      const namespaces = value.text.split(',');
      for (const ns of namespaces) {
        if (ns === '') return 'option namespaces has an empty name (two commas, or a comma at an end)';
        if (WILDCARD.test(ns)) return `namespace "${sanitizeName(ns)}" is a pattern (*, ? or !); list exact namespaces, e.g. namespaces="deploy"`;
        if (!/^[\x21-\x7e]{1,64}$/.test(ns)) return `namespace "${sanitizeName(ns)}" must be 1-64 printable characters without spaces`;
      }
      options.namespaces = namespaces;
    } else {
      const field = lower === 'valid-after' ? 'validAfterMs' : 'validBeforeMs';
      if (options[field] !== undefined) return `option ${lower} is given twice`;
      const time = parseUtcTime(value.text);
      if (typeof time === 'string') return `option ${lower}="${sanitizeName(value.text)}": ${time}`;
      options[field] = time;
    }
    if (pos === text.length) break;
    if (text[pos] !== ',') return `unexpected text after option ${lower}; separate options with commas, no spaces`;
    pos++;
    if (pos === text.length) return 'the options end with a comma';
  }
  if (options.validAfterMs !== undefined && options.validBeforeMs !== undefined && options.validBeforeMs <= options.validAfterMs) {
    return 'valid-before is not after valid-after';
  }
  return options;
}

function dequote(text: string, start: number): { text: string; end: number } | string {
  if (text[start] !== '"') return 'the value must be in double quotes';
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === '"') {
      out += '"';
      i++;
    } else if (text[i] === '"') {
      return { text: out, end: i + 1 };
    } else {
      out += text[i];
    }
  }
  return 'the value has no closing quote';
}

/** `YYYYMMDD[HHMM[SS]]` followed by `Z` or `UTC` (either case), as ssh-keygen writes absolute times. */
function parseUtcTime(text: string): number | string {
  const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(z|utc)?$/i.exec(text);
  if (!match) return 'must be YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS followed by Z (UTC), e.g. "20260101Z"';
  const [, y, mo, d, h = '00', mi = '00', s = '00', zone] = match;
  if (!zone) return 'has no time zone; append Z so it means the same instant on every machine (UTC), e.g. "20260101Z"';
  const parts = [y, mo, d, h, mi, s].map(Number);
  const ms = Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3], parts[4], parts[5]);
  const date = new Date(ms);
  const roundTrip = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()];
  if (roundTrip.some((v, i) => v !== parts[i])) return 'is not a real date and time';
  if (ms <= 0) return 'must be after 1970-01-01';
  return ms;
}
