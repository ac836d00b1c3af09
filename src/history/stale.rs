//! Stale reads: register reads that certainly returned an overwritten value, found in
//! O(n log n) without the linearizability search, so a check can name every one of them
//! (the search explains one point where it got stuck).
//!
//! A read of `v` invoked at `t` is stale when some write that certainly took effect (an `ok`
//! write or compare-and-set) was invoked after every operation that may have produced `v`
//! had completed, and itself completed before `t`: `v` was overwritten before the read began,
//! and nothing could have written it again. Operations that may have produced `v` are the
//! writes of `v` and the compare-and-sets to `v`, `ok` or unknown (an unknown one may take
//! effect at any time, so it never ends); the empty register is produced at time 0. A stale
//! read makes a history not linearizable; the converse does not hold.

use std::collections::{BTreeMap, HashMap};

use super::{Call, History, Outcome, Time};

/// A stale read, and a write that certainly overwrote its value before it began: indices in
/// `history.operations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stale {
    pub read: usize,
    pub overwritten_by: usize,
}

/// The stale register reads, in index order.
pub fn stale_reads(history: &History) -> Vec<Stale> {
    let mut keys: BTreeMap<Option<&String>, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.operations.iter().enumerate() {
        keys.entry(op.key.as_ref()).or_default().push(i);
    }
    let mut stale: Vec<Stale> = keys
        .values()
        .flat_map(|ops| stale_in_key(history, ops))
        .collect();
    stale.sort_unstable_by_key(|s| s.read);
    stale
}

fn stale_in_key(history: &History, ops: &[usize]) -> Vec<Stale> {
    // When the last operation that may have produced each value ended (`None`: never).
    let mut produced: HashMap<Option<i64>, Option<Time>> = HashMap::from([(None, Some(0))]);
    // Writes that certainly took effect: (complete, invoke, index).
    let mut writes: Vec<(Time, Time, usize)> = Vec::new();
    for (&i, op) in ops.iter().map(|i| (i, &history.operations[*i])) {
        let value = match op.call {
            Call::Write(v) | Call::Cas { to: v, .. } => v,
            _ => continue,
        };
        let end = match (op.outcome, op.complete) {
            (Outcome::Ok, Some(complete)) => {
                writes.push((complete, op.invoke, i));
                Some(complete)
            }
            (Outcome::Unknown, _) => None,
            _ => continue,
        };
        let last = produced.entry(Some(value)).or_insert(Some(0));
        *last = last.zip(end).map(|(a, b)| a.max(b));
    }
    writes.sort_unstable();
    // The write invoked last among those completed so far, by completion order.
    let latest: Vec<(Time, usize)> = writes
        .iter()
        .scan((0, usize::MAX), |max, &(_, invoke, i)| {
            if invoke >= max.0 {
                *max = (invoke, i);
            }
            Some(*max)
        })
        .collect();
    ops.iter()
        .filter_map(|&i| {
            let op = &history.operations[i];
            let Call::Read(v) = op.call else { return None };
            if op.outcome != Outcome::Ok {
                return None;
            }
            let Some(&Some(produced_by)) = produced.get(&v) else {
                return None;
            };
            let before = writes.partition_point(|&(complete, ..)| complete < op.invoke);
            let (invoke, by) = *latest.get(before.checked_sub(1)?)?;
            (invoke > produced_by).then_some(Stale {
                read: i,
                overwritten_by: by,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Operation;

    fn op(client: u64, call: Call, invoke: Time, complete: Time, outcome: Outcome) -> Operation {
        Operation {
            client,
            key: None,
            call,
            invoke,
            complete: Some(complete),
            outcome,
        }
    }

    fn history(ops: Vec<Operation>) -> History {
        History { operations: ops }
    }

    #[test]
    fn a_read_of_an_overwritten_value_is_stale() {
        let h = history(vec![
            op(0, Call::Write(1), 0, 10, Outcome::Ok),
            op(1, Call::Write(2), 20, 30, Outcome::Ok),
            op(2, Call::Read(Some(1)), 40, 50, Outcome::Ok),
            op(2, Call::Read(None), 60, 70, Outcome::Ok),
            op(2, Call::Read(Some(2)), 80, 90, Outcome::Ok),
        ]);
        let reads: Vec<usize> = stale_reads(&h).iter().map(|s| s.read).collect();
        assert_eq!(reads, [2, 3]);
        assert_eq!(stale_reads(&h)[0].overwritten_by, 1);
    }

    #[test]
    fn overlapping_or_possibly_repeated_writes_do_not_make_a_read_stale() {
        // The read overlaps the overwrite: it may have come first.
        let h = history(vec![
            op(0, Call::Write(1), 0, 10, Outcome::Ok),
            op(1, Call::Write(2), 20, 45, Outcome::Ok),
            op(2, Call::Read(Some(1)), 40, 50, Outcome::Ok),
        ]);
        assert!(stale_reads(&h).is_empty());
        // An unknown write of 1 may take effect after the overwrite.
        let h = history(vec![
            op(0, Call::Write(1), 0, 10, Outcome::Ok),
            op(3, Call::Write(1), 5, 6, Outcome::Unknown),
            op(1, Call::Write(2), 20, 30, Outcome::Ok),
            op(2, Call::Read(Some(1)), 40, 50, Outcome::Ok),
        ]);
        assert!(stale_reads(&h).is_empty());
        // A failed write takes no effect: it neither produces nor overwrites.
        let h = history(vec![
            op(0, Call::Write(1), 0, 10, Outcome::Ok),
            op(1, Call::Write(2), 20, 30, Outcome::Fail),
            op(2, Call::Read(Some(1)), 40, 50, Outcome::Ok),
        ]);
        assert!(stale_reads(&h).is_empty());
    }

    #[test]
    fn keys_are_apart() {
        let mut h = history(vec![
            op(0, Call::Write(1), 0, 10, Outcome::Ok),
            op(1, Call::Write(2), 20, 30, Outcome::Ok),
            op(2, Call::Read(Some(1)), 40, 50, Outcome::Ok),
        ]);
        h.operations[1].key = Some("other".into());
        assert!(stale_reads(&h).is_empty());
    }

    #[test]
    fn a_history_with_stale_reads_is_not_linearizable() {
        let h = history(vec![
            op(0, Call::Write(1), 0, 10, Outcome::Ok),
            op(1, Call::Cas { from: 1, to: 2 }, 20, 30, Outcome::Ok),
            op(2, Call::Read(Some(1)), 40, 50, Outcome::Ok),
        ]);
        assert_eq!(
            stale_reads(&h),
            [Stale {
                read: 2,
                overwritten_by: 1
            }]
        );
        let budget = crate::history::Budget {
            deadline: None,
            max_bytes: usize::MAX,
        };
        assert!(matches!(
            crate::history::check(&h, crate::history::Model::Register, budget).0,
            crate::history::Verdict::NotLinearizable(_)
        ));
    }

    /// Soundness on the recorded Jepsen histories: none of the linearizable ones has a stale
    /// read. (Few of the others have one this rule can prove: their anomalies sit among
    /// unknown writes, which may take effect at any time.)
    #[test]
    fn linearizable_jepsen_histories_have_no_stale_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/histories/jepsen-etcd");
        let tsv = std::fs::read_to_string(dir.join("verdicts.tsv")).unwrap();
        let mut flagged = 0;
        for line in tsv.lines().skip(1) {
            let (file, linearizable) = line.split_once('\t').unwrap();
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let parsed = crate::history::read(&text, None).unwrap();
            let stale = stale_reads(&parsed.history);
            if linearizable == "true" {
                assert!(stale.is_empty(), "{file}: {stale:?}");
            } else if !stale.is_empty() {
                flagged += 1;
            }
        }
        assert!(flagged > 0);
        eprintln!("{flagged} non-linearizable histories have stale reads");
    }
}
