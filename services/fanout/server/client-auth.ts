/**
 * Who an xDS client is and which groups it may receive, decided when its stream opens — before
 * any request is read — from its credentials:
 *
 * - a verified client certificate (mutual TLS) naming groups (peer-identity.ts), and/or
 * - `authorization: Bearer <token>` in the stream's metadata, looked up in the token table
 *   (bearer-tokens.ts).
 *
 * Rules:
 * - A malformed or unknown bearer token: UNAUTHENTICATED (a wrong credential is never ignored in
 *   favour of another one).
 * - No credential at all: UNAUTHENTICATED, unless the server runs with `--allow-unauthenticated`;
 *   then the stream is anonymous, may claim any group, and every such stream is logged as a warning.
 * - A verified certificate that names no group and no token: PERMISSION_DENIED.
 * - Certificate and token together: the stream may receive the groups both allow (intersection).
 *
 * Then, at the first request, {@link resolveGroup} picks the stream's group: the node's
 * `ambassador_id` may narrow the allowed groups to one of them, never name another one
 * (PERMISSION_DENIED). Without a claim, a credential allowing one group gets that group; one
 * allowing several gets the server's default group if it is among them.
 */
import { timingSafeEqual } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { TokenTable } from './bearer-tokens.ts';
import { claimedGroup, groupsFromCertificate, type NodeInfo } from './peer-identity.ts';

export interface ClientAuthOptions {
  /** Accepted bearer tokens; absent: bearer tokens are refused. */
  tokens?: TokenTable;
  /** Client certificates are verified (mutual TLS); they may name groups. */
  certificates?: { trustDomains: readonly string[] };
  /** Streams without any credential are served, as anonymous (logged as a warning each). */
  allowUnauthenticated: boolean;
}

/** The authenticated identity of one stream. */
export interface Principal {
  readonly via: 'certificate' | 'token' | 'certificate+token' | 'anonymous';
  /** Groups it may receive, sorted; null: any (anonymous under --allow-unauthenticated). */
  readonly groups: readonly string[] | null;
  /** Safe to log: a token's hash prefix and/or the certificate's subject. */
  readonly name: string;
}

export interface AuthRefusal {
  code: grpc.status.UNAUTHENTICATED | grpc.status.PERMISSION_DENIED;
  /** Sent to the client; names no secret. */
  details: string;
  /** A fixed metric/log reason. */
  reason: string;
}

export type AuthOutcome = { principal: Principal } | { refused: AuthRefusal };

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/** Longest `authorization` value a {@link ConnectionAuth} remembers (longer ones are checked every time). */
export const MAX_REMEMBERED_AUTHORIZATION = 512;

/**
 * One connection's last authentication, so that its streams — which carry the same credentials:
 * one client certificate, and Envoy sends the same token on every stream — are verified once per
 * connection instead of once per stream (hashing the token and comparing it with every entry).
 *
 * It remembers one outcome with what decided it: the `authorization` value, the options and token
 * table, and the certificate object. A stream presenting anything else — another token, none, a
 * table replaced since (a revoked token is refused from then on) — is authenticated afresh, and its
 * outcome replaces the remembered one. The presented value is compared with the remembered one in
 * constant time (a connection may multiplex several clients' streams), and only values of at most
 * {@link MAX_REMEMBERED_AUTHORIZATION} bytes are remembered: one bounded entry per connection.
 */
export class ConnectionAuth {
  private header: Buffer | null = null;
  private opts?: ClientAuthOptions;
  private tokens?: TokenTable;
  private cert?: PeerCertificate;
  private outcome?: AuthOutcome;
  /** Streams authenticated from the remembered outcome (for tests and debugging). */
  hits = 0;

  /** The remembered outcome if every input matches, else undefined. */
  recall(
    opts: ClientAuthOptions,
    header: Buffer | null,
    cert: PeerCertificate | undefined,
  ): AuthOutcome | undefined {
    const o = this.outcome;
    if (!o || opts !== this.opts || opts.tokens !== this.tokens || cert !== this.cert) return undefined;
    const kept = this.header;
    if (kept === null || header === null) {
      if (kept !== header) return undefined;
    } else if (kept.length !== header.length || !timingSafeEqual(kept, header)) return undefined;
    this.hits++;
    return o;
  }

  remember(
    opts: ClientAuthOptions,
    header: Buffer | null,
    cert: PeerCertificate | undefined,
    outcome: AuthOutcome,
  ): void {
    if (header && header.length > MAX_REMEMBERED_AUTHORIZATION) {
      this.outcome = undefined;
      return;
    }
    this.header = header;
    this.opts = opts;
    this.tokens = opts.tokens;
    this.cert = cert;
    this.outcome = outcome;
  }
}

/**
 * Authenticates a stream from its initial metadata and verified client certificate. With
 * `connection`, the outcome is remembered for the connection's next streams ({@link ConnectionAuth});
 * `cert` must then be the same object for every stream of the connection.
 */
export function authenticate(
  opts: ClientAuthOptions,
  metadata: grpc.Metadata | undefined,
  cert: PeerCertificate | undefined,
  connection?: ConnectionAuth,
): AuthOutcome {
  const values = metadata?.get('authorization') ?? [];
  const value = values[0];
  if (!connection || values.length > 1 || (value !== undefined && typeof value !== 'string')) {
    return verify(opts, values, cert);
  }
  const header = value === undefined ? null : Buffer.from(value, 'utf8');
  const known = connection.recall(opts, header, cert);
  if (known) return known;
  const outcome = verify(opts, values, cert);
  connection.remember(opts, header, cert, outcome);
  return outcome;
}

function verify(
  opts: ClientAuthOptions,
  values: ReturnType<grpc.Metadata['get']>,
  cert: PeerCertificate | undefined,
): AuthOutcome {
  let token: { groups: readonly string[]; label: string } | undefined;
  if (values.length > 0) {
    const header = values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
    const m = header !== undefined ? BEARER.exec(header) : null;
    if (!m?.[1]) {
      return refuse(
        grpc.status.UNAUTHENTICATED,
        'malformed authorization metadata: expected one "Bearer <token>"',
        'malformed_authorization',
      );
    }
    if (!opts.tokens) {
      return refuse(
        grpc.status.UNAUTHENTICATED,
        'this server accepts no bearer tokens',
        'token_not_accepted',
      );
    }
    const entry = opts.tokens.match(m[1]);
    if (!entry) return refuse(grpc.status.UNAUTHENTICATED, 'unknown bearer token', 'unknown_token');
    token = entry;
  }
  const certGroups =
    opts.certificates && cert ? groupsFromCertificate(cert, opts.certificates.trustDomains) : undefined;
  const certName = cert ? `cert:${cert.subject?.CN ?? '?'}` : '';
  if (certGroups && certGroups.length > 0 && token) {
    const both = certGroups.filter((g) => token.groups.includes(g));
    if (both.length === 0) {
      return refuse(
        grpc.status.PERMISSION_DENIED,
        'the client certificate and the bearer token allow no common group',
        'credentials_disagree',
      );
    }
    return { principal: { via: 'certificate+token', groups: both, name: `${certName} ${token.label}` } };
  }
  if (token) return { principal: { via: 'token', groups: token.groups, name: token.label } };
  if (certGroups && certGroups.length > 0) {
    return { principal: { via: 'certificate', groups: certGroups, name: certName } };
  }
  if (certGroups) {
    return refuse(
      grpc.status.PERMISSION_DENIED,
      opts.certificates?.trustDomains.length
        ? `client certificate names no group in trust domain(s) ${opts.certificates.trustDomains.join(', ')}`
        : 'client certificate names no group',
      'certificate_without_group',
    );
  }
  if (opts.allowUnauthenticated) return { principal: { via: 'anonymous', groups: null, name: 'anonymous' } };
  return refuse(
    grpc.status.UNAUTHENTICATED,
    'authentication required: present a client certificate naming a group or "authorization: Bearer <token>"',
    'no_credential',
  );
}

/** The group a stream of `principal` receives given its first node, or why it is refused. */
export function resolveGroup(
  principal: Principal,
  node: NodeInfo | null | undefined,
  defaultGroup: string,
): { group: string } | { denied: string } {
  const claim = claimedGroup(node);
  const allowed = principal.groups;
  if (allowed === null) return { group: claim ?? defaultGroup };
  if (claim !== undefined) {
    return allowed.includes(claim)
      ? { group: claim }
      : { denied: `credential does not allow group "${claim.slice(0, 100)}"` };
  }
  if (allowed.length === 1) return { group: allowed[0] as string };
  if (allowed.includes(defaultGroup)) return { group: defaultGroup };
  return { denied: 'credential allows several groups: name one with node metadata ambassador_id' };
}

function refuse(code: AuthRefusal['code'], details: string, reason: string): { refused: AuthRefusal } {
  return { refused: { code, details, reason } };
}
