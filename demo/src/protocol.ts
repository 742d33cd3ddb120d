/** Messages between the page and the Worker that loads, fits and draws. */
import type { Settings } from './algorithms.js';
import type { GeneratorSpec } from './data.js';

export type Axes =
  { readonly kind: 'pca' } | { readonly kind: 'features'; readonly a: number; readonly b: number };

export type ToWorker =
  | { type: 'init'; canvas: OffscreenCanvas; backend: 'webgpu' | 'cpu'; width: number; height: number }
  | { type: 'resize'; width: number; height: number }
  | { type: 'generate'; spec: GeneratorSpec }
  | { type: 'file'; file: File }
  | { type: 'settings'; settings: Settings }
  | { type: 'run' }
  | { type: 'step' }
  | { type: 'pause' }
  | { type: 'cancel' }
  | { type: 'bic'; kMin: number; kMax: number }
  | { type: 'axes'; axes: Axes }
  /** Pan by a fraction of the plot (x right, y up), zoom by a factor around a point (fractions from the centre). */
  | { type: 'camera'; panX: number; panY: number; zoom: number; atX: number; atY: number }
  | { type: 'reset-camera' }
  | { type: 'download'; what: 'model' | 'labels' | 'image' }
  /** After a lost device: a fresh device, the data uploaded again. */
  | { type: 'retry' };

export type RunState = 'empty' | 'ready' | 'running' | 'paused' | 'done' | 'cancelled' | 'busy';

export type FromWorker =
  | { type: 'adapter'; name: string }
  | { type: 'device-lost'; message: string }
  | { type: 'progress'; what: string; fraction: number }
  | { type: 'data'; name: string; rows: number; cols: number; columns: string[] | null; hasTruth: boolean }
  | { type: 'state'; state: RunState; note?: string }
  | {
      type: 'iteration';
      iteration: number;
      objective: number;
      seconds: number;
      /** Samples x components per second. */
      throughput: number;
      /** The components' weights after the step, or null where the algorithm gives none to plot. */
      weights: number[] | null;
    }
  /** The labels pass and the frame after a step: the render view's E-step, the draw. */
  | { type: 'frame'; seconds: number; labelSeconds: number }
  | { type: 'axes'; labels: [string, string] }
  | { type: 'result'; converged: boolean; ari: number | null }
  | { type: 'bic'; k: number; bic: number }
  | { type: 'bic-done'; best: number }
  | { type: 'download'; name: string; data: Blob }
  | { type: 'error'; message: string };
