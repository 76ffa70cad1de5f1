/**
 * Which group a node belongs to, and which groups its client certificate allows.
 *
 * Group claim: `node.metadata.ambassador_id` when it is a non-empty string. The claim only
 * narrows what the stream's credential allows (client-auth.ts); it never grants a group.
 *
 * Certificate rule (only with mutual TLS, i.e. when the server verifies client certificates): a
 * certificate allows group G when it carries
 *   - a URI SAN `spiffe://<trust domain>/group/<G>` (G percent-decoded), or
 *   - a subject common name `group:<G>` — only when no trust domain is configured.
 * With trust domains configured (`--trust-domain`), only SPIFFE IDs in one of them count: the CA
 * may sign for several domains, and a common name carries no domain at all. Without, any trust
 * domain is accepted and trust comes from the client CA alone. A certificate may allow several
 * groups; one that allows none authenticates for no group.
 */
import type { PeerCertificate } from 'node:tls';
import type { DiscoveryRequest } from './discovery-codec.ts';

export type NodeInfo = NonNullable<DiscoveryRequest['node']>;

/** `node.metadata.ambassador_id` when it is a non-empty string, else undefined. */
export function claimedGroup(node: NodeInfo | null | undefined): string | undefined {
  const v = node?.metadata?.fields?.ambassador_id;
  return v?.stringValue ? v.stringValue : undefined;
}

/**
 * `node.metadata.attache_vhds` is true (or the string "true"): the node wants its route
 * configurations' virtual hosts over VHDS. Only delta clients can take them (Envoy refuses VHDS
 * on a state-of-the-world ADS stream), so only the delta stream reads this.
 */
export function wantsVhds(node: NodeInfo | null | undefined): boolean {
  const v = node?.metadata?.fields?.attache_vhds;
  return v?.boolValue === true || v?.stringValue === 'true';
}

const SPIFFE_GROUP = /^spiffe:\/\/([^/]+)\/group\/([^/]+)$/;
const CN_GROUP = /^group:(.+)$/;

/**
 * The groups a verified client certificate allows (see the rule above), sorted and unique.
 * `trustDomains` empty: any trust domain, and `group:<G>` common names.
 */
export function groupsFromCertificate(
  cert: PeerCertificate | undefined,
  trustDomains: readonly string[] = [],
): string[] {
  if (!cert) return [];
  const out = new Set<string>();
  for (const entry of splitSubjectAltName(cert.subjectaltname ?? '')) {
    if (!entry.startsWith('URI:')) continue;
    const m = SPIFFE_GROUP.exec(entry.slice(4));
    if (!m?.[1] || !m[2]) continue;
    if (trustDomains.length > 0 && !trustDomains.includes(m[1].toLowerCase())) continue;
    try {
      out.add(decodeURIComponent(m[2]));
    } catch {
      // A malformed escape names no group.
    }
  }
  if (trustDomains.length > 0) return [...out].sort();
  const cns = cert.subject?.CN;
  for (const cn of Array.isArray(cns) ? cns : cns ? [cns] : []) {
    const m = CN_GROUP.exec(cn);
    if (m?.[1]) out.add(m[1]);
  }
  return [...out].sort();
}

/** Node's `subjectaltname` is `TYPE:value, TYPE:value`; values containing commas are quoted. */
function splitSubjectAltName(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
