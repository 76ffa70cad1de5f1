/**
 * The per-type discovery services (CDS, EDS, LDS, RDS, SDS): the same stream machinery restricted
 * to one type, SotW and delta, with Fetch answered UNIMPLEMENTED.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, SECRET_TYPE } from '../../../shared/xds/type-urls.ts';
import { AdsFixture, nodeIn } from '../testing/ads-fixture.ts';
import { edsCluster, genericSecret, loadAssignment } from '../testing/echo-resources.ts';
import { encodeDiscoveryRequest } from './discovery-codec.ts';

const path = (service: string, method: string) => `/envoy.service.${service}/${method}`;

describe('fan-out per-type xDS services', () => {
  const f = new AdsFixture();
  before(async () => {
    await f.start();
    await f.publish('svc', 1, [
      edsCluster('cluster-a'),
      loadAssignment('cluster-a', [9001]),
      genericSecret('tls-a', 'secret-a'),
      genericSecret('tls-b', 'secret-b'),
    ]);
  });
  after(() => f.close());

  test('xds services — StreamClusters serves clusters only, and an empty type_url means the service type', async () => {
    const c = f.sotw(f.ads, { path: path('cluster.v3.ClusterDiscoveryService', 'StreamClusters') });
    c.send({ node: nodeIn('svc'), resource_names: [] });
    const cds = await c.next();
    assert.equal(cds.type_url, CLUSTER_TYPE);
    assert.deepEqual(cds.names, ['cluster-a']);
    c.ack(cds);
    c.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'] });
    assert.deepEqual(await c.drain(200), [], 'another type on a per-type stream is ignored');
  });

  test('xds services — StreamSecrets serves the named secrets of the node group', async () => {
    const c = f.sotw(f.ads, { path: path('secret.v3.SecretDiscoveryService', 'StreamSecrets') });
    c.send({ node: nodeIn('svc'), type_url: SECRET_TYPE, resource_names: ['tls-b'] });
    const sds = await c.next();
    assert.equal(sds.type_url, SECRET_TYPE);
    assert.deepEqual(sds.names, ['tls-b']);
    assert.deepEqual(sds.resources[0]?.generic_secret, { secret: { inline_string: 'secret-b' } });
    // SDS has no wildcard: "*" names nothing.
    const w = f.sotw(f.ads, { path: path('secret.v3.SecretDiscoveryService', 'StreamSecrets') });
    w.send({ node: nodeIn('svc', 'w'), type_url: SECRET_TYPE, resource_names: ['*'] });
    assert.deepEqual((await w.next()).names, []);
  });

  test('xds services — SDS over ADS, and a node of another group never sees the secrets', async () => {
    await f.publish('other', 1, [edsCluster('x')]);
    const c = f.sotw();
    c.send({ node: nodeIn('other'), type_url: SECRET_TYPE, resource_names: ['tls-a'] });
    assert.deepEqual((await c.next()).names, []);
    const own = f.sotw();
    own.send({ node: nodeIn('svc', 'own'), type_url: SECRET_TYPE, resource_names: ['tls-a'] });
    assert.deepEqual((await own.next()).names, ['tls-a']);
  });

  test('xds services — DeltaEndpoints and DeltaSecrets speak delta on their type', async () => {
    const e = f.delta(f.ads, { path: path('endpoint.v3.EndpointDiscoveryService', 'DeltaEndpoints') });
    e.send({ node: nodeIn('svc'), type_url: ENDPOINT_TYPE, resource_names_subscribe: ['cluster-a'] });
    const eds = await e.next();
    assert.equal(eds.type_url, ENDPOINT_TYPE);
    assert.deepEqual(eds.names, ['cluster-a']);
    const s = f.delta(f.ads, { path: path('secret.v3.SecretDiscoveryService', 'DeltaSecrets') });
    s.send({ node: nodeIn('svc'), resource_names_subscribe: ['tls-a', 'missing'] });
    const sds = await s.next();
    assert.deepEqual([sds.type_url, sds.names, sds.removed], [SECRET_TYPE, ['tls-a'], ['missing']]);
  });

  test('xds services — every per-type service answers Stream and Delta, and Fetch with UNIMPLEMENTED', async () => {
    const services: Array<[string, string, string]> = [
      ['cluster.v3.ClusterDiscoveryService', 'Clusters', CLUSTER_TYPE],
      ['endpoint.v3.EndpointDiscoveryService', 'Endpoints', ENDPOINT_TYPE],
      [
        'listener.v3.ListenerDiscoveryService',
        'Listeners',
        'type.googleapis.com/envoy.config.listener.v3.Listener',
      ],
      [
        'route.v3.RouteDiscoveryService',
        'Routes',
        'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
      ],
      ['secret.v3.SecretDiscoveryService', 'Secrets', SECRET_TYPE],
    ];
    const client = new grpc.Client(`127.0.0.1:${f.ads.port}`, grpc.credentials.createInsecure());
    try {
      for (const [service, suffix, typeUrl] of services) {
        const s = f.sotw(f.ads, { path: path(service, `Stream${suffix}`), shared: client });
        s.send({ node: nodeIn('svc', `n-${suffix}`), type_url: typeUrl, resource_names: ['nothing'] });
        assert.equal((await s.next()).type_url, typeUrl, `Stream${suffix}`);
        const d = f.delta(f.ads, { path: path(service, `Delta${suffix}`), shared: client });
        d.send({
          node: nodeIn('svc', `d-${suffix}`),
          type_url: typeUrl,
          resource_names_subscribe: ['nothing'],
        });
        assert.deepEqual((await d.next()).removed, ['nothing'], `Delta${suffix}`);
        const err = await new Promise<grpc.ServiceError | null>((resolve) => {
          client.makeUnaryRequest(
            path(service, `Fetch${suffix}`),
            (b: Buffer) => b,
            (b: Buffer) => b,
            encodeDiscoveryRequest({ node: nodeIn('svc'), type_url: typeUrl }),
            (e) => resolve(e),
          );
        });
        assert.equal(err?.code, grpc.status.UNIMPLEMENTED, `Fetch${suffix}`);
      }
    } finally {
      client.close();
    }
  });
});
