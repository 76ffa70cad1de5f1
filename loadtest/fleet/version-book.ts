/**
 * What a worker knows about every distinct piece of configuration its streams received: a SotW
 * (type, version) or a delta (type, resource, version). Facts are computed the first time any
 * stream sees the key and shared by all streams afterwards, so per-stream work stays bookkeeping.
 *
 * `rank` orders keys by first sighting. Every stream of the fleet follows the same commit order,
 * so a stream that ends up holding a key of lower rank than it held before went backwards: that
 * is how the reconnect storm checks for version regressions without trusting any counter.
 */
import { ROUTE_TYPE, VIRTUAL_HOST_TYPE } from '../../shared/xds/type-urls.ts';
import { lengthPrefixed } from './wire.ts';

/** A content check the driver arms before it applies a change (the bytes it must find on the wire). */
export interface Probe {
  id: string;
  typeUrl: string;
  /** Must occur in the response (resource bytes for delta). Base64 on the IPC channel. */
  present: string;
  /** Must not occur: rules out a partial commit of a multi-object change. */
  absent?: string;
}

export interface ArmedProbe {
  id: string;
  typeUrl: string;
  present: Buffer;
  absent?: Buffer;
}

export function armProbe(p: Probe): ArmedProbe {
  return {
    id: p.id,
    typeUrl: p.typeUrl,
    present: Buffer.from(p.present, 'base64'),
    ...(p.absent ? { absent: Buffer.from(p.absent, 'base64') } : {}),
  };
}

/** A probe for a string field value: matched with its length prefix, so "10.1.1.1" never matches "10.1.1.10". */
export function stringFieldProbe(id: string, typeUrl: string, value: string, absentValue?: string): Probe {
  return {
    id,
    typeUrl,
    present: lengthPrefixed(value).toString('base64'),
    ...(absentValue !== undefined ? { absent: lengthPrefixed(absentValue).toString('base64') } : {}),
  };
}

/** A probe for a substring (e.g. a tag inside route prefixes). */
export function substringProbe(id: string, typeUrl: string, value: string, absentValue?: string): Probe {
  return {
    id,
    typeUrl,
    present: Buffer.from(value, 'utf8').toString('base64'),
    ...(absentValue !== undefined ? { absent: Buffer.from(absentValue, 'utf8').toString('base64') } : {}),
  };
}

export interface Facts {
  readonly rank: number;
  /** Payload size: the response (SotW) or the resource entry (delta). */
  readonly bytes: number;
  /** Names of the dependent type this content requires (EDS for CDS, RDS for LDS). */
  readonly deps: readonly string[];
  /** Ids of the probes armed at first sighting that this content satisfies. */
  readonly hits: ReadonlySet<string>;
}

export class VersionBook {
  private readonly facts = new Map<string, Facts>();
  private readonly armed = new Map<string, ArmedProbe>();
  private nextRank = 0;

  arm(p: Probe): void {
    this.armed.set(p.id, armProbe(p));
  }

  disarm(id: string): void {
    this.armed.delete(id);
  }

  /**
   * Facts for `key`, computed from `buf[start, end)` on first sighting. Content first seen before a
   * probe was armed cannot satisfy it: probes look for content written after arming.
   */
  get(key: string, typeUrl: string, buf: Buffer, start: number, end: number, deps: () => string[]): Facts {
    const known = this.facts.get(key);
    if (known) return known;
    const hits = new Set<string>();
    const view = buf.subarray(start, end);
    for (const p of this.armed.values()) {
      // A virtual host sent over VHDS is part of the route configuration a probe looks at.
      if (p.typeUrl !== typeUrl && !(p.typeUrl === ROUTE_TYPE && typeUrl === VIRTUAL_HOST_TYPE)) continue;
      if (view.indexOf(p.present) < 0) continue;
      if (p.absent && view.indexOf(p.absent) >= 0) continue;
      hits.add(p.id);
    }
    const f: Facts = { rank: this.nextRank++, bytes: end - start, deps: deps(), hits };
    this.facts.set(key, f);
    return f;
  }

  rankOf(key: string): number | undefined {
    return this.facts.get(key)?.rank;
  }

  get size(): number {
    return this.facts.size;
  }
}
