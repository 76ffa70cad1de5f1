/**
 * Fleet events the fan-out publishes on NATS (core publish, JSON bodies), and their subjects:
 *
 *   attache.fleet.<group>.nack     one message per NACK: who rejected what, and why
 *   attache.fleet.<group>.status   per fan-out node, every few seconds and soon after a change:
 *                                  per type, how many of its nodes ACKed each version
 *
 * `<group>` is escaped like event-log subject tokens (escapeToken), so any group name is one token.
 * JSON rather than msgpack: these are read by operators and tools (`nats sub`, `attache status`).
 */
import { escapeToken, unescapeToken } from '../../../shared/events/subjects.ts';
import type { ProvenanceObject } from '../../../shared/snapshot/provenance.ts';

export const FLEET_SUBJECT_ROOT = 'attache.fleet';

export type FleetEventKind = 'nack' | 'status';

export function fleetSubject(group: string, kind: FleetEventKind): string {
  return `${FLEET_SUBJECT_ROOT}.${escapeToken(group)}.${kind}`;
}

/** Subject filter for one group's events of `kind`, or every group's when `group` is absent. */
export function fleetFilter(kind: FleetEventKind, group?: string): string {
  return `${FLEET_SUBJECT_ROOT}.${group === undefined ? '*' : escapeToken(group)}.${kind}`;
}

/** The group a fleet subject is about. */
export function groupOfSubject(subject: string): string {
  return unescapeToken(subject.split('.')[2] ?? '_');
}

/** A node rejected a response. */
export interface NackEvent {
  kind: 'nack';
  /** The fan-out node that served the stream. */
  fanout: string;
  group: string;
  node: string;
  cluster: string;
  /** Short type name (CDS, EDS, LDS, RDS, SDS). */
  type: string;
  typeUrl: string;
  protocol: 'sotw' | 'delta';
  /** The version of the rejected response. */
  rejectedVersion: string;
  /** The version the node reports holding (SotW `version_info`). */
  clientVersion: string;
  errorDetail: { code: number; message: string };
  /** Names of the resources in the rejected response. */
  resources: string[];
  /**
   * The snapshot version served when the NACK arrived, and per rejected resource the source
   * objects (cluster/kind/namespace/name, resourceVersion, file) that produced it. Absent when the
   * fan-out could not tell.
   */
  snapshotVersion?: number;
  sources?: { resource: string; objects: ProvenanceObject[] }[];
  /** ISO 8601 time the NACK was received. */
  at: string;
}

/** Per type on one fan-out node: nodes per ACKed version, nodes whose last answer was a NACK. */
export interface TypeStatusSummary {
  acked: Record<string, number>;
  nacking: number;
  /** NACKs received for this type and group since the fan-out node started. */
  nacksTotal: number;
}

/** One fan-out node's view of one group. */
export interface StatusEvent {
  kind: 'status';
  fanout: string;
  group: string;
  /** Open streams of the group on this fan-out node. */
  streams: number;
  types: Record<string, TypeStatusSummary>;
  /**
   * NACKs that still stand on this node: per client node and type, its last NACK, until it ACKs
   * that type or disconnects (at most 20, newest last). Absent when there are none.
   */
  nacks?: NackEvent[];
  at: string;
}
