/** Appends ids one by one: push(...ids) passes each id as an argument, and a pasted document's
 *  200,000 overflow the stack. */
export function appendIds(target: number[], ids: readonly number[]): void {
  for (const id of ids) target.push(id);
}
