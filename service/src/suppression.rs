//! Small-count suppression, in one place: what an aggregate may show a reader who must not be
//! able to single out a person (a partner system; an officer without jurisdiction over a
//! violence report).
//!
//! - A count from 1 to k−1 is suppressed (k = `APP_SUPPRESSION_MIN_COUNT`, 5 by default): it
//!   comes back as `None`. Zero is shown (it singles out no one).
//! - In a [`Table`] — a total and the cells that make it up — the total is suppressed too when
//!   subtracting the shown cells from it would pin a suppressed cell to one value. The part of
//!   the total that no cell covers (the unit's own share, beside its children) counts as a cell
//!   that is never shown. Each hidden cell lies in [1, k−1] when small, in [k, total] otherwise;
//!   a small cell is pinned when those ranges and the hidden total leave it one possible value
//!   (one hidden cell alone; two small cells summing to 2; …). Learning a large share singles
//!   out no one.
//! - [`Suppression::coarse`] is the stricter rule of violence-report counts for officers
//!   without jurisdiction: below k nothing (zero included), above it rounded down to a multiple
//!   of k, so neither a count nor the difference of two counts names one report.

/// The suppression rule with its threshold k.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suppression {
    k: u64,
}

/// A total and its cells, as shown: `None` where suppressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub total: Option<u64>,
    pub cells: Vec<Option<u64>>,
}

impl Suppression {
    /// The rule with threshold `k` (at least 1; 1 suppresses nothing).
    pub fn new(k: u32) -> Self {
        Self { k: u64::from(k.max(1)) }
    }

    pub fn k(self) -> u64 {
        self.k
    }

    /// Whether `n` is a count that singles out people: 1 to k−1.
    pub fn is_small(self, n: u64) -> bool {
        (1..self.k).contains(&n)
    }

    /// One count on its own: `None` when small.
    pub fn count(self, n: u64) -> Option<u64> {
        (!self.is_small(n)).then_some(n)
    }

    /// The coarse form (violence-report counts): `None` below k, else rounded down to a
    /// multiple of k.
    pub fn coarse(self, n: u64) -> Option<u64> {
        (n >= self.k).then(|| n / self.k * self.k)
    }

    /// A total and the cells it is made of (which sum to at most the total; the rest is a
    /// hidden share), suppressed as the module docs say.
    pub fn table(self, total: u64, cells: &[u64]) -> Table {
        let shown: Vec<Option<u64>> = cells.iter().map(|&c| self.count(c)).collect();
        let covered: u64 = cells.iter().sum();
        let remainder = total.saturating_sub(covered);
        // The hidden cells, each with the range it can lie in.
        let mut hidden: Vec<(u64, u64)> =
            cells.iter().filter(|&&c| self.is_small(c)).map(|_| (1, self.k - 1)).collect();
        if remainder > 0 {
            hidden.push(if self.is_small(remainder) { (1, self.k - 1) } else { (self.k, total) });
        }
        let total_shown = !self.is_small(total) && !self.pins(&hidden, remainder + hidden_sum(cells, self));
        Table { total: total_shown.then_some(total), cells: shown }
    }

    /// Whether knowing that `hidden` cells (each within its range) sum to `mass` leaves one of
    /// the small ones a single possible value.
    fn pins(self, hidden: &[(u64, u64)], mass: u64) -> bool {
        let lo_sum: u64 = hidden.iter().map(|r| r.0).sum();
        let hi_sum: u64 = hidden.iter().map(|r| r.1).sum();
        // Only a small cell matters: learning a large share (≥ k) singles out no one.
        hidden.iter().filter(|&&(_, hi)| hi < self.k).any(|&(lo, hi)| {
            let others_lo = lo_sum - lo;
            let others_hi = hi_sum - hi;
            let low = lo.max(mass.saturating_sub(others_hi));
            let high = hi.min(mass.saturating_sub(others_lo));
            low == high
        })
    }
}

/// The sum of the small (hidden) cells.
fn hidden_sum(cells: &[u64], s: Suppression) -> u64 {
    cells.iter().filter(|&&c| s.is_small(c)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K5: Suppression = Suppression { k: 5 };

    #[test]
    fn a_count_from_one_to_k_minus_one_is_suppressed() {
        assert_eq!([0, 1, 4, 5, 120].map(|n| K5.count(n)), [Some(0), None, None, Some(5), Some(120)]);
        assert_eq!([0, 4, 5, 9, 10].map(|n| K5.coarse(n)), [None, None, Some(5), Some(5), Some(10)]);
        assert_eq!(Suppression::new(1).count(1), Some(1));
    }

    #[test]
    fn a_total_is_suppressed_when_subtraction_would_recover_a_hidden_cell() {
        // One hidden cell: total − shown cells is its value.
        assert_eq!(K5.table(23, &[20, 3]), Table { total: None, cells: vec![Some(20), None] });
        // Two hidden cells that could be (1,3), (2,2), (3,1): not pinned.
        assert_eq!(K5.table(24, &[20, 3, 1]), Table { total: Some(24), cells: vec![Some(20), None, None] });
        // Two hidden cells summing to 2: both are 1.
        assert_eq!(K5.table(22, &[20, 1, 1]).total, None);
        // Two hidden cells summing to 8: both are 4.
        assert_eq!(K5.table(28, &[20, 4, 4]).total, None);
        // Nothing hidden: everything shown.
        assert_eq!(
            K5.table(30, &[20, 10, 0]),
            Table { total: Some(30), cells: vec![Some(20), Some(10), Some(0)] }
        );
        // A small total is suppressed whatever its cells.
        assert_eq!(K5.table(3, &[3]).total, None);
    }

    #[test]
    fn the_share_no_cell_covers_counts_as_a_hidden_cell() {
        // All cells shown, the unit's own share of 2 would be total − cells.
        assert_eq!(K5.table(22, &[20]).total, None);
        // A large own share hides a small cell only if it cannot pin it: own ≥ 5 and x ≥ 1 with
        // x + own = 6 means x = 1.
        assert_eq!(K5.table(26, &[20, 1]).total, None);
        assert_eq!(K5.table(29, &[20, 3]).total, Some(29));
        // A large share alone hides nothing small.
        assert_eq!(K5.table(30, &[20]).total, Some(30));
    }

    /// Brute force: whenever the total is shown, every hidden cell keeps at least two values
    /// consistent with what is shown.
    #[test]
    fn no_shown_table_pins_a_hidden_cell() {
        for a in 0..12u64 {
            for b in 0..12 {
                for own in 0..12 {
                    let total = a + b + own;
                    let t = K5.table(total, &[a, b]);
                    let Some(total) = t.total else { continue };
                    // Every assignment of the hidden values consistent with the table.
                    let fits = |x: u64, hidden: bool| if hidden { K5.is_small(x) } else { true };
                    let mut seen_a = std::collections::BTreeSet::new();
                    let mut seen_b = std::collections::BTreeSet::new();
                    for x in 0..=total {
                        for y in 0..=total - x {
                            let z = total - x - y;
                            let ok_a = t.cells[0].map_or(K5.is_small(x), |v| v == x);
                            let ok_b = t.cells[1].map_or(K5.is_small(y), |v| v == y);
                            if ok_a && ok_b && fits(z, K5.is_small(own)) && (z == 0) == (own == 0) {
                                seen_a.insert(x);
                                seen_b.insert(y);
                            }
                        }
                    }
                    if t.cells[0].is_none() {
                        assert!(seen_a.len() > 1, "a={a} b={b} own={own}: {t:?}");
                    }
                    if t.cells[1].is_none() {
                        assert!(seen_b.len() > 1, "a={a} b={b} own={own}: {t:?}");
                    }
                }
            }
        }
    }
}
