// Relative asset URLs (the build is served from /dist/), module workers (the library splits
// its WebGPU backend into a chunk of its own).
export default { base: './', worker: { format: 'es' }, logLevel: 'warn' };
