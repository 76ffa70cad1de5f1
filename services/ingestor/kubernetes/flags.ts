/**
 * Flags of `attache ingest kubernetes`. Kept apart from the service so the CLI's command table can
 * list them without loading the Kubernetes client.
 */

import { ADMIN_ACCESS_FLAGS } from '../../../shared/runtime/admin-server.ts';
import type { FlagSpecs } from '../../../shared/runtime/config.ts';
import { NATS_CONNECTION_FLAGS } from '../../../shared/runtime/connection-flags.ts';
import { SECRET_KEY_FLAGS } from '../../../shared/runtime/secret-keys.ts';

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
  'max-buffered-objects': {
    type: 'number',
    default: 10_000,
    description:
      'objects held while NATS is unreachable (one pending state per object); beyond it, kinds are re-read from the informer cache',
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
  'status-namespace': {
    type: 'string',
    default: 'attache',
    description: "namespace of the status Lease and of Attaché's own Service (set it to the pod's namespace)",
  },
} as const satisfies FlagSpecs;
