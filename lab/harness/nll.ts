// Negative log-likelihood of one target under a row of logits, in float64: the per-token score the
// harness and the onnxruntime oracle both report.

export function negLogLikelihood(logits: ArrayLike<number>, offset: number, vocab: number, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
  return Math.log(sum) + max - logits[offset + target];
}
