/**
 * A minimal ustar writer whose output depends only on the entries given: no uid/gid/owner names,
 * no atime/ctime, no pax time records. Long paths use a pax header carrying only `path`/`linkpath`.
 * `tar` (the npm package) stamps pax headers and modes from the file system, so it cannot promise
 * byte-identical archives across machines; this writer can.
 */

export type TarEntry =
  | { type: 'directory'; path: string; mode: number; mtime: number }
  | { type: 'file'; path: string; mode: number; mtime: number; size: number }
  | { type: 'symlink'; path: string; mode: number; mtime: number; linkTarget: string };

const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits: 8 GiB - 1

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar header field overflow: "${value}" is longer than ${length} bytes`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, '0');
  if (digits.length > length - 1) throw new Error(`tar header number overflow: ${value} does not fit ${length - 1} octal digits`);
  buf.write(digits + '\0', offset, length, 'ascii');
}

/** Splits a long path into ustar prefix/name at a slash, or null when it cannot be split. */
function splitUstarPath(p: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(p) <= 100) return { prefix: '', name: p };
  for (let i = p.length - 1; i > 0; i--) {
    if (p[i] !== '/') continue;
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
  }
  return null;
}

function header(fields: {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}): Buffer {
  const buf = Buffer.alloc(BLOCK, 0);
  writeString(buf, 0, 100, fields.name);
  writeOctal(buf, 100, 8, fields.mode);
  writeOctal(buf, 108, 8, 0); // uid
  writeOctal(buf, 116, 8, 0); // gid
  writeOctal(buf, 124, 12, fields.size);
  writeOctal(buf, 136, 12, fields.mtime);
  buf.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  buf.write(fields.typeflag, 156, 1, 'ascii');
  writeString(buf, 157, 100, fields.linkname);
  buf.write('ustar\0', 257, 6, 'ascii');
  buf.write('00', 263, 2, 'ascii');
  // uname/gname left empty; devmajor/devminor zero.
  writeOctal(buf, 329, 8, 0);
  writeOctal(buf, 337, 8, 0);
  writeString(buf, 345, 155, fields.prefix);
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return buf;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  // The length prefix counts itself, so find the fixed point.
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** The header block(s) of one entry; file bodies follow, padded with `padding(size)`. */
export function entryHeader(entry: TarEntry): Buffer {
  const tarPath = entry.type === 'directory' ? `${entry.path}/` : entry.path;
  const size = entry.type === 'file' ? entry.size : 0;
  if (size > MAX_OCTAL_SIZE) throw new Error(`${entry.path}: ${size} bytes is larger than a bundle entry may be (8 GiB)`);
  const linkTarget = entry.type === 'symlink' ? entry.linkTarget : '';
  const typeflag = entry.type === 'file' ? '0' : entry.type === 'directory' ? '5' : '2';

  const split = splitUstarPath(tarPath);
  const linkFits = Buffer.byteLength(linkTarget) <= 100;
  const blocks: Buffer[] = [];
  if (!split || !linkFits) {
    let records = '';
    if (!split) records += paxRecord('path', tarPath);
    if (!linkFits) records += paxRecord('linkpath', linkTarget);
    const body = Buffer.from(records, 'utf8');
    blocks.push(
      header({ name: 'PaxHeader', prefix: '', mode: 0o644, size: body.length, mtime: 0, typeflag: 'x', linkname: '' }),
      body,
      padding(body.length),
    );
  }
  // With a pax path record the ustar name is only a fallback for old readers: keep it ASCII and short.
  const name = split ? split.name : tarPath.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
  blocks.push(
    header({
      name,
      prefix: split ? split.prefix : '',
      mode: entry.mode,
      size,
      mtime: entry.mtime,
      typeflag,
      linkname: linkFits ? linkTarget : '',
    }),
  );
  return Buffer.concat(blocks);
}

/** Two zero blocks end a tar archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2, 0);
