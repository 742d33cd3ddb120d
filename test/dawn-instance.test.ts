// Dawn prints its two `maxDynamic...BuffersPerPipelineLayout artificially reduced` warnings each
// time an instance enumerates the adapters (src/gpu/adapter.ts says why): the library makes one
// instance per adapter name and process, and every device after the first reuses it. Dawn is
// replaced here by a fake that counts its instances; test/gpu-vs-cpu.gpu.test.ts counts the
// warnings of the real one.
import { describe, expect, it, vi } from 'vitest';

const dawn = vi.hoisted(() => {
  const adapter = {
    limits: { maxBufferSize: 1 << 20, maxStorageBufferBindingSize: 1 << 20 },
    features: new Set<string>(),
    info: { description: 'fake adapter' },
    requestDevice: async (descriptor: { label: string }) => ({ label: descriptor.label }),
  };
  return { created: [] as string[][], adapter };
});

vi.mock('../src/gpu/dawn.js', () => ({
  loadDawn: async () => ({
    create(flags: string[]) {
      dawn.created.push(flags);
      return { requestAdapter: async () => dawn.adapter };
    },
  }),
  vulkanDriverProblem: async () => null,
}));

describe("Dawn's instance", () => {
  it('is made once per adapter name and reused by every later device', async () => {
    vi.stubEnv('WEBGPU_EM_ADAPTER', '');
    try {
      const { openDevice } = await import('../src/gpu/adapter.js');
      const first = await openDevice({});
      const second = await openDevice({ timestamps: true });
      expect(second.gpu).toBe(first.gpu);
      expect(second.device).not.toBe(first.device);
      expect(dawn.created).toEqual([[]]);
      const named = await openDevice({ adapter: 'other' });
      expect((await openDevice({ adapter: 'other' })).gpu).toBe(named.gpu);
      expect(named.gpu).not.toBe(first.gpu);
      expect(dawn.created).toEqual([[], ['adapter=other']]);
      expect(first.description).toBe('fake adapter');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
