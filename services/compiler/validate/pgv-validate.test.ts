/**
 * The structural validator against hand-built Envoy resources: each protoc-gen-validate rule family
 * is violated once and must be reported with a readable path; valid resources and every golden
 * output pass; and the cost on a 5,000-route snapshot is measured.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { messageType } from '../../../proto/root.ts';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { encodeMessage, packAny } from '../../../shared/xds/encoding.ts';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import { compile } from '../compile.ts';
import type { SourceRecord } from '../contracts.ts';
import { listCases, loadCase } from '../golden-cases.ts';
import { HCM_TYPE, ROUTER_TYPE } from '../translate/common.ts';
import { validateOutput } from '../validate-output.ts';
import { checkAnyType, checkString } from './pgv-checks.ts';
import { re2ToRegExp } from './pgv-regex.ts';
import { formatPgvProblem, newPgvStats, validateDecoded, validateResourceBytes } from './pgv-validate.ts';

const TYPE_NAMES: Record<string, string> = {
  [CLUSTER_TYPE]: 'envoy.config.cluster.v3.Cluster',
  [ENDPOINT_TYPE]: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  [ROUTE_TYPE]: 'envoy.config.route.v3.RouteConfiguration',
  [LISTENER_TYPE]: 'envoy.config.listener.v3.Listener',
};

/** Encodes `message` exactly as the compiler would and validates the bytes; returns formatted problems. */
function problems(typeUrl: string, name: string, message: object): string[] {
  const bytes = encodeMessage(TYPE_NAMES[typeUrl]!, message);
  return validateResourceBytes(typeUrl, name, bytes).map(formatPgvProblem);
}

function validCluster(extra: object = {}): object {
  return {
    name: 'foo',
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, service_name: 'foo' },
    connect_timeout: { seconds: 1 },
    lb_policy: 'ROUND_ROBIN',
    ...extra,
  };
}

function validRoute(extra: object = {}): object {
  return { match: { prefix: '/' }, route: { cluster: 'foo' }, ...extra };
}

function routes(...rs: object[]): object {
  return { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: rs }] };
}

function assertOne(found: string[], expected: string): void {
  assert.deepEqual(found, [expected]);
}

describe('pgv validator', () => {
  test('pgv — valid hand-built resources of every type pass', () => {
    assert.deepEqual(problems(CLUSTER_TYPE, 'foo', validCluster()), []);
    assert.deepEqual(problems(ROUTE_TYPE, 'rc', routes(validRoute())), []);
    assert.deepEqual(
      problems(ENDPOINT_TYPE, 'foo', {
        cluster_name: 'foo',
        endpoints: [
          {
            load_balancing_weight: { value: 1 },
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } },
            ],
          },
        ],
      }),
      [],
    );
  });

  test('pgv — uint32 bounds on a wrapper and a plain field name the list indexes', () => {
    const found = problems(ENDPOINT_TYPE, 'foo', {
      cluster_name: 'foo',
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } },
            {
              load_balancing_weight: { value: 0 },
              endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 70000 } } },
            },
          ],
        },
      ],
    });
    assert.deepEqual(found, [
      'ClusterLoadAssignment[name=foo].endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value: must be <= 65535',
      'ClusterLoadAssignment[name=foo].endpoints[0].lb_endpoints[1].load_balancing_weight: must be >= 1',
    ]);
  });

  test('pgv — string min_len', () => {
    assertOne(
      problems(CLUSTER_TYPE, '', validCluster({ name: '' })),
      'Cluster[name=].name: must be at least 1 character(s) long',
    );
  });

  test('pgv — string max_bytes and bytes max_len on header values', () => {
    const big = 'v'.repeat(16385);
    const found = problems(
      ROUTE_TYPE,
      'rc',
      routes(
        validRoute({
          request_headers_to_add: [
            { header: { key: 'x-a', value: big } },
            { header: { key: 'x-b', raw_value: new Uint8Array(16385) } },
          ],
        }),
      ),
    );
    assert.deepEqual(found, [
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].request_headers_to_add[0].header.value: must be at most 16384 bytes long',
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].request_headers_to_add[1].header.raw_value: must be at most 16384 bytes long',
    ]);
  });

  test('pgv — well-known HTTP header name and value regexes', () => {
    const found = problems(
      ROUTE_TYPE,
      'rc',
      routes(
        validRoute({
          match: { prefix: '/', headers: [{ name: 'x-user\r\n', string_match: { exact: 'beta' } }] },
          request_headers_to_add: [{ header: { key: 'x-ok', value: 'line\nbreak' } }],
        }),
      ),
    );
    assert.deepEqual(found, [
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].match.headers[0].name: must be a valid HTTP header name',
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].request_headers_to_add[0].header.value: must be a valid HTTP header value',
    ]);
  });

  test('pgv — string pattern (RE2 translated) on path_separated_prefix', () => {
    assertOne(
      problems(ROUTE_TYPE, 'rc', routes(validRoute({ match: { path_separated_prefix: '/api/' } }))),
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].match.path_separated_prefix: must match the pattern "^[^?#]+[^?#/]$"',
    );
    assert.deepEqual(
      problems(ROUTE_TYPE, 'rc', routes(validRoute({ match: { path_separated_prefix: '/api' } }))),
      [],
    );
  });

  test('pgv — string prefix, in, not_in and well-known address rules (no Envoy field uses them on our types)', () => {
    const skipped: string[] = [];
    const sink = (r: string) => skipped.push(r);
    assert.deepEqual(checkString({ prefix: '/a' }, '/b', sink), ['must start with "/a"']);
    assert.deepEqual(checkString({ in: ['http', 'https'] }, 'ftp', sink), [
      'must be one of ["http","https"]',
    ]);
    assert.deepEqual(checkString({ not_in: 'x' }, 'x', sink), ['must not be one of ["x"]']);
    assert.deepEqual(checkString({ ipv4: true }, '::1', sink), ['must be an IPv4 address']);
    assert.deepEqual(checkString({ hostname: true }, '-bad-.example', sink), ['must be a valid hostname']);
    assert.deepEqual(skipped, []);
  });

  test('pgv — an untranslatable RE2 pattern is skipped and counted, never guessed', () => {
    const skipped: string[] = [];
    assert.deepEqual(
      checkString({ pattern: '\\pL+' }, '123', (r) => skipped.push(r)),
      [],
    );
    assert.deepEqual(skipped, ['string.pattern \\pL+']);
    assert.equal(re2ToRegExp('(?i:a)b'), undefined);
    assert.equal(re2ToRegExp('(?i)^[[:alpha:]]+\\z')?.test('AbC'), true);
    assert.equal(re2ToRegExp('^a.b$')?.test('a\rb'), true, 'RE2 . matches \\r');
    assert.equal(re2ToRegExp('^a\\sb$')?.test('a\u00a0b'), false, 'RE2 \\s is ASCII only');
    assert.equal(re2ToRegExp('^\\Qa.b\\E$')?.test('axb'), false);
    assert.equal(re2ToRegExp('^(?P<n>x)$')?.exec('x')?.groups?.n, 'x');
  });

  test('pgv — uint64 and double ranges', () => {
    const found = problems(
      CLUSTER_TYPE,
      'foo',
      validCluster({
        lb_policy: 'RING_HASH',
        ring_hash_lb_config: { minimum_ring_size: { value: '8388609' } },
        preconnect_policy: { per_upstream_preconnect_ratio: { value: 0.5 } },
      }),
    );
    assert.deepEqual(found, [
      'Cluster[name=foo].ring_hash_lb_config.minimum_ring_size: must be <= 8388608',
      'Cluster[name=foo].preconnect_policy.per_upstream_preconnect_ratio: must be >= 1 and <= 3',
    ]);
  });

  test('pgv — enum defined_only and not_in', () => {
    const found = problems(
      CLUSTER_TYPE,
      'foo',
      validCluster({
        lb_policy: 42,
        health_checks: [
          {
            timeout: { seconds: 1 },
            interval: { seconds: 1 },
            unhealthy_threshold: { value: 1 },
            healthy_threshold: { value: 1 },
            http_health_check: { path: '/healthz', method: 'CONNECT' },
          },
        ],
      }),
    );
    assert.deepEqual(found, [
      'Cluster[name=foo].lb_policy: must be a defined LbPolicy value (got 42)',
      'Cluster[name=foo].health_checks[0].http_health_check.method: must not be one of [CONNECT]',
    ]);
  });

  test('pgv — message required, duration required and duration gt', () => {
    const found = problems(
      CLUSTER_TYPE,
      'foo',
      validCluster({
        dns_refresh_rate: { nanos: 1000 },
        health_checks: [{ interval: { seconds: 0 }, healthy_threshold: { value: 1 }, tcp_health_check: {} }],
      }),
    );
    assert.deepEqual(found, [
      'Cluster[name=foo].health_checks[0].timeout: is required',
      'Cluster[name=foo].health_checks[0].interval: must be > 0s',
      'Cluster[name=foo].health_checks[0].unhealthy_threshold: is required',
      'Cluster[name=foo].dns_refresh_rate: must be > 1ms',
    ]);
  });

  test('pgv — required oneofs: a route without a path specifier or a cluster', () => {
    const found = problems(ROUTE_TYPE, 'rc', routes({ match: {}, route: {} }));
    assert.deepEqual(found, [
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].match: one of prefix, path, safe_regex, connect_matcher, path_separated_prefix, path_match_policy must be set (oneof path_specifier)',
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].route: one of cluster, cluster_header, weighted_clusters, cluster_specifier_plugin, inline_cluster_specifier_plugin must be set (oneof cluster_specifier)',
    ]);
  });

  test('pgv — repeated min_items, unique and item rules', () => {
    const found = problems(
      ROUTE_TYPE,
      'rc',
      routes(
        validRoute({
          route: {
            weighted_clusters: { clusters: [] },
            internal_redirect_policy: { response_headers_to_copy: ['x-a', 'x-a'] },
          },
        }),
      ),
    );
    assert.deepEqual(found, [
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].route.weighted_clusters.clusters: must have at least 1 item(s)',
      'RouteConfiguration[name=rc].virtual_hosts[0].routes[0].route.internal_redirect_policy.response_headers_to_copy[1]: must be unique in the list',
    ]);
    assertOne(
      problems(ROUTE_TYPE, 'rc', {
        name: 'rc',
        virtual_hosts: [{ name: 'vh', domains: ['*'], request_headers_to_remove: [''] }],
      }),
      'RouteConfiguration[name=rc].virtual_hosts[0].request_headers_to_remove[0]: must be at least 1 character(s) long',
    );
  });

  test('pgv — repeated max_items', () => {
    const header = { header: { key: 'x-a', value: '1' } };
    assertOne(
      problems(ROUTE_TYPE, 'rc', {
        name: 'rc',
        request_headers_to_add: Array.from({ length: 1001 }, () => header),
      }),
      'RouteConfiguration[name=rc].request_headers_to_add: must have at most 1000 item(s)',
    );
  });

  test('pgv — map keys and map min_pairs', () => {
    assertOne(
      problems(CLUSTER_TYPE, 'foo', validCluster({ metadata: { filter_metadata: { '': { fields: {} } } } })),
      'Cluster[name=foo].metadata.filter_metadata[""](key): must be at least 1 character(s) long',
    );
    const type = messageType('xds.type.matcher.v3.Matcher.MatcherTree.MatchMap');
    const decoded = type.decode(type.encode(type.fromObject({})).finish()) as unknown as Record<
      string,
      unknown
    >;
    assert.deepEqual(validateDecoded(type, decoded, 'MatchMap').map(formatPgvProblem), [
      'MatchMap.map: must have at least 1 entr(ies)',
    ]);
  });

  test('pgv — any required and any in', () => {
    assertOne(
      problems(CLUSTER_TYPE, 'foo', validCluster({ typed_dns_resolver_config: { name: 'dns' } })),
      'Cluster[name=foo].typed_dns_resolver_config.typed_config: is required',
    );
    assert.deepEqual(checkAnyType({ in: ['type.googleapis.com/a.B'] }, 'type.googleapis.com/c.D'), [
      'type type.googleapis.com/c.D must be one of ["type.googleapis.com/a.B"]',
    ]);
  });

  test('pgv — rules inside an Any are checked by type URL, with the packed type in the path', () => {
    const hcm = packAny(HCM_TYPE, {
      stat_prefix: 'x',
      route_config: routes({ match: { prefix: '/' }, route: { cluster: '' } }),
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(ROUTER_TYPE, {}) }],
    });
    assertOne(
      problems(LISTENER_TYPE, 'api', { name: 'api', api_listener: { api_listener: hcm } }),
      'Listener[name=api].api_listener.api_listener<HttpConnectionManager>.route_config.virtual_hosts[0].routes[0].route.cluster: must be at least 1 character(s) long',
    );
    assertOne(
      problems(LISTENER_TYPE, 'api', {
        name: 'api',
        api_listener: { api_listener: packAny(HCM_TYPE, { stat_prefix: 'x' }) },
      }),
      'Listener[name=api].api_listener.api_listener<HttpConnectionManager>: one of rds, route_config, scoped_routes must be set (oneof route_specifier)',
    );
  });

  test('pgv — an Any of a type outside the proto root is counted, not failed', () => {
    const stats = newPgvStats();
    const bytes = encodeMessage(TYPE_NAMES[CLUSTER_TYPE]!, {
      ...validCluster(),
      typed_extension_protocol_options: {
        x: { type_url: 'type.googleapis.com/not.Loaded', value: new Uint8Array() },
      },
    });
    assert.deepEqual(validateResourceBytes(CLUSTER_TYPE, 'foo', bytes, stats), []);
    assert.deepEqual([...stats.unknownAnyTypes], [['type.googleapis.com/not.Loaded', 1]]);
  });

  test('pgv — a rule violation in generated output makes validateOutput report it', () => {
    const bytes = encodeMessage(TYPE_NAMES[CLUSTER_TYPE]!, validCluster({ lb_policy: 42 }));
    const found = validateOutput([
      { typeUrl: CLUSTER_TYPE, name: 'foo', bytes, hash: 'x', message: {} },
      {
        typeUrl: ENDPOINT_TYPE,
        name: 'foo',
        bytes: encodeMessage(TYPE_NAMES[ENDPOINT_TYPE]!, { cluster_name: 'foo' }),
        hash: 'y',
        message: {},
      },
    ]);
    assert.deepEqual(found, ['Cluster[name=foo].lb_policy: must be a defined LbPolicy value (got 42)']);
  });

  test('pgv — every golden output passes', () => {
    const stats = newPgvStats();
    for (const name of listCases()) {
      for (const r of compile(loadCase(name), { group: 'default' }).resources) {
        assert.deepEqual(
          validateResourceBytes(r.typeUrl, r.name, r.bytes, stats).map(formatPgvProblem),
          [],
          name,
        );
      }
    }
    assert.ok(stats.messages > 0);
  });

  test('pgv — measurement: validating a 5,000-route snapshot', (t) => {
    const records = manyRoutes(5000);
    const compiled = compile(records, { group: 'default' });
    const routeCount = compiled.resources
      .filter((r) => r.typeUrl === ROUTE_TYPE)
      .reduce((n, r) => n + countRoutes(r.message), 0);
    assert.ok(routeCount >= 5000, `expected at least 5,000 routes, got ${routeCount}`);
    const stats = newPgvStats();
    const start = performance.now();
    for (const r of compiled.resources) validateResourceBytes(r.typeUrl, r.name, r.bytes, stats);
    const pgvMs = performance.now() - start;
    const startAll = performance.now();
    assert.deepEqual(validateOutput(compiled.resources), []);
    const allMs = performance.now() - startAll;
    t.diagnostic(
      `5,000 Mappings → ${compiled.resources.length} resources, ${routeCount} routes, ${stats.messages} messages: ` +
        `PGV ${pgvMs.toFixed(0)} ms, validateOutput (consistency + PGV) ${allMs.toFixed(0)} ms`,
    );
    assert.ok(pgvMs < 10_000, `PGV validation took ${pgvMs.toFixed(0)} ms`);
  });
});

function manyRoutes(n: number): SourceRecord[] {
  const records: SourceRecord[] = [];
  const services = 50;
  for (let s = 0; s < services; s++) {
    records.push({
      cluster: 'test',
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `svc-${s}`, namespace: 'default' },
        spec: { ports: [{ port: 80, targetPort: 8080 }] },
      } as SourceObject,
    });
    records.push({
      cluster: 'test',
      object: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `svc-${s}-x`,
          namespace: 'default',
          labels: { 'kubernetes.io/service-name': `svc-${s}` },
        },
        addressType: 'IPv4',
        ports: [{ port: 8080, protocol: 'TCP' }],
        endpoints: [{ addresses: [`10.0.${s}.1`] }, { addresses: [`10.0.${s}.2`] }],
      } as SourceObject,
    });
  }
  for (let i = 0; i < n; i++) {
    records.push({
      cluster: 'test',
      object: {
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Mapping',
        metadata: { name: `m-${i}`, namespace: 'default' },
        spec: {
          hostname: '*',
          prefix: `/api/${i}/`,
          service: `svc-${i % services}`,
          headers: i % 3 === 0 ? { 'x-tenant': `t${i}` } : undefined,
          timeout_ms: 3000,
        },
      } as SourceObject,
    });
  }
  return records;
}

function countRoutes(message: object): number {
  const rc = message as { virtual_hosts?: { routes?: unknown[] }[] };
  return (rc.virtual_hosts ?? []).reduce((n, vh) => n + (vh.routes?.length ?? 0), 0);
}
