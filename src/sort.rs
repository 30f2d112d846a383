//! One small stable sort for the short lists the daemon orders (hidraw
//! nodes, a simulation's steps, a decoded UPS's variables).
//!
//! Why not `slice::sort`: each element type gets its own copy of the
//! standard library's driftsort, about 6.5 KB of machine code apiece,
//! which is a lot on a router's flash for lists of a few to a few hundred
//! items. Insertion sort is a few hundred bytes, stable, and linear on
//! lists that are nearly in order already. Lists that may be long and come
//! in any order (`LIST VAR` in `proto::session`) keep the standard sort.

/// Sort `v` in place, stably: `less(a, b)` says whether `a` goes before `b`.
/// Quadratic in the worst case: for short lists only.
pub fn sort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sort_by;

    #[test]
    fn sorts_and_keeps_equal_items_in_order() {
        let mut v = [(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e'), (2, 'f')];
        sort_by(&mut v, |a, b| a.0 < b.0);
        assert_eq!(
            v,
            [(0, 'd'), (1, 'b'), (1, 'e'), (2, 'f'), (3, 'a'), (3, 'c')]
        );
        let mut e: [u8; 0] = [];
        sort_by(&mut e, |a, b| a < b);
        let mut one = [7];
        sort_by(&mut one, |a, b| a < b);
        assert_eq!(one, [7]);
    }

    #[test]
    fn same_order_as_the_standard_stable_sort() {
        // A fixed pseudo-random sequence with many equal keys.
        let mut x: u32 = 12345;
        let mut v: Vec<(u32, usize)> = (0..300)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((x >> 16) % 17, i)
            })
            .collect();
        let mut want = v.clone();
        want.sort_by_key(|p| p.0);
        sort_by(&mut v, |a, b| a.0 < b.0);
        assert_eq!(v, want);
    }
}
