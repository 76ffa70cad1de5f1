import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeResource } from '../../../shared/xds/encoding.ts';
import { LISTENER_TYPE } from '../../../shared/xds/type-urls.ts';
import { compile } from '../compile.ts';
import { loadCase } from '../golden-cases.ts';
import { SOCKET_LISTENER_NAME } from './common.ts';

test('hcm settings — Module idle timeout reaches the socket listener, never an API listener', () => {
  const result = compile(loadCase('module-hcm'), { group: 'default' });
  const listeners = result.resources
    .filter((r) => r.typeUrl === LISTENER_TYPE)
    .map((r) => ({ name: r.name, text: JSON.stringify(decodeResource(LISTENER_TYPE, r.bytes)) }));
  const socket = listeners.find((l) => l.name === SOCKET_LISTENER_NAME);
  const api = listeners.find((l) => l.name === 'grpc.example.com');
  assert.ok(socket && api, 'both the socket and the API listener are generated');
  assert.match(socket.text, /"idle_timeout":\{"seconds":"30"\}/);
  assert.match(socket.text, /envoy\.filters\.http\.rbac/);
  assert.doesNotMatch(api.text, /idle_timeout/);
  assert.doesNotMatch(api.text, /rbac|grpc_web/);
});
