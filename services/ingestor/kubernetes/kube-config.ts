/**
 * Where the ingestor's cluster credentials come from: a kubeconfig file (optionally a named
 * context in it) or, when none is given, the pod's service account (in-cluster config).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, errorMessage } from '../../../shared/runtime/errors.ts';

export interface KubeConfigSource {
  /** Path of a kubeconfig file; in-cluster service-account config when absent. */
  kubeconfig?: string;
  /** Context to use from the file (default: its current context). */
  context?: string;
}

export function loadKubeConfig(src: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (src.kubeconfig) kc.loadFromFile(src.kubeconfig);
    else kc.loadFromCluster();
  } catch (err) {
    throw new ConfigError(
      src.kubeconfig
        ? `cannot read kubeconfig ${src.kubeconfig}: ${errorMessage(err)}`
        : `no --kubeconfig given and the in-cluster service account could not be loaded: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  if (src.context) {
    if (!kc.getContextObject(src.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new ConfigError(
        `context ${src.context} is not in ${src.kubeconfig ?? 'the kubeconfig'} (known: ${known.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(src.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new ConfigError(
      src.kubeconfig
        ? `kubeconfig ${src.kubeconfig} has no current cluster with a server; pass --context`
        : 'in-cluster config has no API server (KUBERNETES_SERVICE_HOST unset?); pass --kubeconfig',
    );
  }
  return kc;
}
