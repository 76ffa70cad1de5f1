/**
 * Typed errors. A message says what went wrong and what the operator should do about it.
 * User errors (bad resources) never surface as exceptions to a service loop: they become status.
 */

export class AttacheError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid command line flags or environment. */
export class ConfigError extends AttacheError {}

/** A dependency (NATS, Redis) could not be reached or refused an operation. */
export class DependencyError extends AttacheError {}

/** Another committer holds a newer fencing epoch; this one must stop committing. */
export class FencedError extends AttacheError {}

/** Generated Envoy configuration failed validation: nothing is published, the last good stays. */
export class InvalidOutputError extends AttacheError {}

/**
 * An event is larger than the log accepts (NATS `max_payload`), even compressed. Retrying cannot
 * fix it: the publisher records the object as rejected instead and goes on with other changes.
 */
export class EventTooLargeError extends AttacheError {
  constructor(
    message: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
