/**
 * SDS Secrets and the downstream TLS transport socket that references them. Secret bytes travel
 * inline in the Secret resource only; listeners reference them by name over ADS, so a certificate
 * rotation re-sends one Secret and no listener.
 */
import type { TransportSocket } from '../../../proto/gen/envoy/config/core/v3/TransportSocket.ts';
import type { CommonTlsContext } from '../../../proto/gen/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext.ts';
import type { DownstreamTlsContext } from '../../../proto/gen/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.ts';
import type { Secret } from '../../../proto/gen/envoy/extensions/transport_sockets/tls/v3/Secret.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import { SECRET_TYPE } from '../../../shared/xds/type-urls.ts';
import type { DownstreamTls, TlsSecret } from '../ir/types-edge.ts';
import { adsConfigSource, type EnvoyResource } from './common.ts';

export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const DOWNSTREAM_TLS_TYPE = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

const TLS_VERSIONS: Readonly<Record<string, 'TLSv1_0' | 'TLSv1_1' | 'TLSv1_2' | 'TLSv1_3'>> = {
  'v1.0': 'TLSv1_0',
  'v1.1': 'TLSv1_1',
  'v1.2': 'TLSv1_2',
  'v1.3': 'TLSv1_3',
};

export function translateSecret(s: TlsSecret): EnvoyResource {
  const message: Secret = { name: s.name };
  if (s.certificate) {
    message.tls_certificate = {
      certificate_chain: { inline_bytes: Buffer.from(s.certificate.chain) },
      private_key: { inline_bytes: Buffer.from(s.certificate.key) },
    };
  } else if (s.validation) {
    message.validation_context = {
      trusted_ca: { inline_bytes: Buffer.from(s.validation.ca) },
      ...(s.validation.crl ? { crl: { inline_bytes: Buffer.from(s.validation.crl) } } : {}),
    };
  }
  return { typeUrl: SECRET_TYPE, name: s.name, message };
}

/** The `envoy.transport_sockets.tls` socket terminating TLS with SDS-served certificates. */
export function downstreamTlsSocket(t: DownstreamTls): TransportSocket {
  const params = {
    ...(t.minTlsVersion ? { tls_minimum_protocol_version: TLS_VERSIONS[t.minTlsVersion] } : {}),
    ...(t.maxTlsVersion ? { tls_maximum_protocol_version: TLS_VERSIONS[t.maxTlsVersion] } : {}),
    ...(t.cipherSuites ? { cipher_suites: t.cipherSuites } : {}),
    ...(t.ecdhCurves ? { ecdh_curves: t.ecdhCurves } : {}),
  };
  const common: CommonTlsContext = {
    tls_certificate_sds_secret_configs: [{ name: t.certSecret, sds_config: adsConfigSource() }],
    ...(t.validationSecret
      ? { validation_context_sds_secret_config: { name: t.validationSecret, sds_config: adsConfigSource() } }
      : {}),
    ...(t.alpnProtocols ? { alpn_protocols: t.alpnProtocols } : {}),
    ...(Object.keys(params).length > 0 ? { tls_params: params } : {}),
  };
  const ctx: DownstreamTlsContext = {
    common_tls_context: common,
    ...(t.requireClientCert !== undefined
      ? { require_client_certificate: { value: t.requireClientCert } }
      : {}),
  };
  return { name: TLS_TRANSPORT_SOCKET, typed_config: packAny(DOWNSTREAM_TLS_TYPE, ctx) };
}
