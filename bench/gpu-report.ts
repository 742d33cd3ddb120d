/**
 * Turns the JSON of `bench/run.ts --json` runs into one Markdown table for a hardware GPU: time
 * per iteration, throughput, the share of the card's float32 peak and memory bandwidth, and the
 * ratios to PyTorch on the same card and to scikit-learn on the same machine's CPU.
 *
 *   node dist-bench/bench/gpu-report.js [--peak-tflops 67] [--peak-tbps 4.8] [--card NAME]
 *        [--into docs/benchmarks.md] RUN.json...
 *
 * `--into FILE` (also spelt `--readme FILE`) writes the table into FILE too, between its
 * `<!-- gpu-bench:start -->` and `<!-- gpu-bench:end -->` lines.
 *
 * The default peaks are an H200 SXM's (float32 without tensor cores; HBM3e).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { si } from './format.js';
import type { Row } from './run.js';

/** The fields of bench/run.ts's rows this report reads. */
type RunRow = Pick<
  Row,
  | 'config'
  | 'backend'
  | 'msPerIteration'
  | 'gpuMsPerIteration'
  | 'throughput'
  | 'gflops'
  | 'gbps'
  | 'rooflinePct'
  | 'objective'
  | 'speedupVsSklearn'
  | 'speedupVsTorch'
>;

interface Run {
  machine: string;
  quick: boolean;
  rows: RunRow[];
}

const START = '<!-- gpu-bench:start -->';
const END = '<!-- gpu-bench:end -->';

function main(argv: string[]): void {
  const options = new Map<string, string>();
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) options.set(argv[i], argv[++i] ?? '');
    else files.push(argv[i]);
  }
  if (files.length === 0) {
    console.error('gpu-report: give the JSON files of bench runs (bench/run.ts --json)');
    process.exit(2);
  }
  const peakTflops = Number(options.get('--peak-tflops') ?? 67);
  const peakTbps = Number(options.get('--peak-tbps') ?? 4.8);
  if (!(peakTflops > 0) || !(peakTbps > 0)) {
    console.error('gpu-report: --peak-tflops and --peak-tbps must be positive numbers');
    process.exit(2);
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Run);
  const card = options.get('--card') ?? runs[0].machine.split(';')[0];
  const markdown = table(runs, card, peakTflops, peakTbps);
  const into = options.get('--into') ?? options.get('--readme');
  if (into) {
    const text = readFileSync(into, 'utf8');
    const a = text.indexOf(START);
    const b = text.indexOf(END);
    if (a < 0 || b < a) throw new Error(`${into} has no ${START} ... ${END} section`);
    writeFileSync(into, text.slice(0, a + START.length) + '\n' + markdown + text.slice(b));
  }
  process.stdout.write(markdown);
}

function table(runs: Run[], card: string, peakTflops: number, peakTbps: number): string {
  const pct = (v: number) => (!Number.isFinite(v) ? '-' : (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + '%');
  const ratio = (v: number | null) => (v === null || !Number.isFinite(v) ? '-' : `${v.toFixed(2)}x`);
  const header = [
    'config',
    'backend',
    'ms/iter',
    'GPU ms/iter',
    'N·K·it/s',
    'GFLOP/s',
    '% FP32 peak',
    'GB/s',
    '% bandwidth',
    'measured roofline %',
    'objective',
    'vs PyTorch',
    'vs scikit-learn',
  ];
  const lines = runs.flatMap((run) =>
    run.rows.map((r) =>
      [
        r.config,
        r.backend,
        fixed(r.msPerIteration, 2),
        fixed(r.gpuMsPerIteration, 2),
        si(r.throughput),
        fixed(r.gflops, 1),
        r.backend.startsWith('scikit-learn') ? '-' : pct((100 * r.gflops) / (peakTflops * 1000)),
        fixed(r.gbps, 1),
        r.backend.startsWith('scikit-learn') ? '-' : pct((100 * r.gbps) / (peakTbps * 1000)),
        r.rooflinePct === null || r.rooflinePct === undefined ? '-' : pct(r.rooflinePct),
        r.objective.toFixed(5),
        ratio(r.speedupVsTorch),
        ratio(r.speedupVsSklearn),
      ].join(' | '),
    ),
  );
  const quick = runs.some((r) => r.quick) ? ' (small sizes: a rehearsal, not a measurement)' : '';
  return [
    `GPU benchmark${quick}, ${new Date().toISOString().slice(0, 10)}: ${card}.`,
    `Machines: ${[...new Set(runs.map((r) => r.machine))].join('; ')}.`,
    `Peaks used for the percentages: ${peakTflops} TFLOP/s float32 (no tensor cores), ${peakTbps} TB/s. ` +
      'FLOP and byte counts are those of bench/configs.ts (the algorithm, not a kernel); ' +
      '"measured roofline %" is against the FMA peak and bandwidth the bench measured on the adapter itself; ' +
      '"vs" columns are the peer\'s time over this row\'s (above 1: this row is faster).',
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...lines.map((l) => `| ${l} |`),
    '',
  ].join('\n');
}

/** A measured value, or '-' where there is none (JSON writes a non-finite number as null). */
function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

main(process.argv.slice(2));
