// The end of a k-means++ step, on the GPU so that one read-back serves it: each candidate's
// potential, the float64 sum of its block sums (kmeanspp_distances.wgsl) in block order from
// +0, as the host summed them; the candidate the host's greedy rule keeps (the first of lowest
// potential); and that candidate's block sums, which the next step draws from. `out` holds the
// kept candidate's index (low word), the candidates' potentials, then the kept one's block sums,
// all as float64s (vec2<u32>(low word, high word)).

const WORKGROUP: u32 = 64u;

struct Select {
  candidates: u32, // candidates of the step (at most WORKGROUP)
  blocks: u32,     // block sums per candidate
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Select;
@group(0) @binding(1) var<storage, read> block_sums: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec2<u32>>;

var<workgroup> potentials: array<vec2<u32>, WORKGROUP>;
var<workgroup> kept: u32;

//!include float64.wgsl

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lid: u32) {
  let count = min(params.candidates, WORKGROUP);
  if (lid < count) {
    var total = vec2<u32>(0u, 0u);
    for (var b = 0u; b < params.blocks; b++) {
      total = f64_add(total, block_sums[lid * params.blocks + b]);
    }
    potentials[lid] = total;
    out[1u + lid] = total;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var best = 0u;
    for (var t = 1u; t < count; t++) {
      if (f64_less(potentials[t], potentials[best])) {
        best = t;
      }
    }
    kept = best;
    out[0] = vec2<u32>(best, 0u);
  }
  let best = workgroupUniformLoad(&kept);
  for (var b = lid; b < params.blocks; b += WORKGROUP) {
    out[1u + count + b] = block_sums[best * params.blocks + b];
  }
}
