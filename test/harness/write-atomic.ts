import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes a file via a temporary file in the same directory and a rename, as editors and GitOps
 * tools do, so a watcher never reads a half-written file.
 */
export function writeAtomic(file: string, body: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, body);
  fs.renameSync(tmp, file);
}
