/**
 * The page: controls, charts and messages. Everything heavy (reading files, generating data,
 * fitting, drawing the plot) happens in the Worker (worker.ts), so the page never freezes.
 */
import { ACTIVE_WEIGHT, ALGORITHMS, algorithm, type Param, type Settings } from './algorithms.js';
import { PALETTE, colourOf } from './colors.js';
import { SHAPES, checkSpec, type GeneratorSpec, type Shape } from './data.js';
import type { Axes, FromWorker, RunState, ToWorker } from './protocol.js';

/** Most rows the CPU backend is offered for, without WebGPU. */
const CPU_MAX_ROWS = 200_000;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);
const number = (id: string) => Number(input(id).value);

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

let state: RunState = 'empty';
let backend: 'webgpu' | 'cpu' = 'webgpu';
let columns: string[] | null = null;
let cols = 0;
const curve: number[] = [];
const bic: { k: number; bic: number }[] = [];

function options(el: HTMLSelectElement, entries: [string, string][], keep = true): void {
  const previous = el.value;
  el.replaceChildren(...entries.map(([value, label]) => new Option(label, value)));
  if (keep && entries.some(([v]) => v === previous)) el.value = previous;
}

options(select('shape'), Object.entries(SHAPES));
options(
  select('algorithm'),
  ALGORITHMS.map((a) => [a.id, a.label]),
);

function algorithmChanged(): void {
  const a = algorithm(select('algorithm').value);
  options(
    select('init'),
    a.inits.map((i) => [i, i]),
  );
  input('max-iter').value = String(a.defaults.maxIter);
  input('tol').value = String(a.defaults.tol);
  if (a.defaults.k !== undefined) input('k').value = String(a.defaults.k);
  // A control another entry shares (the Bayesian mixtures' priors) keeps its value.
  const kept = new Map(
    [...$('params').querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select')].map((c) => [
      c.id,
      c.value,
    ]),
  );
  $('params').replaceChildren(...(a.params ?? []).map(paramControl));
  for (const [id, value] of kept) {
    const c = document.getElementById(id) as HTMLInputElement | HTMLSelectElement | null;
    if (c) c.value = value;
  }
  $('weights-panel').hidden = true;
  $('objective-name').textContent = a.objective;
  $('bic').toggleAttribute('disabled', a.bicCovariance === null);
  sendSettings();
}

/** An algorithm's own control, as a labelled select or number input (id `param-<id>`). */
function paramControl(p: Param): HTMLElement {
  const label = document.createElement('label');
  label.append(p.label);
  let control: HTMLInputElement | HTMLSelectElement;
  if ('choices' in p) {
    control = document.createElement('select');
    options(
      control,
      p.choices.map((c) => [c, c]),
    );
    control.onchange = sendSettings;
  } else {
    control = document.createElement('input');
    control.type = 'number';
    control.step = 'any';
    control.placeholder = p.placeholder;
    control.oninput = sendSettings;
  }
  control.id = `param-${p.id}`;
  label.append(control);
  return label;
}

function settings(): Settings {
  return {
    algorithm: select('algorithm').value,
    k: number('k'),
    maxIter: number('max-iter'),
    tol: number('tol'),
    init: select('init').value,
    seed: number('seed'),
    params: Object.fromEntries(
      (algorithm(select('algorithm').value).params ?? []).map((p) => [
        p.id,
        $<HTMLInputElement | HTMLSelectElement>(`param-${p.id}`).value,
      ]),
    ),
  };
}

function sendSettings(): void {
  const s = settings();
  if (!(Number.isInteger(s.k) && s.k >= 1)) return showError('K must be an integer of at least 1');
  if (!(Number.isInteger(s.maxIter) && s.maxIter >= 1))
    return showError('max iter must be an integer of at least 1');
  if (!(s.tol >= 0)) return showError('tol must be a number of at least 0');
  for (const p of algorithm(s.algorithm).params ?? [])
    if (!('choices' in p) && s.params[p.id].trim() !== '' && !Number.isFinite(Number(s.params[p.id])))
      return showError(`${p.label} must be a number, or empty for ${p.placeholder}`);
  showError('');
  send({ type: 'settings', settings: s });
  legend(s.k);
}

function legend(k: number): void {
  $('legend').replaceChildren(
    ...Array.from({ length: Math.min(k, PALETTE.length) }, (_, i) => {
      const s = document.createElement('span');
      s.style.setProperty('--c', colourOf(i));
      s.textContent = String(i);
      return s;
    }),
  );
}

function showError(message: string): void {
  $('error').textContent = message;
}

function setState(next: RunState, note?: string): void {
  state = next;
  document.body.dataset.state = next;
  $('state').textContent = note ? `${next}: ${note}` : next;
  const has = next !== 'empty' && next !== 'busy';
  const running = next === 'running';
  $('run').toggleAttribute('disabled', !has || running);
  $('step').toggleAttribute('disabled', !has || running);
  $('pause').toggleAttribute('disabled', !running);
  $('cancel').toggleAttribute(
    'disabled',
    !(running || next === 'paused' || (next === 'busy' && note?.includes('BIC'))),
  );
  $('generate').toggleAttribute('disabled', running || next === 'busy');
  for (const id of ['download-model', 'download-labels', 'download-image'])
    $(id).toggleAttribute('disabled', !has || running);
}

function format(v: number, digits = 4): string {
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0)
    ? v.toExponential(digits - 1)
    : v.toPrecision(digits);
}

function si(v: number): string {
  const units = ['', 'k', 'M', 'G', 'T'];
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toPrecision(3)} ${units[u]}`;
}

/** A 2D canvas sized to its box at the device's pixel ratio, cleared and framed. */
function framedCanvas(canvas: HTMLCanvasElement): { g: CanvasRenderingContext2D; w: number; h: number } {
  const dpr = devicePixelRatio;
  canvas.width = canvas.clientWidth * dpr;
  canvas.height = canvas.clientHeight * dpr;
  const g = canvas.getContext('2d')!;
  g.scale(dpr, dpr);
  const [w, h] = [canvas.clientWidth, canvas.clientHeight];
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#2c2f38';
  g.strokeRect(0.5, 0.5, w - 1, h - 1);
  return { g, w, h };
}

/** A small line chart on a 2D canvas: the values against their index (or their x). */
function chart(canvas: HTMLCanvasElement, points: { x: number; y: number }[], mark?: number): void {
  const { g, w, h } = framedCanvas(canvas);
  if (points.length === 0) return;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-12) [y0, y1] = [y0 - 1, y1 + 1];
  const px = (x: number) => 28 + ((x - x0) / (x1 - x0 || 1)) * (w - 36);
  const py = (y: number) => h - 14 - ((y - y0) / (y1 - y0)) * (h - 24);
  g.fillStyle = '#9aa0ab';
  g.font = '10px system-ui';
  // Enough digits to tell the ends apart.
  const digits = Math.min(8, Math.max(3, Math.ceil(Math.log10(Math.abs(y1) / (y1 - y0 || 1))) + 2));
  g.fillText(format(y1, digits), 2, 10);
  g.fillText(format(y0, digits), 2, h - 16);
  g.fillText(String(x0), 28, h - 2);
  g.fillText(String(x1), w - 20, h - 2);
  g.strokeStyle = '#4e9af1';
  g.beginPath();
  points.forEach((p, i) => (i === 0 ? g.moveTo(px(p.x), py(p.y)) : g.lineTo(px(p.x), py(p.y))));
  g.stroke();
  g.fillStyle = '#4e9af1';
  for (const p of points) g.fillRect(px(p.x) - 1.5, py(p.y) - 1.5, 3, 3);
  if (mark !== undefined) {
    const p = points.find((q) => q.x === mark);
    if (p) {
      g.strokeStyle = '#f58231';
      g.beginPath();
      g.arc(px(p.x), py(p.y), 5, 0, 2 * Math.PI);
      g.stroke();
    }
  }
}

/** The components' weights as bars in their plot colours; those under ACTIVE_WEIGHT grey. */
function drawWeights(weights: number[] | null): void {
  const canvas = $<HTMLCanvasElement>('weights');
  const { g, w, h } = framedCanvas(canvas);
  const active = $('active');
  if (!weights) {
    active.textContent = '–';
    delete active.dataset.value;
    return;
  }
  const top = Math.max(...weights, ACTIVE_WEIGHT);
  const slot = (w - 8) / weights.length;
  const py = (v: number) => h - 14 - (v / top) * (h - 26);
  weights.forEach((v, j) => {
    g.fillStyle = v >= ACTIVE_WEIGHT ? colourOf(j) : '#4a4e58';
    // At least a sliver, so that a switched-off component still shows its place.
    const y = Math.min(py(v), h - 16);
    g.fillRect(4 + j * slot + slot * 0.15, y, Math.max(1, slot * 0.7), h - 14 - y);
  });
  g.fillStyle = '#9aa0ab';
  g.font = '10px system-ui';
  g.fillText(`${(top * 100).toFixed(1)}%`, 4, 10);
  g.fillText('0', 4, h - 2);
  g.fillText(String(weights.length - 1), w - 14, h - 2);
  const n = weights.filter((v) => v >= ACTIVE_WEIGHT).length;
  active.textContent = `${n} of ${weights.length} components above ${ACTIVE_WEIGHT * 100}%`;
  active.dataset.value = String(n);
}

const drawCurve = () =>
  chart(
    $<HTMLCanvasElement>('curve'),
    curve.map((y, i) => ({ x: i + 1, y })),
  );

function resetRun(): void {
  curve.length = 0;
  drawCurve();
  drawWeights(null);
  for (const id of ['iteration', 'objective', 'seconds', 'frame', 'throughput', 'result', 'ari'])
    $(id).textContent = '–';
  delete $('ari').dataset.value;
}

function axesOptions(): void {
  const name = (i: number) => columns?.[i] ?? `feature ${i + 1}`;
  const entries: [string, string][] = cols > 2 ? [['pca', 'PCA (first two components)']] : [];
  for (let a = 0; a < Math.min(cols, 8); a++)
    for (let b = a + 1; b < Math.min(cols, 8); b++) entries.push([`${a},${b}`, `${name(a)} × ${name(b)}`]);
  if (cols === 1) entries.push(['0,-1', name(0)]);
  options(select('axes'), entries, false);
}

worker.onmessage = ({ data: m }: MessageEvent<FromWorker>) => {
  switch (m.type) {
    case 'adapter':
      $('adapter').textContent = `adapter: ${m.name}`;
      return;
    case 'state':
      if (m.state === 'ready' || m.state === 'cancelled') resetRun();
      setState(m.state, m.note);
      return;
    case 'progress':
      $('state').textContent = `${m.what} ${Math.round(m.fraction * 100)}%`;
      return;
    case 'data':
      cols = m.cols;
      columns = m.columns;
      $('data-info').textContent = `${m.name}: ${m.rows.toLocaleString('en')} rows × ${m.cols} features`;
      document.body.dataset.rows = String(m.rows);
      axesOptions();
      resetRun();
      return;
    case 'axes':
      $('axis-x').textContent = m.labels[0];
      $('axis-y').textContent = m.labels[1];
      return;
    case 'iteration':
      curve.push(m.objective);
      $('iteration').textContent = String(m.iteration);
      $('objective').textContent = format(m.objective, 6);
      $('seconds').textContent = `${(m.seconds * 1000).toFixed(1)} ms`;
      $('throughput').textContent = `${si(m.throughput)}/s`;
      drawCurve();
      if (m.weights) {
        $('weights-panel').hidden = false;
        drawWeights(m.weights);
      }
      return;
    case 'frame':
      $('frame').textContent =
        `${(m.labelSeconds * 1000).toFixed(0)} + ${((m.seconds - m.labelSeconds) * 1000).toFixed(0)} ms`;
      return;
    case 'result':
      $('result').textContent = m.converged ? 'converged' : 'max iterations';
      if (m.ari !== null) {
        $('ari').textContent = m.ari.toFixed(4);
        $('ari').dataset.value = String(m.ari);
      }
      return;
    case 'bic':
      bic.push({ k: m.k, bic: m.bic });
      chart(
        $<HTMLCanvasElement>('bic-curve'),
        bic.map((p) => ({ x: p.k, y: p.bic })),
      );
      return;
    case 'bic-done':
      $('bic-best').textContent = `lowest BIC at K = ${m.best} (set as K)`;
      input('k').value = String(m.best);
      chart(
        $<HTMLCanvasElement>('bic-curve'),
        bic.map((p) => ({ x: p.k, y: p.bic })),
        m.best,
      );
      sendSettings();
      return;
    case 'download': {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(m.data);
      a.download = m.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      return;
    }
    case 'device-lost':
      banner(`The GPU device was lost (${m.message}). The data is still here.`, [
        ['Retry', () => (hideBanner(), send({ type: 'retry' }))],
      ]);
      setState('paused', 'device lost');
      return;
    case 'error':
      showError(m.message);
      return;
  }
};
worker.onerror = (e) => showError(`the Worker failed: ${e.message}`);

function banner(html: string, actions: [string, () => void][] = []): void {
  const b = $('banner');
  b.innerHTML = html;
  for (const [label, act] of actions) {
    const button = document.createElement('button');
    button.textContent = label;
    button.onclick = act;
    b.append(button);
  }
  b.hidden = false;
}
const hideBanner = () => ($('banner').hidden = true);

function generateNow(): void {
  const spec: GeneratorSpec = {
    shape: select('shape').value as Shape,
    n: number('n'),
    d: number('d'),
    k: number('groups'),
    seed: number('data-seed'),
  };
  try {
    checkSpec(spec);
    if (backend === 'cpu' && spec.n > CPU_MAX_ROWS)
      throw new Error(
        `without WebGPU the demo fits at most ${CPU_MAX_ROWS.toLocaleString('en')} points on the CPU`,
      );
  } catch (e) {
    return showError((e as Error).message);
  }
  showError('');
  bic.length = 0;
  send({ type: 'generate', spec });
}

function loadFile(file: File): void {
  showError('');
  send({ type: 'file', file });
}

function wire(): void {
  $('generate').onclick = generateNow;
  select('algorithm').onchange = algorithmChanged;
  for (const id of ['k', 'max-iter', 'tol', 'seed']) input(id).oninput = sendSettings;
  // An algorithm's own controls (#params) are wired as algorithmChanged makes them.
  select('init').onchange = sendSettings;
  $('run').onclick = () => {
    if (state !== 'paused') resetRun();
    send({ type: 'run' });
  };
  $('step').onclick = () => send({ type: 'step' });
  $('pause').onclick = () => send({ type: 'pause' });
  $('cancel').onclick = () => send({ type: 'cancel' });
  $('bic').onclick = () => {
    bic.length = 0;
    $('bic-best').textContent = '…';
    send({ type: 'bic', kMin: number('k-min'), kMax: number('k-max') });
  };
  select('axes').onchange = () => {
    const v = select('axes').value;
    const axes: Axes =
      v === 'pca' ? { kind: 'pca' } : { kind: 'features', a: +v.split(',')[0], b: +v.split(',')[1] };
    send({ type: 'axes', axes });
  };
  $('download-model').onclick = () => send({ type: 'download', what: 'model' });
  $('download-labels').onclick = () => send({ type: 'download', what: 'labels' });
  $('download-image').onclick = () => send({ type: 'download', what: 'image' });
  input('file').onchange = () => {
    const f = input('file').files?.[0];
    if (f) loadFile(f);
    input('file').value = '';
  };
  addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const f = e.dataTransfer?.files[0];
    if (f) loadFile(f);
  });

  const canvas = $<HTMLCanvasElement>('plot');
  let drag: { x: number; y: number } | null = null;
  canvas.onpointerdown = (e) => {
    drag = { x: e.clientX, y: e.clientY };
    canvas.setPointerCapture(e.pointerId);
  };
  canvas.onpointermove = (e) => {
    if (!drag) return;
    const panX = (e.clientX - drag.x) / canvas.clientWidth;
    const panY = -(e.clientY - drag.y) / canvas.clientHeight;
    drag = { x: e.clientX, y: e.clientY };
    send({ type: 'camera', panX, panY, zoom: 1, atX: 0, atY: 0 });
  };
  canvas.onpointerup = () => (drag = null);
  canvas.onwheel = (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    send({
      type: 'camera',
      panX: 0,
      panY: 0,
      zoom: Math.exp(-e.deltaY * 0.0015),
      atX: ((e.clientX - r.left) / r.width) * 2 - 1,
      atY: 1 - ((e.clientY - r.top) / r.height) * 2,
    });
  };
  canvas.ondblclick = () => send({ type: 'reset-camera' });
  new ResizeObserver(() =>
    send({
      type: 'resize',
      width: canvas.clientWidth * devicePixelRatio,
      height: canvas.clientHeight * devicePixelRatio,
    }),
  ).observe(canvas);
}

/** Why WebGPU cannot run here, or null when it can. */
async function webgpuMissing(): Promise<string | null> {
  if (!('gpu' in navigator) || !navigator.gpu) return 'this browser has no navigator.gpu';
  try {
    const adapter = await navigator.gpu.requestAdapter();
    return adapter ? null : 'navigator.gpu found no adapter';
  } catch (e) {
    return `requestAdapter failed: ${(e as Error).message}`;
  }
}

function start(mode: 'webgpu' | 'cpu'): void {
  backend = mode;
  const canvas = $<HTMLCanvasElement>('plot');
  const offscreen = canvas.transferControlToOffscreen();
  const [width, height] = [canvas.clientWidth * devicePixelRatio, canvas.clientHeight * devicePixelRatio];
  send({ type: 'init', canvas: offscreen, backend: mode, width, height }, [offscreen]);
  document.body.dataset.backend = mode;
  if (mode === 'cpu') {
    $('adapter').textContent = 'backend: CPU (float64), no WebGPU';
    input('n').value = String(Math.min(number('n'), 20_000));
  }
  algorithmChanged();
  generateNow();
}

wire();
setState('empty');
const missing = await webgpuMissing();
if (missing) {
  banner(
    `<b>WebGPU is not available</b> (${missing}). It runs in Chrome and Edge 113+ (Windows, macOS, ChromeOS; ` +
      'on Linux start Chrome with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>), Chrome 121+ on Android, ' +
      'Safari 26+, and Firefox 141+ on Windows (elsewhere Nightly with <code>dom.webgpu.enabled</code>). ' +
      'The page must come from HTTPS or localhost. Without it, the float64 CPU backend fits small data ' +
      `(up to ${CPU_MAX_ROWS.toLocaleString('en')} points).`,
    [['Use the CPU backend', () => (hideBanner(), start('cpu'))]],
  );
  document.body.dataset.backend = 'none';
} else {
  start('webgpu');
}
