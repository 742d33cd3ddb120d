// float64 addition of non-negative numbers on u32s, for sums that must be the host's float64
// sums bit for bit (k-means++'s block sums and potentials); included by the seeding kernels.
// A float64 is vec2<u32>(low word, high word) of its bits: its bytes in memory, so the host
// reads it as a Float64Array. Only what these sums meet: +0, normal numbers, +inf and NaN (a
// sum of float32 values is never a float64 subnormal); signs are dropped (-0 reads as +0).

// The float32 v as a float64 (exact).
fn f64_from_f32(v: f32) -> vec2<u32> {
  let b = bitcast<u32>(v) & 0x7fffffffu;
  let e = b >> 23u;
  let m = b & 0x7fffffu;
  if (e == 255u) {
    return vec2<u32>(m << 29u, 0x7ff00000u | (m >> 3u) | select(0u, 0x80000u, m != 0u));
  }
  if (e == 0u) {
    if (m == 0u) {
      return vec2<u32>(0u, 0u);
    }
    // A subnormal: m x 2^-149, its leading bit p becoming the implicit one.
    let p = firstLeadingBit(m);
    let frac = m ^ (1u << p);
    let s = 52u - p; // 30 to 52
    var hi = 0u;
    var lo = 0u;
    if (s >= 32u) {
      hi = frac << (s - 32u);
    } else {
      hi = frac >> (32u - s);
      lo = frac << s;
    }
    return vec2<u32>(lo, ((p + 874u) << 20u) | hi);
  }
  return vec2<u32>(m << 29u, ((e + 896u) << 20u) | (m >> 3u));
}

fn f64_is_nan(a: vec2<u32>) -> bool {
  return (a.y >> 20u) == 2047u && ((a.y & 0xfffffu) | a.x) != 0u;
}

// a + b for a, b >= 0, rounded to nearest, ties to even, as float64 addition.
fn f64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let ea = a.y >> 20u;
  let eb = b.y >> 20u;
  if (ea == 2047u || eb == 2047u) {
    if (f64_is_nan(a)) {
      return a;
    }
    if (f64_is_nan(b)) {
      return b;
    }
    return vec2<u32>(0u, 0x7ff00000u);
  }
  if (eb == 0u) {
    return a;
  }
  if (ea == 0u) {
    return b;
  }
  let swap = eb > ea;
  let big = select(a, b, swap);
  let small = select(b, a, swap);
  var e = max(ea, eb);
  let d = e - min(ea, eb);
  // 53-bit significands with 3 guard bits: high word 24 bits, low word 32.
  let xh = (((big.y & 0xfffffu) | 0x100000u) << 3u) | (big.x >> 29u);
  let xl = big.x << 3u;
  var yh = (((small.y & 0xfffffu) | 0x100000u) << 3u) | (small.x >> 29u);
  var yl = small.x << 3u;
  // The smaller one shifted right by d, what falls off kept as a sticky bit.
  if (d >= 57u) {
    yh = 0u;
    yl = 1u;
  } else if (d >= 32u) {
    let s = d - 32u;
    let sticky = yl != 0u || (s > 0u && (yh << ((32u - s) & 31u)) != 0u);
    yl = (yh >> s) | select(0u, 1u, sticky);
    yh = 0u;
  } else if (d > 0u) {
    let sticky = (yl << (32u - d)) != 0u;
    yl = (yl >> d) | (yh << (32u - d)) | select(0u, 1u, sticky);
    yh = yh >> d;
  }
  var l = xl + yl;
  var h = xh + yh + select(0u, 1u, l < xl);
  if (h >= 0x1000000u) {
    l = (l >> 1u) | (h << 31u) | (l & 1u);
    h = h >> 1u;
    e += 1u;
  }
  let g = l & 7u;
  l = (l >> 3u) | (h << 29u);
  h = h >> 3u;
  if (g > 4u || (g == 4u && (l & 1u) == 1u)) {
    l += 1u;
    if (l == 0u) {
      h += 1u;
    }
  }
  if (h >= 0x200000u) {
    h = h >> 1u;
    e += 1u;
  }
  if (e >= 2047u) {
    return vec2<u32>(0u, 0x7ff00000u);
  }
  return vec2<u32>(l, (e << 20u) | (h & 0xfffffu));
}

// a < b as JavaScript compares the float64s a, b >= 0 (false when either is NaN).
fn f64_less(a: vec2<u32>, b: vec2<u32>) -> bool {
  if (f64_is_nan(a) || f64_is_nan(b)) {
    return false;
  }
  return a.y < b.y || (a.y == b.y && a.x < b.x);
}
