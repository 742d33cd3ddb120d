/**
 * What went wrong, for callers that branch on it (the CLI maps `usage` to exit code 2,
 * everything else to 1).
 * - `usage`: an argument or option is invalid.
 * - `data`: the input data or a model file is unusable.
 * - `numerical`: the fit cannot continue (for example a covariance that is not positive definite).
 * - `gpu`: no adapter, a validation error, device loss, or a limit the adapter cannot meet.
 */
export type ErrorKind = 'usage' | 'data' | 'numerical' | 'gpu';

/** Every error webgpu-em raises on purpose: one line that says what, where and what to do. */
export class WebGpuEmError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebGpuEmError';
    this.kind = kind;
  }
}

export const usageError = (message: string): WebGpuEmError => new WebGpuEmError('usage', message);
export const dataError = (message: string): WebGpuEmError => new WebGpuEmError('data', message);
