/**
 * Masks secret values in command output before it is recorded (activity results and history keep it).
 * A value is masked as it appears raw and in the encodings tools print in practice: URL-encoded (as in
 * a connection string), JSON-escaped, hex, and base64 (standard and URL-safe) at each of the three byte
 * offsets a value can have inside a longer encoded blob (e.g. `user:password` in a Basic auth header).
 */

/** Values this short are too likely to occur by chance in ordinary output to be worth masking. */
const MIN_REDACTED_LENGTH = 4;
/** A base64 fragment this short could match ordinary text. */
const MIN_BASE64_FRAGMENT = 8;

/** The base64 characters that depend only on `value`, wherever it starts in the encoded bytes. */
function base64Fragments(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const fragments: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // Character j carries bits 6j..6j+5: keep those wholly inside the value's bits.
    const start = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    const fragment = encoded.slice(start, end);
    if (fragment.length >= MIN_BASE64_FRAGMENT) fragments.push(fragment, fragment.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return fragments;
}

/** Every spelling of `value` that is masked. */
export function encodingsOf(value: string): string[] {
  const forms = new Set<string>([value]);
  const uri = encodeURIComponent(value);
  forms.add(uri);
  forms.add(uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  forms.add(uri.replace(/%20/g, '+'));
  forms.add(JSON.stringify(value).slice(1, -1));
  const hex = Buffer.from(value, 'utf8').toString('hex');
  forms.add(hex);
  forms.add(hex.toUpperCase());
  for (const fragment of base64Fragments(value)) forms.add(fragment);
  return [...forms].filter((f) => f.length >= MIN_REDACTED_LENGTH);
}

/** Replaces each secret's value, in every encoding, by `[redacted:NAME]`; longest spellings first. */
export function redact(text: string, secrets: Record<string, string>): string {
  const spellings: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(secrets)) {
    if (value.length < MIN_REDACTED_LENGTH) continue;
    for (const form of encodingsOf(value)) spellings.push([name, form]);
  }
  spellings.sort((a, b) => b[1].length - a[1].length);
  let out = text;
  for (const [name, form] of spellings) out = out.split(form).join(`[redacted:${name}]`);
  return out;
}
