/**
 * The Worker: holds the data, fits it with the library's stepwise API and draws the plot into
 * the page's OffscreenCanvas on the library's own device (the model's render view gives the
 * device and the sample and label buffers after each step; a GPUDevice cannot cross to the
 * page). The page stays responsive whatever the data's size.
 */
import { releaseSharedDevices, selectGaussianMixture, type CovarianceType } from 'webgpu-em';
import { algorithm, type DemoModel, type Settings } from './algorithms.js';
import { adjustedRandIndex, generate, type Dataset } from './data.js';
import { featureAxes, fitWindow, outlines, pcaAxes, type Projection, type Window } from './geometry.js';
import { readCsv, readNpy } from './parse.js';
import type { Axes, FromWorker, RunState, ToWorker } from './protocol.js';
import { CanvasRenderer, Renderer } from './render.js';

const scope = self as unknown as {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
};
const post = (m: FromWorker) => scope.postMessage(m);

let canvas: OffscreenCanvas | null = null;
let backend: 'webgpu' | 'cpu' = 'webgpu';
let size = { width: 1, height: 1 };
let renderer: Renderer | null = null;
let canvasRenderer: CanvasRenderer | null = null;
let dataset: Dataset | null = null;
let settings: Settings | null = null;
let model: DemoModel | null = null;
/** The model was made from other settings or data than the current: replaced at the next run. */
let stale = false;
let axes: Axes = { kind: 'pca' };
let projection: Projection | null = null;
let plot: Window = { cx: 0, cy: 0, halfWidth: 1, halfHeight: 1 };
let running = false;
let cancelled = false;
let search: AbortController | null = null;
let lostDevice = false;

/** Commands that touch the model or the data run one after another. */
let queue: Promise<void> = Promise.resolve();
function serial(work: () => Promise<void>): void {
  queue = queue.then(work).catch((e: unknown) => {
    running = false;
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    setState(model ? 'paused' : dataset ? 'ready' : 'empty');
  });
}

function setState(state: RunState, note?: string): void {
  post({ type: 'state', state, note });
}

const matrix = () => {
  if (!dataset) throw new Error('load or generate data first');
  return { data: dataset.data, rows: dataset.rows, cols: dataset.cols };
};

scope.onmessage = ({ data: m }) => {
  switch (m.type) {
    case 'init':
      canvas = m.canvas;
      backend = m.backend;
      resize(m.width, m.height);
      if (backend === 'cpu') canvasRenderer = new CanvasRenderer(canvas.getContext('2d')!);
      return;
    case 'resize':
      resize(m.width, m.height);
      return;
    case 'pause':
      running = false;
      return;
    case 'cancel':
      running = false;
      cancelled = true;
      search?.abort();
      serial(cancel);
      return;
    case 'camera':
      moveCamera(m.panX, m.panY, m.zoom, m.atX, m.atY);
      return;
    case 'reset-camera':
      resetWindow();
      draw();
      return;
    case 'generate':
      serial(async () => {
        setState('busy', 'generating');
        load(await generate(m.spec, (f) => progress('generating', f)));
        await restart();
      });
      return;
    case 'file':
      serial(async () => {
        setState('busy', 'reading');
        const read = /\.npy$/i.test(m.file.name) ? readNpy : readCsv;
        load(await read(m.file, (f) => post({ type: 'progress', what: 'reading', fraction: f })));
        await restart();
      });
      return;
    case 'settings':
      settings = m.settings;
      stale = true;
      return;
    case 'axes':
      axes = m.axes;
      serial(async () => {
        setProjection();
        resetWindow();
        await redraw();
      });
      return;
    case 'run':
    case 'step':
      serial(() => run(m.type === 'run'));
      return;
    case 'bic':
      serial(() => chooseK(m.kMin, m.kMax));
      return;
    case 'download':
      serial(() => download(m.what));
      return;
    case 'retry':
      serial(async () => {
        lostDevice = false;
        model = null;
        renderer = null;
        releaseSharedDevices();
        await restart();
      });
      return;
  }
};

/** Lets the Worker answer messages during long loops. */
const progress = (what: string, fraction: number) =>
  new Promise<void>((resolve) => {
    post({ type: 'progress', what, fraction });
    setTimeout(resolve, 0);
  });

function resize(width: number, height: number): void {
  size = { width: Math.max(1, Math.round(width)), height: Math.max(1, Math.round(height)) };
  if (canvas) {
    canvas.width = size.width;
    canvas.height = size.height;
  }
  const aspect = size.height / size.width;
  plot = { ...plot, halfHeight: plot.halfWidth * aspect };
  draw();
}

function load(d: Dataset): void {
  // The plot lets go of the old model's buffers before they are freed.
  renderer?.setPoints(null);
  renderer?.setOverlay(new Float32Array(0));
  model?.dispose();
  model = null;
  dataset = d;
  post({
    type: 'data',
    name: d.name,
    rows: d.rows,
    cols: d.cols,
    columns: d.columns ? [...d.columns] : null,
    hasTruth: d.truth !== null,
  });
  if (axes.kind === 'features' && Math.max(axes.a, axes.b) >= d.cols) axes = { kind: 'pca' };
  setProjection();
  resetWindow();
  canvasRenderer?.setData(d.data, d.rows, d.cols);
}

function setProjection(): void {
  if (!dataset) return;
  const { data, rows, cols } = dataset;
  projection =
    axes.kind === 'pca' && cols > 2
      ? pcaAxes(data, rows, cols)
      : axes.kind === 'features'
        ? featureAxes(cols, axes.a, axes.b, dataset.columns)
        : featureAxes(cols, 0, cols > 1 ? 1 : -1, dataset.columns);
  post({ type: 'axes', labels: projection.labels });
  renderer?.setProjection(projection);
  canvasRenderer?.setProjection(projection);
}

function resetWindow(): void {
  if (dataset && projection)
    plot = fitWindow(projection, dataset.data, dataset.rows, size.height / size.width);
}

function moveCamera(panX: number, panY: number, zoom: number, atX: number, atY: number): void {
  const w = plot;
  const px = w.cx + atX * w.halfWidth;
  const py = w.cy + atY * w.halfHeight;
  const halfWidth = w.halfWidth / zoom;
  const halfHeight = w.halfHeight / zoom;
  plot = {
    cx: px - atX * halfWidth - panX * 2 * halfWidth,
    cy: py - atY * halfHeight - panY * 2 * halfHeight,
    halfWidth,
    halfHeight,
  };
  draw();
}

/** A fresh model of the current settings on the current data, initialised: the plot shows its start. */
async function restart(): Promise<void> {
  renderer?.setPoints(null);
  model?.dispose();
  model = null;
  if (!dataset || !settings) {
    setState(dataset ? 'ready' : 'empty');
    return;
  }
  setState('busy', 'initialising');
  const made = algorithm(settings.algorithm).create(settings, { backend });
  try {
    await made.initialize(matrix());
  } catch (error) {
    made.dispose();
    throw error;
  }
  model = made;
  stale = false;
  cancelled = false;
  const adapter = await made.adapter();
  if (adapter) post({ type: 'adapter', name: adapter });
  await redraw();
  setState('ready');
}

async function run(continuous: boolean): Promise<void> {
  if (lostDevice) throw new Error('the GPU device was lost; press Retry');
  if (!model || stale || model.done) await restart();
  const m = model!;
  running = continuous;
  cancelled = false;
  setState(continuous ? 'running' : 'paused');
  const work = dataset!.rows * settings!.k;
  do {
    const record = await m.step();
    post({
      type: 'iteration',
      iteration: record.iteration,
      objective: record.objective,
      seconds: record.seconds,
      throughput: work / record.seconds,
      weights: record.weights ? Array.from(record.weights) : null,
    });
    if (cancelled || model !== m) return;
    const started = performance.now();
    await redraw();
    // The frame finishes before the next step starts, so that the step's time is the fit's alone.
    await renderer?.device.queue.onSubmittedWorkDone();
    post({ type: 'frame', seconds: (performance.now() - started) / 1000, labelSeconds });
  } while (running && !m.done);
  running = false;
  if (m.done) {
    await report(m);
    setState('done');
  } else {
    setState('paused');
  }
}

/** The fit's outcome; for generated data, its agreement with the generator's groups. */
async function report(m: DemoModel): Promise<void> {
  const truth = dataset?.truth;
  let ari: number | null = null;
  if (truth) ari = adjustedRandIndex(truth, await m.predict(matrix()));
  post({ type: 'result', converged: m.converged, ari });
}

async function cancel(): Promise<void> {
  running = false;
  if (!dataset) return;
  await restart();
  setState('cancelled');
}

/** The plot from the model's current state: its render view (GPU) or its labels (CPU). */
async function redraw(): Promise<void> {
  const m = model;
  if (!m || !projection) return draw();
  if (backend === 'cpu') {
    canvasRenderer?.setLabels(await m.predict(matrix()).catch(() => null));
  } else {
    const labelled = performance.now();
    const view = await m.renderView();
    await view?.device.queue.onSubmittedWorkDone();
    labelSeconds = (performance.now() - labelled) / 1000;
    if (view) {
      if (renderer?.device !== view.device) {
        renderer = new Renderer(
          view.device,
          canvas!.getContext('webgpu')!,
          navigator.gpu.getPreferredCanvasFormat(),
        );
        renderer.setProjection(projection);
        void view.device.lost.then((info) => {
          // Destroyed on purpose (a retry releases the old device): not a loss to report.
          if (info.reason === 'destroyed') return;
          lostDevice = true;
          running = false;
          post({ type: 'device-lost', message: info.message || String(info.reason) });
        });
      }
      renderer.setPoints(view);
    }
  }
  let shapes: ReturnType<DemoModel['shapes']> = [];
  try {
    shapes = m.shapes();
  } catch {
    // k-means before its first step has no centres yet.
  }
  const vertices = outlines(projection, shapes, plot.halfWidth * 0.03);
  renderer?.setOverlay(vertices);
  canvasRenderer?.setOverlay(vertices);
  drawNow();
}

/** Seconds the last render view took (its labels pass on the GPU). */
let labelSeconds = 0;
let drawQueued = false;
/** Draws once per turn of the event loop however many camera messages came. */
function draw(): void {
  if (drawQueued) return;
  drawQueued = true;
  setTimeout(() => {
    drawQueued = false;
    drawNow();
  }, 0);
}

function drawNow(): void {
  if (lostDevice) return;
  renderer?.draw(plot, size.width, size.height);
  canvasRenderer?.draw(plot, size.width, size.height);
}

async function chooseK(kMin: number, kMax: number): Promise<void> {
  const s = settings!;
  const type: CovarianceType | null = algorithm(s.algorithm).bicCovariance;
  if (!type) throw new Error('BIC needs a Gaussian mixture; pick one in Algorithm');
  if (!(kMin >= 1 && kMax >= kMin && kMax - kMin <= 40))
    throw new Error('choose a K range such as 1 to 10 (at most 41 values)');
  search = new AbortController();
  setState('busy', 'choosing K by BIC');
  try {
    const ks = Array.from({ length: kMax - kMin + 1 }, (_, i) => kMin + i);
    const result = await selectGaussianMixture(matrix(), {
      nComponents: ks,
      covarianceTypes: [type],
      maxIter: s.maxIter,
      tol: s.tol,
      seed: s.seed,
      ...(backend === 'cpu' ? { backend: 'cpu' as const } : {}),
      signal: search.signal,
      onCandidate: (score) => post({ type: 'bic', k: score.nComponents, bic: score.bic }),
    });
    result.model.dispose();
    post({ type: 'bic-done', best: result.best.nComponents });
  } finally {
    search = null;
    setState(model ? (model.done ? 'done' : 'paused') : 'ready');
  }
}

async function download(what: 'model' | 'labels' | 'image'): Promise<void> {
  const file = (name: string, text: string, type: string) =>
    post({ type: 'download', name, data: new Blob([text], { type }) });
  if (what === 'image') {
    const data = renderer
      ? await renderer.image(plot, size.width, size.height)
      : await canvas!.convertToBlob({ type: 'image/png' });
    post({ type: 'download', name: 'plot.png', data });
    return;
  }
  if (!model) throw new Error('nothing fitted yet: run or step first');
  if (what === 'model') {
    file('model.json', `${JSON.stringify(model.toJSON(), null, 1)}\n`, 'application/json');
  } else {
    const labels = await model.predict(matrix());
    file('labels.csv', `label\n${labels.join('\n')}\n`, 'text/csv');
  }
}
