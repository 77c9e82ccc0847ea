//! NumPy's legacy `RandomState` (MT19937 seeded with `init_genrand`) and its `shuffle`, bit for
//! bit, so that [`super::kfold`] cuts the same folds as Surprise's `KFold(random_state=seed)`
//! (which shuffles `np.arange(n)` with `np.random.RandomState(seed).shuffle`).
//!
//! `shuffle` is NumPy's Fisher–Yates from the end (`for i in n-1..=1: j = interval(i); swap`)
//! with `random_interval(max)`: 32-bit draws masked to the smallest `2^b − 1 ≥ max`, rejected
//! until `≤ max`.

/// MT19937 as NumPy's `RandomState(seed)` for an integer seed.
#[derive(Clone)]
pub struct NumpyRandomState {
    mt: [u32; 624],
    pos: usize,
}

impl NumpyRandomState {
    /// `np.random.RandomState(seed)` (NumPy seeds an integer with `init_genrand`).
    pub fn new(seed: u32) -> NumpyRandomState {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        NumpyRandomState { mt, pos: 624 }
    }

    fn generate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        for i in 0..624 {
            let y = (self.mt[i] & UPPER) | (self.mt[(i + 1) % 624] & LOWER);
            let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
            if y & 1 == 1 {
                v ^= 0x9908_b0df;
            }
            self.mt[i] = v;
        }
        self.pos = 0;
    }

    /// The next 32-bit output (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= 624 {
            self.generate();
        }
        let mut y = self.mt[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A uniform integer in `0..=max` (NumPy's `random_interval`, for `max < 2^32`).
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.shuffle` of a one-dimensional array.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.interval(i as u32) as usize;
            xs.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by NumPy 2.4:
    // `np.random.RandomState(s).randint(0, 2**32, dtype=np.uint64)`, `RandomState(s).shuffle(a)`.
    #[test]
    fn matches_numpy_outputs() {
        let mut r = NumpyRandomState::new(0);
        let got: Vec<u32> = (0..3).map(|_| r.next_u32()).collect();
        assert_eq!(got, [2_357_136_044, 2_546_248_239, 3_071_714_933]);
        let mut r = NumpyRandomState::new(5489);
        assert_eq!(r.next_u32(), 3_499_211_612);
        assert_eq!(r.next_u32(), 581_869_302);
    }

    #[test]
    fn shuffle_matches_numpy() {
        let mut a: Vec<u32> = (0..10).collect();
        NumpyRandomState::new(0).shuffle(&mut a);
        assert_eq!(a, [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]);
        let mut a: Vec<u32> = (0..20).collect();
        NumpyRandomState::new(42).shuffle(&mut a);
        assert_eq!(
            a,
            [
                0, 17, 15, 1, 8, 5, 11, 3, 18, 16, 13, 2, 9, 19, 4, 12, 7, 10, 14, 6
            ]
        );
        // The shuffle behind Surprise's KFold(random_state=0) on ml-100k's 100 000 ratings
        // (several thousand draws past the first 624-word block).
        let mut a: Vec<u32> = (0..100_000).collect();
        NumpyRandomState::new(0).shuffle(&mut a);
        assert_eq!(a[..5], [3582, 60498, 53227, 21333, 3885]);
        assert_eq!(a[20_000..20_003], [10382, 73171, 30938]);
        assert_eq!(a[99_997..], [42613, 43567, 68268]);
    }
}
