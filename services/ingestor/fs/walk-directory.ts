/**
 * Lists the YAML files under a directory in a deterministic order: depth-first, entries of each
 * directory sorted by name (UTF-16 code units), so `a/x.yaml` comes before `a.yaml` and the order
 * never depends on the file system. Names starting with `.` are skipped (editor swap files,
 * `.git`, and the `..data` indirection of a mounted ConfigMap, whose files are reached through the
 * symlinks next to it). Symlinks are followed; a directory reached twice is listed once.
 */
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { LoadError } from './loaded-document.ts';

export interface DirectoryListing {
  /** YAML files, relative to the root with `/` separators, in traversal order. */
  files: string[];
  /** Absolute paths of every directory traversed, root first (what a watcher should watch). */
  directories: string[];
  /** Directories that could not be read (relative; `''` is the root). */
  unreadable: string[];
  errors: LoadError[];
}

const YAML_FILE = /\.ya?ml$/i;

export async function listYamlFiles(root: string): Promise<DirectoryListing> {
  const out: DirectoryListing = { files: [], directories: [], unreadable: [], errors: [] };
  const visited = new Set<string>();

  async function walk(rel: string): Promise<void> {
    const abs = rel === '' ? root : path.join(root, ...rel.split('/'));
    let entries: Dirent[];
    try {
      const real = await fs.realpath(abs);
      if (visited.has(real)) return;
      visited.add(real);
      entries = await fs.readdir(abs, { withFileTypes: true });
    } catch (err) {
      // A subdirectory removed mid-scan is simply gone; an unreadable one (or a missing root)
      // means we do not know what it holds.
      if (code(err) === 'ENOENT' && rel !== '') return;
      out.unreadable.push(rel);
      out.errors.push({
        file: rel === '' ? '.' : rel,
        message: `cannot read directory: ${errorMessage(err)}`,
      });
      return;
    }
    out.directories.push(abs);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const type = await entryType(entry, path.join(abs, entry.name));
      if (type === 'dir') await walk(child);
      else if (type === 'file' && YAML_FILE.test(entry.name)) out.files.push(child);
    }
  }

  await walk('');
  return out;
}

async function entryType(entry: Dirent, abs: string): Promise<'dir' | 'file' | 'other'> {
  if (entry.isDirectory()) return 'dir';
  if (entry.isFile()) return 'file';
  if (!entry.isSymbolicLink()) return 'other';
  try {
    const st = await fs.stat(abs);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch {
    return 'other'; // dangling link: nothing to read
  }
}

export function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
