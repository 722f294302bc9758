//! The distance kernels: one hot loop each over two `&[f32]` of the same
//! length.
//!
//! Each accumulates in `f32`, as pgvector does, but over [`LANES`]
//! independent accumulators fed by fixed-size chunks, so LLVM turns the
//! loop into SIMD (a single running sum would be a dependency chain it may
//! not reorder). The partial sums are added pairwise at the end, then the
//! remainder, and the result is widened to `f64` for SQL.
//!
//! Callers check that the lengths agree (the error names both); the kernels
//! only `debug_assert` it and read the common prefix.

/// Independent accumulators per kernel: 16 `f32` fill two AVX registers
/// or four SSE/NEON/wasm-simd128 ones.
pub const LANES: usize = 16;

/// A slice as whole chunks of [`LANES`] and the remainder.
type Chunks<'a> = (&'a [[f32; LANES]], &'a [f32]);

/// The common prefix of two slices, as chunks of [`LANES`] and a remainder.
#[inline(always)]
fn split<'a>(a: &'a [f32], b: &'a [f32]) -> (Chunks<'a>, Chunks<'a>) {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    (a[..n].as_chunks::<LANES>(), b[..n].as_chunks::<LANES>())
}

/// Sum the accumulators pairwise (halving), a fixed order.
#[inline(always)]
fn reduce(mut acc: [f32; LANES]) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0]
}

/// `Σ term(a[i], b[i])`, over [`LANES`] accumulators then the remainder.
/// Inlined into each kernel, so `term` is a constant LLVM vectorizes.
#[inline(always)]
fn sum_of(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let ((a_chunks, a_rest), (b_chunks, b_rest)) = split(a, b);
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += term(*x, *y);
        }
    }
    let mut sum = reduce(acc);
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += term(*x, *y);
    }
    sum
}

/// `Σ (a - b)²`.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    sum_of(a, b, |x, y| (x - y) * (x - y))
}

/// `Σ a·b`.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    sum_of(a, b, |x, y| x * y)
}

/// `Σ |a - b|`.
#[inline]
pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    sum_of(a, b, |x, y| (x - y).abs())
}

/// `(Σ a·b, Σ a², Σ b²)` in one pass.
#[inline]
pub fn dot_and_norms(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let ((a_chunks, a_rest), (b_chunks, b_rest)) = split(a, b);
    let mut ab = [0.0f32; LANES];
    let mut aa = [0.0f32; LANES];
    let mut bb = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..LANES {
            ab[i] += x[i] * y[i];
            aa[i] += x[i] * x[i];
            bb[i] += y[i] * y[i];
        }
    }
    let (mut ab, mut aa, mut bb) = (reduce(ab), reduce(aa), reduce(bb));
    for (x, y) in a_rest.iter().zip(b_rest) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    (ab, aa, bb)
}

/// Euclidean distance, pgvector's `<->`.
#[inline]
pub fn l2_distance(a: &[f32], b: &[f32]) -> f64 {
    (l2_squared(a, b) as f64).sqrt()
}

/// Inner product, pgvector's `inner_product`.
#[inline]
pub fn inner_product(a: &[f32], b: &[f32]) -> f64 {
    dot(a, b) as f64
}

/// Negative inner product, pgvector's `<#>` (so that smaller is closer).
#[inline]
pub fn negative_inner_product(a: &[f32], b: &[f32]) -> f64 {
    -(dot(a, b) as f64)
}

/// Taxicab distance, pgvector's `<+>`.
#[inline]
pub fn l1_distance(a: &[f32], b: &[f32]) -> f64 {
    l1(a, b) as f64
}

/// `1 - cos(a, b)`, pgvector's `<=>`: NaN when either vector is zero, and
/// the cosine clamped to [-1, 1] against rounding.
#[inline]
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (ab, aa, bb) = dot_and_norms(a, b);
    // NaN (a zero vector) stays NaN through the clamp.
    let similarity = (ab as f64 / ((aa as f64) * (bb as f64)).sqrt()).clamp(-1.0, 1.0);
    1.0 - similarity
}

/// The Euclidean norm, accumulated in `f64` as pgvector's `vector_norm`.
pub fn norm(a: &[f32]) -> f64 {
    a.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain loops in `f64`: what the kernels must agree with.
    mod reference {
        pub fn l2(a: &[f32], b: &[f32]) -> f64 {
            a.iter()
                .zip(b)
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        }

        pub fn dot(a: &[f32], b: &[f32]) -> f64 {
            a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
        }

        pub fn l1(a: &[f32], b: &[f32]) -> f64 {
            a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum()
        }

        pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
            let cos = dot(a, b) / (dot(a, a) * dot(b, b)).sqrt();
            1.0 - cos.clamp(-1.0, 1.0)
        }
    }

    /// xorshift64: deterministic inputs without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Uniform in [-1, 1).
        fn float(&mut self) -> f32 {
            ((self.next() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        }

        fn vector(&mut self, n: usize) -> Vec<f32> {
            (0..n).map(|_| self.float()).collect()
        }
    }

    /// Agreement within what `f32` accumulation allows, relative to the
    /// sum of magnitudes (`scale`) that the rounding errors grow with.
    fn assert_close(fast: f64, slow: f64, scale: f64, what: &str) {
        let tolerance = 1e-5 * scale.max(1.0);
        assert!(
            (fast - slow).abs() <= tolerance,
            "{what}: kernel {fast}, reference {slow}"
        );
    }

    #[test]
    fn kernels_match_the_reference_on_random_vectors() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let lengths = (1..=70).chain([128, 1536]);
        for n in lengths {
            for round in 0..8 {
                let a = rng.vector(n);
                let b = rng.vector(n);
                let what = format!("n={n} round={round}");
                let scale = n as f64;
                assert_close(l2_distance(&a, &b), reference::l2(&a, &b), scale, &format!("l2 {what}"));
                assert_close(
                    inner_product(&a, &b),
                    reference::dot(&a, &b),
                    scale,
                    &format!("dot {what}"),
                );
                assert_close(
                    negative_inner_product(&a, &b),
                    -reference::dot(&a, &b),
                    scale,
                    &format!("-dot {what}"),
                );
                assert_close(l1_distance(&a, &b), reference::l1(&a, &b), scale, &format!("l1 {what}"));
                assert_close(
                    cosine_distance(&a, &b),
                    reference::cosine(&a, &b),
                    1.0,
                    &format!("cosine {what}"),
                );
                assert_close(norm(&a), reference::dot(&a, &a).sqrt(), scale, &format!("norm {what}"));
            }
        }
    }

    #[test]
    fn every_element_counts_in_chunks_and_remainder() {
        // A single non-zero element at each position of a vector that has
        // both full chunks and a remainder: a lane that is dropped or read
        // twice shows up here, whatever the rounding.
        let n = 2 * LANES + 5;
        for i in 0..n {
            let mut a = vec![0.0f32; n];
            a[i] = 3.0;
            let zero = vec![0.0f32; n];
            assert_eq!(l2_distance(&a, &zero), 3.0, "l2 at {i}");
            assert_eq!(l1_distance(&a, &zero), 3.0, "l1 at {i}");
            assert_eq!(inner_product(&a, &a), 9.0, "dot at {i}");
            assert_eq!(dot_and_norms(&a, &a), (9.0, 9.0, 9.0), "norms at {i}");
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(l2_distance(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 27f64.sqrt());
        assert_eq!(inner_product(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
        assert_eq!(negative_inner_product(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), -32.0);
        assert_eq!(l1_distance(&[1.0, 2.0, 3.0], &[4.0, 5.0, 7.0]), 10.0);
        assert_eq!(cosine_distance(&[1.0, 0.0], &[0.0, 1.0]), 1.0);
        assert_eq!(cosine_distance(&[1.0, 1.0], &[2.0, 2.0]), 0.0);
        assert_eq!(cosine_distance(&[1.0, 0.0], &[-1.0, 0.0]), 2.0);
        assert!(cosine_distance(&[0.0, 0.0], &[1.0, 1.0]).is_nan());
        assert_eq!(norm(&[3.0, 4.0]), 5.0);
    }
}
