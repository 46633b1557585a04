//! Small-count suppression, in one place: what an aggregate may show a reader who must not be
//! able to single out a person (a partner system; an officer without jurisdiction over a
//! violence report).
//!
//! - A count from 1 to k−1 is suppressed (k = `APP_SUPPRESSION_MIN_COUNT`, 5 by default). Zero
//!   is shown: it singles out no one.
//! - Figures of a tree of units ([`audit`]) — each unit's total covering its subtree, made of its
//!   children's totals and its own share — are suppressed so that no small figure (a unit's
//!   total or an own share) can be worked out from what is shown, by subtraction within one
//!   table or across levels. After the small totals are hidden, the whole tree is audited: the
//!   range each hidden figure can still take is narrowed from every shown one through every
//!   equation `total = children + own share` until nothing changes (on a tree of sums this
//!   gives the exact ranges), and while a small figure is left one possible value, one more
//!   total is hidden. The reader is assumed to know whether each hidden figure is zero, small or
//!   large (more than she does), so what passes the audit is safe against less knowledge too.
//!   The audit runs over the whole tree, never a part of it: a unit's figure is shown or hidden
//!   the same in every answer, whichever unit was asked about.
//! - [`Suppression::coarse`] is the stricter rule of violence-report counts for officers
//!   without jurisdiction: below k nothing (zero included), above it rounded down to a multiple
//!   of k, so neither a count nor the difference of two counts names one report.
//! - [`Suppression::live`] is the rule of a live figure a partner reads (active members now, the
//!   actual towards a target): zero is shown, the rest as [`Suppression::coarse`] — a figure that
//!   changes from day to day cannot be audited once, and the difference of two readings must not
//!   name the day's one newcomer.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// The suppression rule with its threshold k.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suppression {
    k: u64,
}

impl Suppression {
    /// The rule with threshold `k` (at least 1; 1 suppresses nothing).
    pub fn new(k: u32) -> Self {
        Self { k: u64::from(k.max(1)) }
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

    /// A live count (see the module docs): 0 shown, from 1 to k−1 `None`, else rounded down to
    /// a multiple of k.
    pub fn live(self, n: u64) -> Option<u64> {
        if n == 0 { Some(0) } else { self.coarse(n) }
    }

    /// [`Suppression::live`] for an amount that need not be whole (a sum of reported values):
    /// 0 (or less) shown as 0, above 0 and below k `None`, else rounded down to a multiple of k
    /// (with k = 1, which suppresses nothing, as it is).
    pub fn live_amount(self, x: f64) -> Option<f64> {
        let k = self.k as f64;
        match x {
            x if x.is_nan() => None,
            x if x <= 0.0 => Some(0.0),
            x if self.k == 1 => Some(x),
            x if x < k => None,
            x => Some((x / k).floor() * k),
        }
    }

    /// The range a hidden figure can take for a reader who knows whether it is zero, small or
    /// large.
    fn category(self, n: u64) -> (u64, u64) {
        match n {
            0 => (0, 0),
            n if self.is_small(n) => (1, self.k - 1),
            _ => (self.k, u64::MAX),
        }
    }
}

/// One unit of the tree given to [`audit`]: its id, its parent's (none for the root), and its
/// total, which covers its whole subtree (at least the sum of its children's totals).
#[derive(Clone, Copy, Debug)]
pub struct Figure<Id> {
    pub id: Id,
    pub parent: Option<Id>,
    pub total: u64,
}

/// The units of a whole tree whose totals must be hidden (see the module docs).
pub fn audit<Id: Copy + Eq + Hash>(rule: Suppression, units: &[Figure<Id>]) -> HashSet<Id> {
    let index: HashMap<Id, usize> = units.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); units.len()];
    let mut parent: Vec<Option<usize>> = vec![None; units.len()];
    for (i, u) in units.iter().enumerate() {
        if let Some(p) = u.parent.and_then(|p| index.get(&p).copied()) {
            children[p].push(i);
            parent[i] = Some(p);
        }
    }
    let own: Vec<u64> = units
        .iter()
        .enumerate()
        .map(|(i, u)| u.total.saturating_sub(children[i].iter().map(|&c| units[c].total).sum()))
        .collect();
    // What the assumed knowledge alone pins, with nothing shown (two small children of a unit
    // whose own share is known to be zero and whose total is known to be small…): no total
    // shown or hidden changes it, so it is not the answer's doing and not audited.
    let everything_hidden = vec![true; units.len()];
    let prior = ranges(rule, units, &children, &own, &everything_hidden);
    let mut hidden: Vec<bool> = units.iter().map(|u| rule.is_small(u.total)).collect();
    // Each round hides one more total; at most every total gets hidden.
    for _ in 0..=units.len() {
        let now = ranges(rule, units, &children, &own, &hidden);
        let pinned = |range: (u64, u64), before: (u64, u64), value: u64| {
            rule.is_small(value) && range.0 == range.1 && before.0 != before.1
        };
        let found = (0..units.len())
            .find(|&i| hidden[i] && pinned(now.0[i], prior.0[i], units[i].total))
            .map(Pinned::Total)
            .or_else(|| (0..units.len()).find(|&i| pinned(now.1[i], prior.1[i], own[i])).map(Pinned::Own));
        let Some(pinned) = found else { break };
        // Hide the total of the equation the figure was worked out from: for an own share, its
        // unit's; for a unit's total, its parent's (or its own at the root). Already hidden: the
        // next shown total above.
        let equation = match pinned {
            Pinned::Own(i) => i,
            Pinned::Total(i) => parent[i].unwrap_or(i),
        };
        let mut at = Some(equation);
        while let Some(i) = at {
            if !hidden[i] {
                hidden[i] = true;
                break;
            }
            at = parent[i];
        }
        if at.is_none() {
            // Everything above is hidden already: hide the largest shown child of the equation
            // instead (any shown total, should it have none).
            let shown = |&i: &usize| !hidden[i] && units[i].total > 0;
            let child = children[equation].iter().copied().filter(shown).max_by_key(|&i| units[i].total);
            let Some(i) = child.or_else(|| (0..units.len()).find(shown)) else { break };
            hidden[i] = true;
        }
    }
    units.iter().zip(hidden).filter(|(_, h)| *h).map(|(u, _)| u.id).collect()
}

/// A small figure left with one possible value.
enum Pinned {
    Total(usize),
    Own(usize),
}

/// The ranges (of each unit's total, and of each own share) a reader can narrow every figure to
/// from the shown totals, through every equation `total = Σ children + own`, until nothing
/// changes.
type Ranges = (Vec<(u64, u64)>, Vec<(u64, u64)>);

fn ranges<Id>(
    rule: Suppression,
    units: &[Figure<Id>],
    children: &[Vec<usize>],
    own: &[u64],
    hidden: &[bool],
) -> Ranges {
    let n = units.len();
    let mut total: Vec<(u64, u64)> = (0..n)
        .map(|i| if hidden[i] { rule.category(units[i].total) } else { (units[i].total, units[i].total) })
        .collect();
    let mut share: Vec<(u64, u64)> = own.iter().map(|&o| rule.category(o)).collect();
    loop {
        let mut changed = false;
        for u in 0..n {
            // The terms of the equation: the children's totals and the own share.
            let lo_sum = children[u].iter().map(|&c| total[c].0).fold(share[u].0, u64::saturating_add);
            let hi_sum = children[u].iter().map(|&c| total[c].1).fold(share[u].1, u64::saturating_add);
            let (lo, hi) = total[u];
            let narrowed = (lo.max(lo_sum), hi.min(hi_sum));
            changed |= narrowed != total[u];
            total[u] = narrowed;
            let (lo, hi) = total[u];
            let narrow = |term: (u64, u64)| {
                let others_hi = hi_sum.saturating_sub(term.1);
                let others_lo = lo_sum - term.0;
                let low = if hi_sum == u64::MAX { term.0 } else { term.0.max(lo.saturating_sub(others_hi)) };
                (low, term.1.min(hi.saturating_sub(others_lo)))
            };
            for &c in &children[u] {
                let narrowed = narrow(total[c]);
                changed |= narrowed != total[c];
                total[c] = narrowed;
            }
            let narrowed = narrow(share[u]);
            changed |= narrowed != share[u];
            share[u] = narrowed;
        }
        if !changed {
            break;
        }
    }
    (total, share)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K5: Suppression = Suppression { k: 5 };

    fn fig(id: &'static str, parent: Option<&'static str>, total: u64) -> Figure<&'static str> {
        Figure { id, parent, total }
    }

    fn hidden(rule: Suppression, units: &[Figure<&'static str>]) -> Vec<&'static str> {
        let mut h: Vec<_> = audit(rule, units).into_iter().collect();
        h.sort_unstable();
        h
    }

    #[test]
    fn a_count_from_one_to_k_minus_one_is_suppressed() {
        assert_eq!([0, 1, 4, 5, 120].map(|n| K5.count(n)), [Some(0), None, None, Some(5), Some(120)]);
        assert_eq!([0, 4, 5, 9, 10].map(|n| K5.coarse(n)), [None, None, Some(5), Some(5), Some(10)]);
        assert_eq!(Suppression::new(1).count(1), Some(1));
    }

    #[test]
    fn a_live_figure_shows_zero_and_is_otherwise_coarse() {
        assert_eq!(
            [0, 1, 4, 5, 9, 10, 23].map(|n| K5.live(n)),
            [Some(0), None, None, Some(5), Some(5), Some(10), Some(20)]
        );
        assert_eq!(
            [0.0, 0.5, 4.99, 5.0, 9.5, 12.5].map(|x| K5.live_amount(x)),
            [Some(0.0), None, None, Some(5.0), Some(5.0), Some(10.0)]
        );
        assert_eq!(K5.live_amount(f64::NAN), None);
        assert_eq!(Suppression::new(1).live_amount(2.5), Some(2.5));
    }

    #[test]
    fn a_total_is_hidden_when_subtraction_would_recover_a_small_figure() {
        // One small child: the total minus the other child is its value.
        assert_eq!(
            hidden(K5, &[fig("R", None, 23), fig("a", Some("R"), 20), fig("b", Some("R"), 3)]),
            ["R", "b"]
        );
        // Two small children that could be (1,3), (2,2), (3,1): the total stays.
        let two =
            [fig("R", None, 24), fig("a", Some("R"), 20), fig("b", Some("R"), 3), fig("c", Some("R"), 1)];
        assert_eq!(hidden(K5, &two), ["b", "c"]);
        // Two small children summing to 2: both are 1.
        let ones =
            [fig("R", None, 22), fig("a", Some("R"), 20), fig("b", Some("R"), 1), fig("c", Some("R"), 1)];
        assert_eq!(hidden(K5, &ones), ["R", "b", "c"]);
        // The unit's own share of 2 (nothing covers it) would be the total minus its children.
        assert_eq!(hidden(K5, &[fig("R", None, 22), fig("a", Some("R"), 20)]), ["R"]);
        // A large own share is no secret.
        assert!(hidden(K5, &[fig("R", None, 30), fig("a", Some("R"), 20)]).is_empty());
        // Nothing small: everything shown.
        assert!(
            hidden(K5, &[fig("R", None, 30), fig("a", Some("R"), 20), fig("b", Some("R"), 10)]).is_empty()
        );
    }

    #[test]
    fn a_hidden_total_is_not_worked_out_from_the_levels_around_it() {
        // a2 is shown; a1 = 1 and b = 1 are hidden; A hidden (its own table would give a1):
        // from R = 7 and a2 = 5, a1 + b = 2, so both would be 1: R is hidden too.
        let tree = [
            fig("R", None, 7),
            fig("A", Some("R"), 6),
            fig("B", Some("R"), 1),
            fig("a1", Some("A"), 1),
            fig("a2", Some("A"), 5),
        ];
        let h = hidden(K5, &tree);
        assert!(h.contains(&"R") && h.contains(&"A"), "{h:?}");
    }

    /// Brute force over a tree R → {A → {a1, a2}, B}, with the own shares of R and A: whatever
    /// the figures, every small figure that is hidden (a unit's total or an own share) takes
    /// more than one value among all the figures that agree with what is shown and with what
    /// the reader is assumed to know of each hidden figure (zero, small or large) — unless that
    /// knowledge alone pins it.
    #[test]
    fn no_small_figure_of_a_tree_is_recovered_from_what_is_published() {
        let rule = Suppression::new(3);
        // Figures up to 7; only those up to 5 are checked, so that the alternatives (a small
        // figure moved by at most k−1, another moved back) stay within what is enumerated.
        let n = 8u64;
        // (a1, a2, own_a, b, own_r) → R, A, B, a1, a2, own_a, own_r.
        let figures = |f: [u64; 5]| -> [u64; 7] {
            let [a1, a2, own_a, b, own_r] = f;
            let ta = a1 + a2 + own_a;
            [ta + b + own_r, ta, b, a1, a2, own_a, own_r]
        };
        let all: Vec<[u64; 7]> =
            (0..n.pow(5)).map(|code| figures(std::array::from_fn(|i| code / n.pow(i as u32) % n))).collect();
        let category = |v: u64| rule.category(v);
        // What a reader knows of figures `v` when the units in `shown` (a mask over R, A, B, a1,
        // a2) are shown: their values, and the category of everything else.
        let key = |v: &[u64; 7], shown: u32| -> Vec<(u64, u64)> {
            (0..7)
                .map(|i| if i < 5 && shown & (1 << i) != 0 { (v[i], v[i]) } else { category(v[i]) })
                .collect()
        };
        type Groups = HashMap<Vec<(u64, u64)>, Vec<usize>>;
        let mut by_mask: HashMap<u32, Groups> = HashMap::new();
        for mask in 0..32u32 {
            let groups = by_mask.entry(mask).or_default();
            for (i, v) in all.iter().enumerate() {
                groups.entry(key(v, mask)).or_default().push(i);
            }
        }
        let names = ["R", "A", "B", "a1", "a2"];
        for v in all.iter().filter(|v| v[3..].iter().all(|&x| x <= 5) && v[1] <= 12) {
            let units = [
                fig("R", None, v[0]),
                fig("A", Some("R"), v[1]),
                fig("B", Some("R"), v[2]),
                fig("a1", Some("A"), v[3]),
                fig("a2", Some("A"), v[4]),
            ];
            let hidden = audit(rule, &units);
            let shown = (0..5).filter(|&i| !hidden.contains(names[i])).fold(0u32, |m, i| m | 1 << i);
            let alternatives = &by_mask[&shown][&key(v, shown)];
            let prior = &by_mask[&0][&key(v, 0)];
            for which in 0..7 {
                let is_hidden = which >= 5 || shown & (1 << which) == 0;
                // What the assumed knowledge pins with nothing shown is not the answer's doing.
                let pinned_before = prior.iter().all(|&g| all[g][which] == v[which]);
                if is_hidden && rule.is_small(v[which]) && !pinned_before {
                    assert!(
                        alternatives.iter().any(|&g| all[g][which] != v[which]),
                        "figure {which} = {} is recovered from {v:?} (shown {shown:05b})",
                        v[which]
                    );
                }
            }
        }
    }
}
