/**
 * The gRPC service definition of `envoy.service.discovery.v3.AggregatedDiscoveryService`, built
 * by hand so that responses are written as the pre-encoded bytes the stream hands over (the
 * serializer passes Buffers through) while requests are decoded with the shared Envoy root.
 * Only the state-of-the-world method is defined here.
 */
import type * as grpc from '@grpc/grpc-js';
import { type DiscoveryRequest, decodeDiscoveryRequest, encodeDiscoveryRequest } from './discovery-codec.ts';

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const SOTW_METHOD_PATH = `/${ADS_SERVICE_NAME}/StreamAggregatedResources`;

const passThrough = (b: Buffer): Buffer => b;

export const sotwMethod: grpc.MethodDefinition<DiscoveryRequest, Buffer> = {
  path: SOTW_METHOD_PATH,
  requestStream: true,
  responseStream: true,
  requestSerialize: (req: DiscoveryRequest) => encodeDiscoveryRequest(req),
  requestDeserialize: (bytes: Buffer) => decodeDiscoveryRequest(bytes),
  responseSerialize: passThrough,
  responseDeserialize: passThrough,
};

export const adsServiceDefinition: grpc.ServiceDefinition = {
  StreamAggregatedResources: sotwMethod,
};

/** A raw client definition: requests as Buffers in, responses as Buffers out (tests, load tools). */
export const rawAdsClientDefinition: grpc.ServiceDefinition = {
  StreamAggregatedResources: {
    path: SOTW_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
};
