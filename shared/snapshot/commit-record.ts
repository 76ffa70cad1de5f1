/**
 * What the compiler knows about one commit that is not a function of the log: how long it took,
 * under which fencing epoch, when, and which event range it folded since the group's previous
 * commit. Stored beside the manifest (never inside it), so manifests stay byte-identical on replay
 * while every committed version can still be explained.
 */
export interface CommitRecord {
  group: string;
  /** The committed version: the last event sequence folded. */
  version: number;
  /** First event sequence folded since the group's previous commit (1 for the first commit). */
  fromSeq: number;
  /** The committer's fencing epoch. */
  epoch: number;
  /** Wall time of the pure compile, in milliseconds. */
  compileMs: number;
  /** When the commit was made (ISO-8601). */
  committedAt: string;
  /** Diagnostics of the compile by severity (the diagnostics themselves are in the manifest's blob). */
  errors: number;
  warnings: number;
}

export function encodeCommitRecord(r: CommitRecord): string {
  return JSON.stringify(r);
}

export function decodeCommitRecord(text: string): CommitRecord {
  return JSON.parse(text) as CommitRecord;
}
