/**
 * gRPC service definitions for the xDS services the fan-out serves, built by hand so that
 * responses are written as the pre-encoded bytes the streams hand over (the serializer passes
 * Buffers through) while requests are decoded with the shared Envoy root:
 *
 * - `envoy.service.discovery.v3.AggregatedDiscoveryService`: StreamAggregatedResources (SotW)
 *   and DeltaAggregatedResources (incremental), every type on one stream;
 * - the per-type services (CDS, EDS, LDS, RDS, SDS): `Stream<X>` and `Delta<X>` on the same
 *   stream machinery restricted to one type, and `Fetch<X>` (answered UNIMPLEMENTED).
 */
import type * as grpc from '@grpc/grpc-js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  type TypeUrl,
} from '../../../shared/xds/type-urls.ts';
import { declaredVersions } from './delta-diff.ts';
import {
  type DeltaDiscoveryRequest,
  type DiscoveryRequest,
  decodeDeltaRequestInterning,
  decodeDiscoveryRequest,
  encodeDeltaDiscoveryRequest,
  encodeDiscoveryRequest,
} from './discovery-codec.ts';

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const SOTW_METHOD_PATH = `/${ADS_SERVICE_NAME}/StreamAggregatedResources`;
export const DELTA_METHOD_PATH = `/${ADS_SERVICE_NAME}/DeltaAggregatedResources`;

const passThrough = (b: Buffer): Buffer => b;

function sotwAt(path: string): grpc.MethodDefinition<DiscoveryRequest, Buffer> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (req: DiscoveryRequest) => encodeDiscoveryRequest(req),
    requestDeserialize: (bytes: Buffer) => decodeDiscoveryRequest(bytes),
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  };
}

function deltaAt(path: string): grpc.MethodDefinition<DeltaDiscoveryRequest, Buffer> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (req: DeltaDiscoveryRequest) => encodeDeltaDiscoveryRequest(req),
    requestDeserialize: (bytes: Buffer) => decodeDeltaRequestInterning(bytes, declaredVersions),
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  };
}

function fetchAt(path: string): grpc.MethodDefinition<DiscoveryRequest, Buffer> {
  return { ...sotwAt(path), requestStream: false, responseStream: false };
}

export const sotwMethod = sotwAt(SOTW_METHOD_PATH);
export const deltaMethod = deltaAt(DELTA_METHOD_PATH);

export const adsServiceDefinition: grpc.ServiceDefinition = {
  StreamAggregatedResources: sotwMethod,
  DeltaAggregatedResources: deltaMethod,
};

/** One per-type xDS service: its full name, the type it serves and its method names. */
export interface TypeServiceSpec {
  service: string;
  typeUrl: TypeUrl;
  /** Method suffix: `Stream<suffix>`, `Delta<suffix>`, `Fetch<suffix>`. */
  suffix: string;
}

export const TYPE_SERVICES: readonly TypeServiceSpec[] = [
  { service: 'envoy.service.cluster.v3.ClusterDiscoveryService', typeUrl: CLUSTER_TYPE, suffix: 'Clusters' },
  {
    service: 'envoy.service.endpoint.v3.EndpointDiscoveryService',
    typeUrl: ENDPOINT_TYPE,
    suffix: 'Endpoints',
  },
  {
    service: 'envoy.service.listener.v3.ListenerDiscoveryService',
    typeUrl: LISTENER_TYPE,
    suffix: 'Listeners',
  },
  { service: 'envoy.service.route.v3.RouteDiscoveryService', typeUrl: ROUTE_TYPE, suffix: 'Routes' },
  { service: 'envoy.service.secret.v3.SecretDiscoveryService', typeUrl: SECRET_TYPE, suffix: 'Secrets' },
];

/** The grpc-js service definition of one per-type service. */
export function typeServiceDefinition(spec: TypeServiceSpec): grpc.ServiceDefinition {
  return {
    [`Stream${spec.suffix}`]: sotwAt(`/${spec.service}/Stream${spec.suffix}`),
    [`Delta${spec.suffix}`]: deltaAt(`/${spec.service}/Delta${spec.suffix}`),
    [`Fetch${spec.suffix}`]: fetchAt(`/${spec.service}/Fetch${spec.suffix}`),
  };
}

function rawBidi(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  };
}

/** A raw client definition: requests as Buffers in, responses as Buffers out (tests, load tools). */
export const rawAdsClientDefinition: grpc.ServiceDefinition = {
  StreamAggregatedResources: rawBidi(SOTW_METHOD_PATH),
  DeltaAggregatedResources: rawBidi(DELTA_METHOD_PATH),
};

/** A raw client definition of one per-type service (Stream, Delta and Fetch on Buffers). */
export function rawTypeClientDefinition(spec: TypeServiceSpec): grpc.ServiceDefinition {
  return {
    [`Stream${spec.suffix}`]: rawBidi(`/${spec.service}/Stream${spec.suffix}`),
    [`Delta${spec.suffix}`]: rawBidi(`/${spec.service}/Delta${spec.suffix}`),
    [`Fetch${spec.suffix}`]: {
      ...rawBidi(`/${spec.service}/Fetch${spec.suffix}`),
      requestStream: false,
      responseStream: false,
    },
  };
}
