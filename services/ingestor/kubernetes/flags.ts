/**
 * Flags of `attache ingest kubernetes`. Kept apart from the service so the CLI's command table can
 * list them without loading the Kubernetes client.
 */

import { ADMIN_ACCESS_FLAGS } from '../../../shared/runtime/admin-server.ts';
import type { FlagSpecs } from '../../../shared/runtime/config.ts';
import { NATS_CONNECTION_FLAGS } from '../../../shared/runtime/connection-flag-specs.ts';
import { PLAINTEXT_SECRETS_FLAG, SECRET_KEY_FLAGS } from '../../../shared/runtime/secret-keys.ts';

export const KUBERNETES_INGEST_FLAGS = {
  cluster: {
    type: 'string',
    required: true,
    description: 'source name this cluster publishes as (unique per cluster)',
  },
  kubeconfig: {
    type: 'string',
    description: 'kubeconfig file; the pod service account (in-cluster config) when absent',
  },
  context: { type: 'string', description: 'context in the kubeconfig (default: its current context)' },
  namespace: {
    type: 'string',
    multiple: true,
    description: 'namespace to watch; repeatable; all namespaces when absent',
  },
  nats: {
    type: 'string',
    required: true,
    description: 'NATS URL with JetStream, e.g. nats://127.0.0.1:4222',
  },
  ...NATS_CONNECTION_FLAGS,
  ...SECRET_KEY_FLAGS,
  ...PLAINTEXT_SECRETS_FLAG,
  'max-buffered-objects': {
    type: 'number',
    default: 10_000,
    description:
      'objects held while NATS is unreachable (one pending state per object); beyond it, kinds are re-read from the informer cache',
  },
  'anti-entropy-interval-ms': {
    type: 'number',
    default: 60_000,
    description:
      'compare what the event log holds for this cluster with the informer caches (no API requests) and republish what differs (lost or forged events); 0 = off',
  },
  'admin-port': {
    type: 'number',
    default: 8880,
    description: 'admin HTTP port: /healthz, /readyz, /metrics, /debug/*',
  },
  'admin-host': { type: 'string', default: '0.0.0.0', description: 'address the admin HTTP port binds to' },
  ...ADMIN_ACCESS_FLAGS,
  'write-status': {
    type: 'boolean',
    default: true,
    description:
      'write Mapping/Host/Ingress status back (leader-elected per cluster; reads NATS KV ATTACHE_STATUS)',
  },
  'leader-elect': {
    type: 'boolean',
    default: false,
    description:
      "publish only while holding the cluster's Lease (the status Lease); other replicas keep their informers warm and take over without relisting (run 2 replicas)",
  },
  identity: {
    type: 'string',
    description:
      "this replica's Lease holder identity and publisher id (default: the host name, i.e. the pod name)",
  },
  'lease-duration-sec': {
    type: 'number',
    default: 15,
    description:
      'Lease duration: a dead leader is replaced after at most this long (renew deadline: 2/3 of it, at most 10 s)',
  },
  'lease-retry-ms': {
    type: 'number',
    default: 2_000,
    description: 'how often the Lease is renewed by its holder and read by the others',
  },
  'status-namespace': {
    type: 'string',
    default: 'attache',
    description: "namespace of the status Lease and of Attaché's own Service (set it to the pod's namespace)",
  },
} as const satisfies FlagSpecs;
