// The adapter's float32 multiply-add peak, for the bench's roofline: each thread runs 8
// independent vec4 fma chains (32 lanes of work, no memory traffic in the loop), so neither
// latency nor memory bounds it. FLOP per thread: ITERS x 8 x 4 x 2.

override ITERS: u32 = 1024u;
const WORKGROUP: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Seeds from the thread id, so the compiler cannot fold the chains away.
  let s = f32(gid.x & 255u) * 0.001;
  var a0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
  var a1 = a0 + 1.0;
  var a2 = a0 + 2.0;
  var a3 = a0 + 3.0;
  var a4 = a0 + 4.0;
  var a5 = a0 + 5.0;
  var a6 = a0 + 6.0;
  var a7 = a0 + 7.0;
  let m = vec4<f32>(0.999, 0.998, 0.997, 0.996);
  let b = vec4<f32>(0.001);
  for (var i = 0u; i < ITERS; i++) {
    a0 = fma(a0, m, b);
    a1 = fma(a1, m, b);
    a2 = fma(a2, m, b);
    a3 = fma(a3, m, b);
    a4 = fma(a4, m, b);
    a5 = fma(a5, m, b);
    a6 = fma(a6, m, b);
    a7 = fma(a7, m, b);
  }
  let t = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  out[gid.x] = t.x + t.y + t.z + t.w;
}
