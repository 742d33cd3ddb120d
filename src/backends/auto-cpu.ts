// No imports: the command-line launcher (bin/webgpu-em.js) reads this before the package loads.

/**
 * Most values (rows x features) that `auto` fits on the CPU without opening a device: below it,
 * opening the device and compiling the kernels (0.3 s warm, 1.5 to 2 s on a cold driver cache on
 * lavapipe) costs more than the whole float64 fit (iris, 150 x 4: about 10 ms).
 */
export const AUTO_CPU_MAX_VALUES = 10_000;
