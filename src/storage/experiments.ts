// The Experiment view's results in IndexedDB: every run is kept, finished or stopped, with its
// model, text and settings, so runs on different models can be compared later.

import type { ExperimentResult } from '../protocol/messages.ts';
import { chatDb, reading, writing } from './db.ts';
import type { StoredExperiment } from './records.ts';

export async function saveExperiment(result: ExperimentResult): Promise<StoredExperiment> {
  const record: StoredExperiment = { id: crypto.randomUUID(), savedAt: Date.now(), result };
  const db = await chatDb();
  await writing(() => db.put('experiments', record));
  return record;
}

/** Every saved run, newest first. */
export async function listExperiments(): Promise<StoredExperiment[]> {
  const db = await chatDb();
  const all = await reading(() => db.getAll('experiments'));
  return all.sort((a, b) => b.savedAt - a.savedAt);
}

export async function deleteExperiment(id: string): Promise<void> {
  const db = await chatDb();
  await writing(() => db.delete('experiments', id));
}
