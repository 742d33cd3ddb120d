// The adapter's memory read bandwidth, for the bench's roofline: each workgroup streams one
// contiguous slice of a buffer much larger than any cache with vec4 loads (at each step its
// threads read consecutive vec4s, coalesced on a GPU) and writes one sum per thread, so the
// bytes moved are the buffer's size.

override PER_THREAD: u32 = 256u;
const WORKGROUP: u32 = 64u;

@group(0) @binding(0) var<storage, read> data: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wid.x * WORKGROUP * PER_THREAD;
  var s0 = vec4<f32>();
  var s1 = vec4<f32>();
  for (var i = 0u; i < PER_THREAD; i += 2u) {
    // Step i reads WORKGROUP consecutive vec4s across the threads (coalesced on a GPU).
    s0 += data[base + i * WORKGROUP + lid];
    s1 += data[base + (i + 1u) * WORKGROUP + lid];
  }
  let t = s0 + s1;
  out[wid.x * WORKGROUP + lid] = t.x + t.y + t.z + t.w;
}
