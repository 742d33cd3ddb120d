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

/**
 * Text from a file or the environment made safe for a terminal line: control characters (C0,
 * DEL, C1), line and paragraph separators and bidirectional overrides are escaped as \xNN or
 * \uNNNN, lone surrogates likewise, and anything past `max` characters is cut to `...`.
 */
export function printable(text: string, max = 200): string {
  const clipped = text.length > max ? `${text.slice(0, Math.max(0, max - 3))}...` : text;
  return clipped.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => {
      const code = c.charCodeAt(0);
      return code < 0x100
        ? `\\x${code.toString(16).padStart(2, '0')}`
        : `\\u${code.toString(16).padStart(4, '0')}`;
    },
  );
}

/** A string from a file, quoted for a message: escaped and clipped as {@link printable}. */
export function quoted(text: string, max = 40): string {
  return `"${printable(text, max).replace(/"/g, '\\"')}"`;
}
