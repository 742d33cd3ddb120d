#!/usr/bin/env node
// Fails (exit 1) when the relative imports of the TypeScript sources form a cycle. Every kind of
// import counts: static, `import type`, re-exports and dynamic `import()`, since a type-only
// cycle is still two layers that each need the other. No dependencies: a regex over the sources.
// Usage: node scripts/check-cycles.mjs [folder ...]   (default: src)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['src'];
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') ? [resolve(path)] : [];
  });
}

/** The .ts file a relative specifier names ('./x.js' -> './x.ts'), or null when it names none here. */
function target(from, spec, known) {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(from), spec);
  for (const candidate of [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    base,
    `${base}.ts`,
  ]) {
    if (known.has(candidate)) return candidate;
  }
  return null;
}

const files = roots.flatMap(sources);
const known = new Set(files);
const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
  const edges = new Set();
  for (const m of text.matchAll(IMPORT)) {
    const to = target(file, m[1] ?? m[2], known);
    if (to) edges.add(to);
  }
  graph.set(file, [...edges]);
}

// Tarjan's strongly connected components: every component of more than one file (or a file
// importing itself) holds a cycle.
let index = 0;
const order = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function visit(v) {
  order.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v)) {
    if (!order.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), order.get(w)));
    }
  }
  if (low.get(v) === order.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v).includes(v)) cycles.push(component);
  }
}
for (const file of files) if (!order.has(file)) visit(file);

/** The shortest loop through one file of a component, for the message: a -> b -> ... -> a. */
function loopIn(component) {
  const inside = new Set(component);
  const start = component[component.length - 1];
  const parent = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v)) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = parent.get(u)) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return component;
}

const show = (f) => relative(process.cwd(), f);
if (cycles.length > 0) {
  for (const component of cycles) {
    console.error(`import cycle: ${loopIn(component).map(show).join(' -> ')}`);
  }
  console.error(
    `check-cycles: ${cycles.length} import cycle(s) in ${roots.join(', ')}; move what both sides need into a module below both`,
  );
  process.exit(1);
}
console.log(`check-cycles: no import cycles in ${files.length} files under ${roots.join(', ')}`);
