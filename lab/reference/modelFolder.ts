// A model folder on disk read through the app's own path from named files to ModelFiles
// (toModelFiles), as the local-folder source does in the browser.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFiles } from '../../src/engine/files/modelFiles.ts';
import { toModelFiles } from '../../src/engine/files/modelBlobs.ts';

/**
 * Reads only the chosen graph and its external data where the folder holds several. `edits`
 * changes the folder as read, by path: new text for a file, or null to leave it out (a repository
 * that ships no generation_config.json).
 */
export async function loadModelFolder(folder: string, onnxFile?: string, edits: Record<string, string | null> = {}): Promise<ModelFiles> {
  const files: Record<string, Blob> = {};
  for (const sub of ['', 'onnx/']) {
    let names: string[] = [];
    try {
      names = readdirSync(join(folder, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(folder, sub, name);
      if (!statSync(path).isFile()) continue;
      const isGraph = /\.onnx((_data|\.data)(_\d+)?)?$/.test(name);
      if (!isGraph || !onnxFile || (sub + name).startsWith(onnxFile)) files[sub + name] = new Blob([readFileSync(path)]);
    }
  }
  for (const [path, text] of Object.entries(edits)) {
    if (text === null) delete files[path];
    else files[path] = new Blob([text]);
  }
  return toModelFiles({ id: folder, files }, { onnxFile });
}
