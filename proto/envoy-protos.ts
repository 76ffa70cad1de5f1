/**
 * Where the Envoy API protos come from. We do not vendor them: `@grpc/grpc-js-xds` ships the
 * envoy-api, xds, googleapis and protoc-gen-validate trees under `deps/`, and this module resolves
 * those include paths from the installed package. Well-known types (`google/protobuf/*`) come from
 * protobufjs itself.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Root folder of the installed `@grpc/grpc-js-xds` package. */
export const GRPC_JS_XDS_DIR = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

/** Include directories for the Envoy API protos, in resolution order. */
export const ENVOY_INCLUDE_DIRS: readonly string[] = [
  'envoy-api',
  'xds',
  'googleapis',
  'protoc-gen-validate',
].map((d) => path.join(GRPC_JS_XDS_DIR, 'deps', d));

/**
 * Every proto file Attaché builds or decodes messages from. Each extension type that is packed
 * into an `Any` (filters, transport sockets, LB policies) must be listed here, or protobufjs
 * cannot find it in the root that encodes the DiscoveryResponse.
 */
export const ENVOY_PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/cluster/v3/cds.proto',
  'envoy/service/endpoint/v3/eds.proto',
  'envoy/service/listener/v3/lds.proto',
  'envoy/service/route/v3/rds.proto',
  'envoy/service/secret/v3/sds.proto',
  'envoy/service/status/v3/csds.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/proxy_protocol/v3/proxy_protocol.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/grpc_web/v3/grpc_web.proto',
  'envoy/extensions/filters/http/grpc_http1_bridge/v3/config.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto',
];
