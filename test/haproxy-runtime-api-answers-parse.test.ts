import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHaproxyVersion, versionAtLeast } from '../src/traffic/haproxy/binary';
import { adminStateFromFlags, parseInfo, parseServersState, parseServerStats } from '../src/traffic/haproxy/runtime-api';

/** Answers of the Runtime API as HAProxy 2.6.12 (Debian 2.6.12-1+deb12u4) printed them, parsed into typed rows. */

// `show servers state releases` with a ready server, a draining one and a new (dynamic) one in maintenance.
const SERVERS_STATE =
  '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n' +
  '3 releases 1 a 127.0.0.1 2 0 256 256 3 1 0 0 0 0 0 0 - 19001 - 0 0 - - 0\n' +
  '3 releases 2 b 127.0.0.1 2 8 40 40 0 1 0 0 0 0 0 0 - 19002 - 0 0 - - 0\n' +
  '3 releases 3 c 127.0.0.1 0 1 10 10 0 1 0 0 0 0 0 0 - 19003 - 0 0 - - 0\n\n';

test('show servers state: name, port, weight, state from the admin flags, operational state', () => {
  const rows = parseServersState(SERVERS_STATE);
  assert.deepEqual(
    rows.map((r) => [r.backend, r.name, r.port, r.weight, r.state, r.operational]),
    [
      ['releases', 'a', 19001, 256, 'ready', 'running'],
      ['releases', 'b', 19002, 40, 'drain', 'running'],
      ['releases', 'c', 19003, 10, 'maint', 'stopped'],
    ],
  );
  assert.deepEqual(parseServersState('1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_port\n\n'), []);
  assert.throws(() => parseServersState("Can't find backend.\n"), /format/);
});

test('admin flags: any maintenance bit is maint (a config-disabled server that was told to drain is still in maintenance)', () => {
  assert.equal(adminStateFromFlags(0), 'ready');
  assert.equal(adminStateFromFlags(0x08), 'drain');
  assert.equal(adminStateFromFlags(0x01), 'maint');
  assert.equal(adminStateFromFlags(0x04 | 0x08), 'maint');
});

test('show stat: current sessions per server, frontend and backend lines left out', () => {
  const header = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n';
  const answer = `${header}releases,a,0,0,0,4,,120,0,0,,0,,0,0,0,0,UP,256\nreleases,b,1,1,2,2,,9,0,0,,0,,0,0,0,0,DRAIN,40\nreleases,BACKEND,0,0,2,4,,129,0,0,,0,,0,0,0,0,UP,296\n\n`;
  assert.deepEqual(parseServerStats(answer, 'releases'), [
    { name: 'a', currentSessions: 0, queued: 0, totalSessions: 120, status: 'UP' },
    { name: 'b', currentSessions: 2, queued: 1, totalSessions: 9, status: 'DRAIN' },
  ]);
});

test('show info and haproxy -v', () => {
  assert.deepEqual(parseInfo('Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nPid: 4242\n'), { Name: 'HAProxy', Version: '2.6.12-1+deb12u4', Pid: '4242' });
  assert.equal(parseHaproxyVersion('HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/\nStatus: long-term supported branch'), '2.6.12');
  assert.equal(parseHaproxyVersion('nginx version: nginx/1.22.1'), null);
  assert.equal(versionAtLeast('2.6.12', '2.6'), true);
  assert.equal(versionAtLeast('3.0.1', '2.6'), true);
  assert.equal(versionAtLeast('2.4.22', '2.6'), false);
});
