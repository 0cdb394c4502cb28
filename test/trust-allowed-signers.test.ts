import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { personName } from '../src/names';
import { AllowedSignersError, MAX_ALLOWED_SIGNERS_BYTES, parseAllowedSigners } from '../src/trust/allowed-signers';
import { ensureKeys, type SignerKeyFiles } from '../src/trust/keys';
import { signStatement } from '../src/trust/sign';
import { SIGNER_NAME_PATTERN } from '../src/trust/statement';
import { run, syntheticSecurityKey, tempDir } from './helpers/ssh-signatures';

let dir: string;
let alice: SignerKeyFiles;
let bob: SignerKeyFiles;
let rsaPublicKeyLine: string;
const sk = syntheticSecurityKey(new Uint8Array(32).fill(5));

/** `ssh-ed25519 AAAA…` without the comment. */
const keyOf = (k: { publicKeyLine: string }) => k.publicKeyLine.split(' ').slice(0, 2).join(' ');

before(async () => {
  dir = await tempDir('trust-allowed-signers');
  [alice, bob] = await ensureKeys(path.join(dir, 'keys'), ['alice', 'bob']);
  const rsa = await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', path.join(dir, 'keys', 'rsa')]);
  assert.equal(rsa.code, 0, rsa.stderr);
  rsaPublicKeyLine = (await fs.readFile(path.join(dir, 'keys', 'rsa.pub'), 'utf8')).trim();
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function sshKeygenFingerprint(publicKeyLine: string): Promise<string> {
  const file = path.join(dir, `fp-${Math.random().toString(36).slice(2)}.pub`);
  await fs.writeFile(file, `${publicKeyLine}\n`);
  const out = await run('ssh-keygen', ['-lf', file]);
  assert.equal(out.code, 0, out.stderr);
  return out.stdout.split(' ')[1];
}

function problemsOf(text: string): Map<number, string> {
  try {
    parseAllowedSigners(text);
  } catch (err) {
    assert.ok(err instanceof AllowedSignersError, String(err));
    return new Map(err.problems.map((p) => [p.line, p.message]));
  }
  assert.fail('expected the file to be refused');
}

describe('parsing allowed_signers', () => {
  test('reads comments, blank lines, principals, options, comments after the key and CRLF line ends', () => {
    const text = [
      '# approvers of hello-service',
      '',
      '   ',
      `alice,alice@example.com namespaces="deploy,git" ${keyOf(alice)} alice's laptop`,
      `  "bob" valid-after="20260101Z",VALID-BEFORE="203001020304UTC" ${keyOf(bob)}\r`,
      `dana namespaces="deploy",valid-after="20250601123456z" ${sk.publicKeyLine}`,
      '\t# indented comment',
    ].join('\n');
    const signers = parseAllowedSigners(text);
    assert.equal(signers.length, 3);
    assert.deepEqual(signers[0], {
      line: 4,
      principals: ['alice', 'alice@example.com'],
      namespaces: ['deploy', 'git'],
      keyType: 'ssh-ed25519',
      key: alice.publicKeyLine.split(' ')[1],
      fingerprint: signers[0].fingerprint,
    });
    assert.equal(signers[1].line, 5);
    assert.deepEqual(signers[1].principals, ['bob']);
    assert.equal(signers[1].namespaces, undefined, 'no namespaces= means any namespace');
    assert.equal(signers[1].validAfterMs, Date.UTC(2026, 0, 1));
    assert.equal(signers[1].validBeforeMs, Date.UTC(2030, 0, 2, 3, 4));
    assert.equal(signers[2].keyType, 'sk-ssh-ed25519@openssh.com');
    assert.equal(signers[2].validAfterMs, Date.UTC(2025, 5, 1, 12, 34, 56));
    assert.ok(JSON.parse(JSON.stringify(signers)), 'entries are plain JSON (they may travel in workflow history)');
  });

  test('fingerprints equal ssh-keygen -lf, for ed25519 and security keys', async () => {
    const signers = parseAllowedSigners([`alice ${alice.publicKeyLine}`, `bob ${bob.publicKeyLine}`, `dana ${sk.publicKeyLine}`].join('\n'));
    assert.equal(signers[0].fingerprint, await sshKeygenFingerprint(alice.publicKeyLine));
    assert.equal(signers[1].fingerprint, await sshKeygenFingerprint(bob.publicKeyLine));
    assert.equal(signers[2].fingerprint, await sshKeygenFingerprint(sk.publicKeyLine));
    assert.match(signers[0].fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  test('principals are read as ssh-keygen -Y find-principals reads them', async () => {
    const text = `"alice,alice@example.com" namespaces="deploy" ${keyOf(alice)}\nbob ${keyOf(bob)}\n`;
    const file = path.join(dir, 'find-principals');
    await fs.writeFile(file, text);
    const statement = 'any statement\n';
    const signature = await signStatement({ statement, keyFile: alice.privateKeyFile });
    await fs.writeFile(`${file}.sig`, signature);
    const found = await run('ssh-keygen', ['-Y', 'find-principals', '-f', file, '-s', `${file}.sig`]);
    assert.equal(found.code, 0, found.stderr);
    assert.deepEqual(parseAllowedSigners(text)[0].principals, found.stdout.trim().split(/[\n,]/));
  });

  test('every bad line is named with its number and what to do; key material is never quoted', () => {
    const aliceBase64 = alice.publicKeyLine.split(' ')[1];
    const rsaBase64 = rsaPublicKeyLine.split(' ')[1];
    const lines: Array<[string, RegExp]> = [
      ['alice', /principals but no key/],
      [`alice ssh-ed25519`, /has no key/],
      [`* ${keyOf(alice)}`, /principal "\*" is a pattern/],
      [`alice,*@example.com ${keyOf(alice)}`, /is a pattern .*name each approver exactly/],
      [`!bob ${keyOf(bob)}`, /principal "!bob" is a pattern/],
      [`al/ice ${keyOf(alice)}`, /must be a login or email/],
      [`alice,,bob ${keyOf(alice)}`, /empty name/],
      [`"alice ${keyOf(alice)}`, /no closing quote/],
      [`alice cert-authority ${keyOf(alice)}`, /cert-authority is not supported/],
      [`alice ${rsaPublicKeyLine}`, /key type "ssh-rsa" is not supported; use an ed25519 key/],
      [`alice ssh-ed25519 ${rsaBase64}`, /key data is a "ssh-rsa" key but the line says ssh-ed25519/],
      [`alice ssh-ed25519 ${aliceBase64.slice(0, 40)}`, /not valid base64|damaged/],
      [`alice ssh-ed25519 ${aliceBase64.slice(0, 36)}`, /damaged/],
      [`alice ssh-ed25519 not*base64`, /not valid base64/],
      [`alice ssh-ed25519-cert-v01@openssh.com ${aliceBase64}`, /certificates .* are not supported/],
      [`alice ecdsa-sha2-nistp256 AAAAE2VjZHNh`, /key type "ecdsa-sha2-nistp256" is not supported/],
      [`alice namespaces=deploy ${keyOf(alice)}`, /namespaces: the value must be in double quotes/],
      [`alice namespaces="deploy ${keyOf(alice)}`, /no closing quote/],
      [`alice namespaces="deploy",namespaces="git" ${keyOf(alice)}`, /given twice/],
      [`alice namespaces="dep*" ${keyOf(alice)}`, /namespace "dep\*" is a pattern/],
      [`alice namespaces="deploy", ${keyOf(alice)}`, /end with a comma/],
      [`alice namespace="deploy" ${keyOf(alice)}`, /unknown option "namespace"; allowed_signers options are namespaces=/],
      [`alice valid-after="20260101" ${keyOf(alice)}`, /no time zone; append Z/],
      [`alice valid-after="20261301Z" ${keyOf(alice)}`, /not a real date/],
      [`alice valid-after="2026Z" ${keyOf(alice)}`, /must be YYYYMMDD/],
      [`alice valid-after="20270101Z",valid-before="20260101Z" ${keyOf(alice)}`, /valid-before is not after valid-after/],
      [`alice\u0001 ${keyOf(alice)}`, /control character/],
    ];
    const text = ['# header', ...lines.map(([line]) => line), `bob ${keyOf(bob)}`].join('\n');
    const problems = problemsOf(text);
    lines.forEach(([line, expected], i) => {
      const message = problems.get(i + 2);
      assert.ok(message, `line ${i + 2} (${line.slice(0, 40)}) should be refused`);
      assert.match(message, expected, `line ${i + 2}`);
      for (const secret of [aliceBase64, rsaBase64]) {
        assert.ok(!message.includes(secret.slice(20, 40)), `line ${i + 2}'s message quotes key material: ${message}`);
      }
    });
    assert.equal(problems.size, lines.length, 'the good lines (comment, bob) are not reported');

    try {
      parseAllowedSigners(text, { source: 'examples/hello-service/allowed_signers' });
    } catch (err) {
      assert.match((err as Error).message, /^examples\/hello-service\/allowed_signers:2: has principals but no key/);
      assert.match((err as Error).message, /and \d+ more problems$/, 'a long list is cut after 20 lines');
    }
  });

  test('an oversized file is refused before any line is read', () => {
    const huge = `# ${'x'.repeat(MAX_ALLOWED_SIGNERS_BYTES)}\n`;
    assert.throws(() => parseAllowedSigners(huge), /larger than 1048576 bytes/);
  });

  test('an empty file or one of comments only lists nobody', () => {
    assert.deepEqual(parseAllowedSigners(''), []);
    assert.deepEqual(parseAllowedSigners('# nobody yet\n\n'), []);
  });

  test('a principal name follows the same rule as "by" in signals (personName)', () => {
    const samples = ['alice', 'alice@example.com', 'a.b_c+d-e', 'A1', '-alice', '.alice', 'al ice', 'al/ice', 'a'.repeat(64), 'a'.repeat(65), '', 'ålice', 'alice\n', 'alice,bob', 'x*'];
    for (const sample of samples) {
      assert.equal(SIGNER_NAME_PATTERN.test(sample), personName.safeParse(sample).success, JSON.stringify(sample));
    }
  });
});
