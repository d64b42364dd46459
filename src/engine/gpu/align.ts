/** Rounds a byte count up to a multiple of 4: WebGPU's alignment for buffer sizes, copies and writes. */
export const align4 = (n: number): number => Math.ceil(n / 4) * 4;
