/** What loading a YAML directory yields: objects with where they were defined, and what failed. */
import type { SourceObject } from '../../../shared/events/envelope.ts';

/** One object and where it was defined. */
export interface LoadedDocument {
  /** Path relative to the directory, `/` separators. */
  file: string;
  /** 0-based index of the document within the file (empty documents count). */
  document: number;
  object: SourceObject;
}

/** A document, file or directory that could not be loaded, and why. */
export interface LoadError {
  file: string;
  document?: number;
  /** 1-based line where the problem (or the document) starts. */
  line?: number;
  kind?: string;
  name?: string;
  message: string;
}
