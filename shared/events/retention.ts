/** Event-stream retention: how long and how much of the log NATS keeps (0 = unlimited). */
export interface StreamRetention {
  maxAgeSeconds: number;
  maxBytes: number;
}

/**
 * Retention from the `--log-max-age-hours` / `--log-max-bytes` flags: undefined when neither is
 * set, meaning "leave the stream's limits as they are".
 */
export function retentionFromFlags(
  maxAgeHours: number | undefined,
  maxBytes: number | undefined,
): StreamRetention | undefined {
  if (maxAgeHours === undefined && maxBytes === undefined) return undefined;
  return { maxAgeSeconds: Math.round((maxAgeHours ?? 0) * 3600), maxBytes: maxBytes ?? 0 };
}
