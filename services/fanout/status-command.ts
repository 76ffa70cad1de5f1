/**
 * `attache status (--nats URL | --admin URL) [--group G] [--json] [--wait-ms N]`: listens to the
 * fan-out nodes' status reports (`attache.fleet.<group>.status`) for a few seconds and prints, per
 * group and type, how many nodes have ACKed each version, summed over every fan-out node that
 * reported, and the NACKs that still stand with their error and the source objects behind the
 * rejected resources (fleet/convergence.ts). Each fan-out node reports every 2 s, so the default
 * 3 s window hears every live one. With --admin it reads one process's `/debug/fleet` instead (a
 * fan-out, or `attache dev`, whose embedded fan-out publishes nowhere), and prints no objects in
 * error (those are read from NATS).
 *
 * Then every object the compiler reports in error, read from the status bucket (KV
 * `ATTACHE_STATUS`, shared/events/status-keys.ts): objects rejected by the compiler, objects an
 * ingestor could not publish (too large, undecodable) and a YAML directory's load problems
 * (`IngestError <file>#<document>`: YAML that does not parse, bytes that are not UTF-8, duplicate
 * identities), each with its reason. `--json` prints `{ fleet, errors }`.
 *
 * Exit code 0 when at least one fan-out report arrived, 1 when none did.
 */
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  decodeStatus,
  parseStatusKey,
  STATUS_BUCKET,
  type StatusKeyParts,
} from '../../shared/events/status-keys.ts';
import {
  type AdminEndpoint,
  adminClientToken,
  adminEndpoint,
  getAdminJson,
} from '../../shared/runtime/admin-client.ts';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import {
  type NatsSecurity,
  natsSecurityFromFlags,
  natsServers,
} from '../../shared/runtime/connection-flags.ts';
import { ConfigError } from '../../shared/runtime/errors.ts';
import { aggregateStatus, formatStatus } from './fleet/convergence.ts';
import { fleetFilter, type StatusEvent } from './fleet/fleet-messages.ts';

/** Body of a fan-out's (or `attache dev`'s) `/debug/fleet`. */
export interface FleetDebugBody {
  fanout: string;
  groups: StatusEvent[];
  streams: number;
}

/** Collects status reports for `waitMs`. */
export async function collectStatus(
  url: string,
  group: string | undefined,
  waitMs: number,
  security?: NatsSecurity,
): Promise<StatusEvent[]> {
  const nc = await connect({
    ...security,
    servers: natsServers(url),
    name: 'attache-status',
  });
  const out: StatusEvent[] = [];
  try {
    const sub = nc.subscribe(fleetFilter('status', group), {
      callback: (err, msg) => {
        if (err) return;
        try {
          const body = JSON.parse(Buffer.from(msg.data).toString('utf8')) as StatusEvent;
          if (body.kind === 'status') out.push(body);
        } catch {
          // Not a status report.
        }
      },
    });
    await new Promise((r) => setTimeout(r, waitMs));
    sub.unsubscribe();
  } finally {
    await nc.close();
  }
  return out;
}

/** One object in error, as the compiler last published it. */
export interface ObjectError extends StatusKeyParts {
  reason: string;
  /** Snapshot version that first produced this error. */
  version: number;
}

/**
 * Every object in error in the status bucket, sorted by identity; undefined when the bucket does
 * not exist (no compiler publishes status: `attache compile --no-publish-status`).
 */
export async function collectObjectErrors(
  url: string,
  security?: NatsSecurity,
  opts: { bucket?: string; timeoutMs?: number } = {},
): Promise<ObjectError[] | undefined> {
  const nc = await connect({ ...security, servers: natsServers(url), name: 'attache-status' });
  try {
    return await readObjectErrors(nc, opts.bucket ?? STATUS_BUCKET, opts.timeoutMs ?? 10_000);
  } finally {
    await nc.close();
  }
}

async function readObjectErrors(
  nc: NatsConnection,
  bucket: string,
  timeoutMs: number,
): Promise<ObjectError[] | undefined> {
  let kv: Awaited<ReturnType<Kvm['open']>>;
  try {
    kv = await new Kvm(nc).open(bucket);
    // open() does not look the bucket up; status() does.
    if ((await kv.status()).values === 0) return [];
  } catch (err) {
    if (/stream not found/i.test(String(err))) return undefined;
    throw err;
  }
  // The current value of every key: a watch of last values, up to the entry with nothing pending.
  const latest = new Map<string, ObjectError>();
  const iter = await kv.watch({ key: '>' });
  const timer = setTimeout(() => iter.stop(), timeoutMs);
  try {
    for await (const e of iter) {
      const parts = parseStatusKey(e.key);
      const status = e.operation === 'PUT' ? decodeStatus(e.string()) : undefined;
      if (parts && status?.state === 'error')
        latest.set(e.key, { ...parts, reason: status.reason, version: status.version });
      else latest.delete(e.key);
      if (e.delta === 0) break;
    }
  } finally {
    clearTimeout(timer);
    iter.stop();
  }
  const id = (o: ObjectError) => `${o.cluster}\u0000${o.kind}\u0000${o.namespace}\u0000${o.name}`;
  return [...latest.values()].sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

/** Human-readable list of the objects in error. */
export function formatObjectErrors(errors: readonly ObjectError[] | undefined): string {
  if (errors === undefined)
    return 'objects in error: unknown (no status bucket: no compiler publishes status)\n';
  if (errors.length === 0) return 'objects in error: none\n';
  const lines = [`objects in error: ${errors.length}`];
  for (const e of errors)
    lines.push(`  ${e.cluster} ${e.kind} ${e.namespace}/${e.name} (since version ${e.version}): ${e.reason}`);
  return `${lines.join('\n')}\n`;
}

/** The status reports of one process, from its admin port's `/debug/fleet`. */
export async function statusFromAdmin(
  admin: AdminEndpoint,
  group: string | undefined,
): Promise<StatusEvent[]> {
  const body = await getAdminJson<FleetDebugBody>(admin, new URL('/debug/fleet', admin.url));
  return body.groups.filter((g) => group === undefined || g.group === group);
}

export async function runStatus(flags: Record<string, FlagValue>): Promise<number> {
  const nats = flag.str(flags, 'nats');
  const admin = flag.str(flags, 'admin');
  if (!nats === !admin) throw new ConfigError('give exactly one of --nats or --admin');
  const security = natsSecurityFromFlags(flags);
  const [reports, errors] = admin
    ? [await statusFromAdmin(adminEndpoint(admin, adminClientToken(flags)), flag.str(flags, 'group')), null]
    : await Promise.all([
        collectStatus(
          nats ?? '',
          flag.str(flags, 'group'),
          typeof flags['wait-ms'] === 'number' ? flags['wait-ms'] : 3000,
          security,
        ),
        collectObjectErrors(nats ?? '', security),
      ]);
  const fleet = aggregateStatus(reports);
  process.stdout.write(
    flag.bool(flags, 'json')
      ? `${JSON.stringify({ fleet, errors: errors ?? null }, null, 2)}\n`
      : `${formatStatus(fleet)}${errors === null ? '' : formatObjectErrors(errors)}`,
  );
  return reports.length > 0 ? 0 : 1;
}
