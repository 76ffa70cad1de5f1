/**
 * Reading another process's admin port (`/debug/*`), as the debugging commands and
 * `attache status --admin` do. A port bound beyond loopback serves those routes only with the
 * admin bearer token (see admin-server.ts), so the client sends it when it has one: the same
 * `ATTACHE_ADMIN_TOKEN` / `--admin-token-file` the server takes.
 */
import type { FlagSpecs, FlagValue } from './config.ts';
import { secretValue } from './connection-flag-specs.ts';
import { DependencyError, errorMessage } from './errors.ts';

/** Flags of a command that reads an admin port: the token it presents. */
export const ADMIN_CLIENT_FLAGS = {
  'admin-token': {
    type: 'string',
    secret: true,
    description:
      'bearer token to present to an --admin port bound beyond loopback; environment only (ATTACHE_ADMIN_TOKEN)',
  },
  'admin-token-file': { type: 'string', description: 'file holding the admin bearer token to present' },
} as const satisfies FlagSpecs;

/** The token a client presents, if any (`ATTACHE_ADMIN_TOKEN` or `--admin-token-file`). */
export function adminClientToken(flags: Record<string, FlagValue>): string | undefined {
  return secretValue(flags, 'admin-token');
}

/** One admin port, e.g. `http://10.0.0.7:8877`, and the token to present to it. */
export interface AdminEndpoint {
  readonly url: string;
  readonly token?: string;
}

/** An endpoint with the token when there is one (exactOptionalPropertyTypes forbids `token: undefined`). */
export function adminEndpoint(url: string, token: string | undefined): AdminEndpoint {
  return token === undefined ? { url } : { url, token };
}

/** GETs a JSON admin route; an unreachable port or a non-2xx answer is a DependencyError naming it. */
export async function getAdminJson<T>(admin: AdminEndpoint, url: URL): Promise<T> {
  const headers: Record<string, string> = {};
  if (admin.token !== undefined) headers.authorization = `Bearer ${admin.token}`;
  let res: Response;
  try {
    res = await fetch(url, { headers });
  } catch (err) {
    throw new DependencyError(`cannot reach the admin port at ${admin.url}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (!res.ok) {
    const hint =
      res.status === 401 || res.status === 403
        ? admin.token === undefined
          ? ' (the port is bound beyond loopback: give its token with ATTACHE_ADMIN_TOKEN or --admin-token-file)'
          : ' (the token given was refused)'
        : '';
    throw new DependencyError(
      `${url.href} answered ${res.status}: ${(await res.text()).slice(0, 200).trim()}${hint}`,
    );
  }
  return (await res.json()) as T;
}
