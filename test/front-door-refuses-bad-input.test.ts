import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { after, before, test } from 'node:test';
import { FrontDoor, renderHaproxyConfig, startLoad, type FrontDoorStatus } from '../src/traffic';
import { frontDoorDir, haproxyForTests, skipWithout, TrafficWorld, type VersionServer } from './helpers/traffic';

/**
 * Bad input is refused with the field path and what is allowed, before anything changes: haproxy keeps
 * serving exactly what it served, and the record on disk is byte for byte the same.
 */

let skipReason: string | undefined;
const world = new TrafficWorld();
let a: VersionServer;
let door: FrontDoor;

before(async () => {
  const haproxy = await haproxyForTests();
  if ('skip' in haproxy) {
    skipReason = haproxy.skip;
    return;
  }
  a = await world.versionServer('A');
  door = await world.frontDoor();
  await door.apply({ servers: [{ name: 'a', port: a.port, weight: 100 }] });
});

after(() => world.cleanup());

function snapshot(status: FrontDoorStatus) {
  return { pid: status.pid, servers: status.servers.map((s) => [s.name, s.port, s.weight, s.state]), recorded: status.recorded };
}

const badDesired: Array<{ label: string; server: Record<string, unknown>; field: string; problem: RegExp }> = [
  { label: 'weight 300', server: { name: 'b', port: 18999, weight: 300 }, field: 'desired.servers.0.weight', problem: /0-256/ },
  { label: 'negative weight', server: { name: 'b', port: 18999, weight: -1 }, field: 'desired.servers.0.weight', problem: /0-256/ },
  { label: 'name with "/"', server: { name: 'releases/b', port: 18999, weight: 1 }, field: 'desired.servers.0.name', problem: /lowercase letters, digits and dashes/ },
  { label: 'name with spaces', server: { name: 'b c', port: 18999, weight: 1 }, field: 'desired.servers.0.name', problem: /lowercase letters, digits and dashes/ },
  { label: 'name with ";" (a second Runtime API command)', server: { name: 'b;shutdown', port: 18999, weight: 1 }, field: 'desired.servers.0.name', problem: /lowercase/ },
  { label: 'port 0', server: { name: 'b', port: 0, weight: 1 }, field: 'desired.servers.0.port', problem: /1-65535/ },
  { label: 'port 65536', server: { name: 'b', port: 65536, weight: 1 }, field: 'desired.servers.0.port', problem: /1-65535/ },
  { label: 'unknown state', server: { name: 'b', port: 18999, weight: 1, state: 'off' }, field: 'desired.servers.0.state', problem: /"ready", "drain" or "maint"/ },
  { label: 'unknown field', server: { name: 'b', port: 18999, weight: 1, host: '10.0.0.1' }, field: 'desired.servers.0.host', problem: /unknown field/ },
];

for (const bad of badDesired) {
  test(`apply refuses ${bad.label} naming ${bad.field}, and nothing changes`, async (t) => {
    if (skipWithout(t, skipReason)) return;
    const before = snapshot(await door.status());
    const recordBefore = await fs.readFile(door.files.stateFile, 'utf8');
    const logBefore = await fs.readFile(door.files.log, 'utf8');
    // The bad server comes second to a valid one, so a partial apply would show.
    const desired = { servers: [bad.server, { name: 'a', port: a.port, weight: 50 }] };
    await assert.rejects(door.apply(desired as never), (err: Error & { type?: string; nonRetryable?: boolean }) => {
      assert.ok(err.message.includes(`${bad.field}:`), `the error names ${bad.field}: ${err.message}`);
      assert.match(err.message, bad.problem);
      assert.equal(err.type, 'InvalidInput');
      assert.equal(err.nonRetryable, true);
      return true;
    });
    assert.deepEqual(snapshot(await door.status()), before, 'haproxy serves what it served');
    assert.equal(await fs.readFile(door.files.stateFile, 'utf8'), recordBefore, 'the record is unchanged');
    assert.equal(await fs.readFile(door.files.log, 'utf8'), logBefore, 'haproxy was sent no change');
  });
}

test('apply refuses two servers with the same name or port, naming the second', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const before = snapshot(await door.status());
  await assert.rejects(
    door.apply({ servers: [{ name: 'a', port: a.port, weight: 1 }, { name: 'a', port: a.port + 1, weight: 1 }] }),
    /desired\.servers\.1\.name: "a" is already servers\[0\]/,
  );
  await assert.rejects(
    door.apply({ servers: [{ name: 'a', port: a.port, weight: 1 }, { name: 'b', port: a.port, weight: 1 }] }),
    new RegExp(`desired\\.servers\\.1\\.port: ${a.port} is already the port of servers\\[0\\]`),
  );
  assert.deepEqual(snapshot(await door.status()), before);
});

test('drain refuses a server the front door does not have, and drains nothing', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const before = snapshot(await door.status());
  await assert.rejects(door.drain('b', 1_000), /server: "b" is not a server of front door test-front-door \(it has a\)/);
  await assert.rejects(door.drain('a/b', 1_000), /server: must be lowercase/);
  assert.deepEqual(snapshot(await door.status()), before);
});

test('a front door refuses bad options when it is created, before touching its directory', async () => {
  const directory = await frontDoorDir();
  try {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ publicPort: 0 }, /frontDoor\.publicPort: must be a port 1-65535/],
      [{ name: 'Staging Door' }, /frontDoor\.name: must be lowercase/],
      [{ directory: 'relative/dir' }, /frontDoor\.directory: must be an absolute directory path/],
      [{ directory: `${directory}/../elsewhere` }, /frontDoor\.directory: must be normalised/],
      [{ directory: `${directory}/a b` }, /frontDoor\.directory: may contain only letters/],
      [{ directory: `/tmp/${'x'.repeat(120)}` }, /frontDoor\.directory: is too long/],
    ];
    for (const [override, expected] of cases) {
      assert.throws(() => new FrontDoor({ name: 'staging', publicPort: 18081, directory: `${directory}/door`, ...override } as never), expected);
    }
    assert.deepEqual(await fs.readdir(directory), [], 'nothing was created');
  } finally {
    await fs.rm(directory, { recursive: true, force: true });
  }
});

test('a front door directory is bound to its port: reusing it for another port is refused', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const other = new FrontDoor({ name: door.name, publicPort: door.publicPort + 1, directory: door.files.directory });
  await assert.rejects(other.ensureRunning(), /publicPort: front door directory .* belongs to "test-front-door" on port \d+, not "test-front-door" on port \d+/);
  assert.equal((await door.status()).running, true, 'the front door on its own port still runs');
});

test('the config renderer refuses the same bad input by field path', () => {
  assert.throws(
    () => renderHaproxyConfig({ name: 'x', publicPort: 18081, directory: '/srv/door', servers: [{ name: 'b c', port: 0, weight: 300 }] }),
    (err: Error) => {
      for (const field of ['frontDoor.servers.0.name', 'frontDoor.servers.0.port', 'frontDoor.servers.0.weight']) {
        assert.ok(err.message.includes(`${field}:`), `names ${field}: ${err.message}`);
      }
      return true;
    },
  );
});

test('the load client refuses a URL that is not on loopback', () => {
  assert.throws(() => startLoad({ url: 'http://example.com/' }), /load\.url: must be an http:\/\/ URL on 127\.0\.0\.1/);
  assert.throws(() => startLoad({ url: 'http://127.0.0.1:1/', concurrency: 5000 }), /load\.concurrency: must be 1-1000/);
});
