/**
 * Which group a node belongs to, and which groups its client certificate allows.
 *
 * Group claim: `node.metadata.ambassador_id` when it is a non-empty string, else the server's
 * default group.
 *
 * Certificate rule (only with mutual TLS, i.e. when the server verifies client certificates): a
 * certificate allows group G when it carries
 *   - a URI SAN `spiffe://<any trust domain>/group/<G>` (G percent-decoded), or
 *   - a subject common name `group:<G>`.
 * A certificate may allow several groups. A certificate that allows none is refused for every
 * group. The trust domain is not checked: trust comes from the client CA the server was given.
 * A node whose claimed group is not allowed is refused with PERMISSION_DENIED.
 */
import type { PeerCertificate } from 'node:tls';
import type { DiscoveryRequest } from './discovery-codec.ts';

export type NodeInfo = NonNullable<DiscoveryRequest['node']>;

/** `node.metadata.ambassador_id` when it is a non-empty string, else the default group. */
export function groupOf(node: NodeInfo | null | undefined, defaultGroup: string): string {
  const v = node?.metadata?.fields?.ambassador_id;
  return v?.stringValue ? v.stringValue : defaultGroup;
}

const SPIFFE_GROUP = /^spiffe:\/\/[^/]+\/group\/([^/]+)$/;
const CN_GROUP = /^group:(.+)$/;

/** The groups a verified client certificate allows (see the rule above), sorted and unique. */
export function groupsFromCertificate(cert: PeerCertificate | undefined): string[] {
  if (!cert) return [];
  const out = new Set<string>();
  for (const entry of splitSubjectAltName(cert.subjectaltname ?? '')) {
    if (!entry.startsWith('URI:')) continue;
    const m = SPIFFE_GROUP.exec(entry.slice(4));
    if (m?.[1]) {
      try {
        out.add(decodeURIComponent(m[1]));
      } catch {
        // A malformed escape names no group.
      }
    }
  }
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
