import { statSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The handler-file check that synth and local start give `resolveTopology`: a group's handler path,
 * relative to `projectRoot`, must name a file. Returns what is wrong (with the absolute path looked
 * at), or undefined. Kept out of `lib/` because it touches the file system, which Lambda never needs.
 */
export function handlerFileCheck(projectRoot: string): (handler: string) => string | undefined {
  return (handler) => {
    const file = path.resolve(projectRoot, handler);
    try {
      const stat = statSync(file);
      if (stat.isFile()) return undefined;
      return stat.isDirectory()
        ? `is a directory, not a module (${file})`
        : `is not a regular file (${file})`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR'
        ? `does not exist (looked for ${file})`
        : `cannot be read (${code}: ${file})`;
    }
  };
}
