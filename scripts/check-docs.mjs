#!/usr/bin/env node
// The documentation check that `npm run lint` runs:
// 1. every export of src/index.ts has a doc comment and every {@link} resolves (TypeDoc's
//    validation, warnings as errors; the settings are typedoc.json's);
// 2. the checked-in API reference, docs/api/, is what `npm run docs:api` writes now;
// 3. every relative link of README.md and docs/*.md names a file of the repository, and a
//    heading of it where the link has a #fragment.
// `--no-api` skips 1 and 2 (links only).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const apiDir = join(root, 'docs', 'api');
const problems = [];

/** Every file under `dir`, as paths relative to it. */
function files(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path).map((f) => join(entry.name, f)));
    else out.push(entry.name);
  }
  return out.sort();
}

function checkApi() {
  const out = mkdtempSync(join(tmpdir(), 'webgpu-em-api-'));
  try {
    const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
    const run = spawnSync(process.execPath, [typedoc, '--out', out], { cwd: root, encoding: 'utf8' });
    if (run.status !== 0) {
      const log = `${run.stdout}${run.stderr}`
        .replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '')
        .trim();
      problems.push(`TypeDoc (every export of src/index.ts needs a doc comment):\n${log}`);
      return;
    }
    const fresh = files(out);
    const kept = files(apiDir);
    const stale = [
      ...fresh.filter((f) => !kept.includes(f)).map((f) => `missing ${f}`),
      ...kept.filter((f) => !fresh.includes(f)).map((f) => `extra ${f}`),
      ...fresh
        .filter((f) => kept.includes(f))
        .filter((f) => readFileSync(join(out, f), 'utf8') !== readFileSync(join(apiDir, f), 'utf8'))
        .map((f) => `changed ${f}`),
    ];
    if (stale.length > 0) {
      const list =
        stale.slice(0, 12).join(', ') + (stale.length > 12 ? `, ... (${stale.length} in all)` : '');
      problems.push(`docs/api is stale (${list}): run npm run docs:api`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings (a repeated heading gets -1, -2, ...). */
function anchors(path) {
  const seen = new Map();
  const out = new Set();
  let fenced = false;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function checkLinks(path) {
  const text = readFileSync(path, 'utf8')
    .replace(/^```[\s\S]*?^```/gm, '')
    .replace(/`[^`]*`/g, '');
  for (const m of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [file, fragment] = target.split('#');
    const where = file ? resolve(dirname(path), decodeURIComponent(file)) : path;
    const name = relative(root, path);
    if (!where.startsWith(root + '/') || !existsSync(where)) {
      problems.push(`${name}: the link ${target} names no file of the repository`);
      continue;
    }
    if (fragment && statSync(where).isFile() && where.endsWith('.md') && !anchors(where).has(fragment)) {
      problems.push(`${name}: the link ${target} names no heading of ${relative(root, where)}`);
    }
  }
}

if (!process.argv.includes('--no-api')) checkApi();
const pages = [
  join(root, 'README.md'),
  ...files(join(root, 'docs'))
    .filter((f) => !f.startsWith('api/') && f.endsWith('.md'))
    .map((f) => join(root, 'docs', f)),
];
for (const page of pages) checkLinks(page);
if (problems.length > 0) {
  for (const p of problems) console.error(`check-docs: ${p}`);
  process.exit(1);
}
