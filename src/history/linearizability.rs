//! The linearizability check: Wing & Gong's search for a legal order, with Lowe's
//! just-in-time linearization and memoisation of (set of operations linearized, model state)
//! pairs already explored, as Porcupine does; per key, since keys are independent.
//!
//! The history becomes a doubly linked list of call and return events in time order. The
//! search walks it: at a call, it tries to linearize the operation now (the model must accept
//! it from the current state, and the pair reached must be new), removing the call and its
//! return from the list and starting over from the head; at the return of an operation not yet
//! linearized, the current prefix cannot be extended, so it undoes the last choice. Unknown
//! operations have no return event: they never block, and may be placed at any point.
//!
//! Two additions to Porcupine's search prune it without changing the verdict:
//! - it stops once every `Ok` operation is linearized (unknown steps never fail, so the
//!   unknown operations left can go after them all);
//! - of two unknown operations doing the same thing, the one invoked first is linearized
//!   first: swapping them in any legal order gives a legal order with the same states, so the
//!   other orders need not be explored. Jepsen logs are full of such twins (timed-out writes of
//!   the same few values), and without this they multiply the states.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use super::models::{Kv, Machine, Register};
use super::{Call, History, Model, Operation, Outcome};

/// How much a check may spend before it answers `Unknown`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub deadline: Option<Instant>,
    /// Memory held by one key's search (visited states, model values), in bytes.
    pub max_bytes: usize,
}

/// What ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    Time,
    /// With the bytes held when it stopped.
    Memory(usize),
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exhausted::Time => f.write_str("the time budget ran out"),
            Exhausted::Memory(bytes) => write!(
                f,
                "the memory budget ran out ({} MiB of visited states)",
                bytes >> 20
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable(Violation),
    /// The budget ran out before a verdict: neither a pass nor a failure.
    Unknown(Exhausted),
}

/// Why a key's operations cannot be linearized, from the deepest point the search reached.
/// Operations are indices into the history's `operations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub key: Option<String>,
    /// The operations of the key that had to be placed.
    pub operations: usize,
    /// The longest linearizable prefix found, in its order.
    pub prefix: Vec<usize>,
    /// Operations that completed and could not be placed after that prefix (a few).
    pub blocked: Vec<usize>,
    /// The model's states at the end of the longest prefixes (a few), described.
    pub states: Vec<String>,
}

/// Checks a history against a model, key by key; the first key that is not linearizable is
/// the verdict. A key whose search ran out of budget makes the verdict `Unknown`, unless
/// another key is not linearizable. Also returns the most memory one key's search held, as
/// the budget counts it (bytes): reported, so a user can size `--max-memory`.
pub fn check(history: &History, model: Model, budget: Budget) -> (Verdict, usize) {
    let mut exhausted = None;
    let mut held = 0;
    for (key, ops) in partitions(history) {
        let (searched, bytes) = match model {
            Model::Register => search(&ops, Register::new(ops.iter().map(|k| k.op)), budget),
            Model::Kv => search(&ops, Kv::new(ops.iter().map(|k| k.op)), budget),
        };
        held = held.max(bytes);
        match searched {
            Ok(None) => {}
            Ok(Some(deepest)) => {
                let index = |i: u32| ops[i as usize].index;
                let violation = Violation {
                    key: key.cloned(),
                    operations: ops.len(),
                    prefix: deepest.prefix.into_iter().map(index).collect(),
                    blocked: deepest.blocked.into_iter().map(index).collect(),
                    states: deepest.states,
                };
                return (Verdict::NotLinearizable(violation), held);
            }
            Err(e) => exhausted = exhausted.or(Some(e)),
        }
    }
    let verdict = exhausted.map_or(Verdict::Linearizable, Verdict::Unknown);
    (verdict, held)
}

/// One key's search, and the memory it held at its end: the most, since it only grows.
fn search<M: Machine>(
    ops: &[KeyOp],
    machine: M,
    budget: Budget,
) -> (Result<Option<Deepest<String>>, Exhausted>, usize) {
    let mut search = Search::new(ops, machine);
    let found = search.run(budget);
    (found, search.bytes())
}

/// An operation of one key, with its index in the history.
struct KeyOp<'a> {
    index: usize,
    op: &'a Operation,
}

impl std::ops::Deref for KeyOp<'_> {
    type Target = Operation;

    fn deref(&self) -> &Operation {
        self.op
    }
}

/// The operations that count, grouped by key, in key order, without the unknown register
/// writes nothing observes.
fn partitions(history: &History) -> BTreeMap<Option<&String>, Vec<KeyOp<'_>>> {
    let mut keys: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for (index, op) in history.operations.iter().enumerate() {
        if op.counts() {
            keys.entry(op.key.as_ref())
                .or_default()
                .push(KeyOp { index, op });
        }
    }
    for ops in keys.values_mut() {
        drop_unobserved_unknown_writes(ops);
    }
    // A key whose operations were all such writes has nothing to check (found by fuzzing: the
    // search assumed at least one operation).
    keys.retain(|_, ops| !ops.is_empty());
    keys
}

/// Leaves out the unknown register writes and compare-and-sets whose value no `ok` read
/// returns and no compare-and-set expects. The verdict does not change: an unknown operation
/// may never happen, and one that sets a value nothing observes cannot help a legal order
/// (until the next write, only operations that do not look at the value could follow it),
/// so a legal order with it stays legal without it. Unknown writes of distinct values (a
/// workload writing unique values, a cut-off member's timed-out writes) would otherwise each
/// double the states to explore.
fn drop_unobserved_unknown_writes(ops: &mut Vec<KeyOp<'_>>) {
    let observed: foldhash::HashSet<i64> = ops
        .iter()
        .filter_map(|op| match op.call {
            Call::Read(Some(v)) if op.outcome == Outcome::Ok => Some(v),
            Call::Cas { from, .. } => Some(from),
            _ => None,
        })
        .collect();
    ops.retain(|op| match op.call {
        Call::Write(v) | Call::Cas { to: v, .. } if op.outcome == Outcome::Unknown => {
            observed.contains(&v)
        }
        _ => true,
    });
}

const NIL: u32 = u32::MAX;

/// The deepest the search got: what a failure is explained with. States are described only
/// once the search is over: it notes them at every dead end.
#[derive(Default)]
struct Deepest<S = u32> {
    prefix: Vec<u32>,
    blocked: Vec<u32>,
    states: Vec<S>,
}

/// Most blocked operations and states an explanation lists.
const EXPLAIN_MAX: usize = 4;

/// One key's search state.
struct Search<M> {
    machine: M,
    /// Per event: its operation, and whether it is the call (else the return).
    events: Vec<(u32, bool)>,
    /// The event list, linked; the head sentinel is the last index.
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Per operation: its return event (NIL for unknown operations), whether it is `Ok`,
    /// and the earlier-invoked unknown operation doing the same thing (NIL if none).
    ret: Vec<u32>,
    ok: Vec<bool>,
    twin: Vec<u32>,
    zobrist: Vec<u64>,
    linearized: Vec<u64>,
    visited: Visited,
    deepest: Deepest,
}

impl<M: Machine> Search<M> {
    fn new(ops: &[KeyOp], machine: M) -> Self {
        let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.invoke, false, i as u32));
            if op.outcome == Outcome::Ok {
                // Returns after calls at the same time: such operations overlap.
                events.push((op.complete.unwrap_or(u64::MAX), true, i as u32));
            }
        }
        events.sort_unstable();
        let head = events.len() as u32;
        let mut ret = vec![NIL; ops.len()];
        for (e, &(_, is_return, op)) in events.iter().enumerate() {
            if is_return {
                ret[op as usize] = e as u32;
            }
        }
        // In time order, the head first; a key has at least one operation.
        let mut next: Vec<u32> = (1..=head).collect();
        next[head as usize - 1] = NIL;
        next.push(0);
        let mut prev: Vec<u32> = (0..head).map(|e| e.wrapping_sub(1)).collect();
        prev[0] = head;
        prev.push(NIL);
        let words = ops.len().div_ceil(64).max(1);
        Search {
            machine,
            events: events.iter().map(|&(_, r, op)| (op, !r)).collect(),
            next,
            prev,
            ok: ops.iter().map(|op| op.outcome == Outcome::Ok).collect(),
            twin: twins(ops),
            zobrist: (0..ops.len() as u64).map(|i| mix(i + 1)).collect(),
            ret,
            linearized: vec![0; words],
            visited: Visited::new(words),
            deepest: Deepest::default(),
        }
    }

    fn head(&self) -> u32 {
        self.events.len() as u32
    }

    /// Removes an operation's call and return from the list.
    fn lift(&mut self, call: u32) {
        for e in [call, self.ret[self.events[call as usize].0 as usize]] {
            if e != NIL {
                let (p, n) = (self.prev[e as usize], self.next[e as usize]);
                self.next[p as usize] = n;
                if n != NIL {
                    self.prev[n as usize] = p;
                }
            }
        }
    }

    /// Puts back what [`Search::lift`] removed, in reverse order.
    fn unlift(&mut self, call: u32) {
        for e in [self.ret[self.events[call as usize].0 as usize], call] {
            if e != NIL {
                let (p, n) = (self.prev[e as usize], self.next[e as usize]);
                self.next[p as usize] = e;
                if n != NIL {
                    self.prev[n as usize] = e;
                }
            }
        }
    }

    fn toggle(&mut self, op: u32, hash: &mut u64) {
        self.linearized[op as usize / 64] ^= 1 << (op % 64);
        *hash ^= self.zobrist[op as usize];
    }

    fn is_linearized(&self, op: u32) -> bool {
        self.linearized[op as usize / 64] & (1 << (op % 64)) != 0
    }

    /// `Ok(None)`: linearizable; `Ok(Some(deepest))`: not; `Err`: the budget ran out.
    fn run(&mut self, budget: Budget) -> Result<Option<Deepest<String>>, Exhausted> {
        let remaining_ok = self.ok.iter().filter(|&&ok| ok).count();
        let (mut remaining_ok, mut state, mut hash) = (remaining_ok, self.machine.init(), 0u64);
        // The calls linearized, in order, with the state before each.
        let mut stack: Vec<(u32, u32)> = Vec::new();
        let mut cur = self.next[self.head() as usize];
        let mut steps = 0u32;
        while remaining_ok > 0 {
            if steps.is_multiple_of(1024) {
                self.within(budget)?;
            }
            steps = steps.wrapping_add(1);
            let (op, is_call) = self.events[cur as usize];
            if is_call {
                let twin = self.twin[op as usize];
                if twin != NIL && !self.is_linearized(twin) {
                    cur = self.next[cur as usize];
                    continue;
                }
                if let Some(after) = self.machine.step(state, op as usize) {
                    self.toggle(op, &mut hash);
                    if self
                        .visited
                        .insert(&self.linearized, after, hash ^ mix(after.into()))
                    {
                        stack.push((cur, state));
                        state = after;
                        remaining_ok -= usize::from(self.ok[op as usize]);
                        self.lift(cur);
                        cur = self.next[self.head() as usize];
                        continue;
                    }
                    self.toggle(op, &mut hash);
                }
                cur = self.next[cur as usize];
            } else {
                self.note_blocked(&stack, op, state);
                let Some((call, before)) = stack.pop() else {
                    let states = self.deepest.states.iter();
                    return Ok(Some(Deepest {
                        states: states.map(|&s| self.machine.describe(s)).collect(),
                        prefix: std::mem::take(&mut self.deepest.prefix),
                        blocked: std::mem::take(&mut self.deepest.blocked),
                    }));
                };
                let op = self.events[call as usize].0;
                self.unlift(call);
                self.toggle(op, &mut hash);
                remaining_ok += usize::from(self.ok[op as usize]);
                state = before;
                cur = self.next[call as usize];
            }
        }
        Ok(None)
    }

    /// What the search holds, as the memory budget counts it.
    fn bytes(&self) -> usize {
        self.visited.bytes() + self.machine.bytes()
    }

    fn within(&self, budget: Budget) -> Result<(), Exhausted> {
        let bytes = self.bytes();
        if bytes > budget.max_bytes {
            return Err(Exhausted::Memory(bytes));
        }
        match budget.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(Exhausted::Time),
            _ => Ok(()),
        }
    }

    /// Records that `op` returned but cannot be linearized after the prefix on `stack`.
    fn note_blocked(&mut self, stack: &[(u32, u32)], op: u32, state: u32) {
        let deepest = &mut self.deepest;
        if stack.len() > deepest.prefix.len() || deepest.blocked.is_empty() {
            deepest.prefix = stack
                .iter()
                .map(|&(e, _)| self.events[e as usize].0)
                .collect();
            deepest.blocked.clear();
            deepest.states.clear();
        } else if stack.len() < deepest.prefix.len() {
            return;
        }
        if deepest.blocked.len() < EXPLAIN_MAX && !deepest.blocked.contains(&op) {
            deepest.blocked.push(op);
        }
        if deepest.states.len() < EXPLAIN_MAX && !deepest.states.contains(&state) {
            deepest.states.push(state);
        }
    }
}

/// For each unknown operation, the unknown operation doing the same thing that was invoked
/// last before it (NIL if none): the one it must not be linearized before.
fn twins(ops: &[KeyOp]) -> Vec<u32> {
    let mut last = foldhash::HashMap::default();
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| (ops[i].invoke, i));
    let mut twin = vec![NIL; ops.len()];
    for i in order {
        if ops[i].outcome == Outcome::Unknown
            && let Some(earlier) = last.insert(&ops[i].call, i as u32)
        {
            twin[i] = earlier;
        }
    }
    twin
}

/// SplitMix64's finaliser: spreads small integers (operation and state ids) over 64 bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The (linearized set, state) pairs seen, in flat arrays with open addressing: a pair costs
/// its bitset words, a state, a hash and two slots, with no allocation of its own.
struct Visited {
    words: usize,
    bits: Vec<u64>,
    states: Vec<u32>,
    hashes: Vec<u64>,
    /// Indices into the arrays above; NIL is empty. The length is a power of two.
    slots: Vec<u32>,
}

impl Visited {
    fn new(words: usize) -> Self {
        Visited {
            words,
            bits: Vec::new(),
            states: Vec::new(),
            hashes: Vec::new(),
            slots: vec![NIL; 1024],
        }
    }

    /// What the pairs take: the entries stored and the whole slot table (filled when made).
    /// Not the vectors' spare capacity: address space the kernel backs only when written, so
    /// counting it stopped searches at three quarters of the budget in resident memory.
    fn bytes(&self) -> usize {
        self.bits.len() * 8 + self.states.len() * 4 + self.hashes.len() * 8 + self.slots.len() * 4
    }

    /// Adds the pair; false if it was there already.
    fn insert(&mut self, bits: &[u64], state: u32, hash: u64) -> bool {
        if self.states.len() * 2 >= self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            let at = self.slots[slot];
            if at == NIL {
                break;
            }
            let i = at as usize;
            if self.hashes[i] == hash
                && self.states[i] == state
                && self.bits[i * self.words..(i + 1) * self.words] == *bits
            {
                return false;
            }
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = u32::try_from(self.states.len()).expect("fewer than 2^32 states");
        self.bits.extend_from_slice(bits);
        self.states.push(state);
        self.hashes.push(hash);
        true
    }

    fn grow(&mut self) {
        let mut slots = vec![NIL; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (i, &hash) in self.hashes.iter().enumerate() {
            let mut slot = hash as usize & mask;
            while slots[slot] != NIL {
                slot = (slot + 1) & mask;
            }
            slots[slot] = i as u32;
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Call::{self, *};
    use crate::history::Outcome::{Fail, Ok as Done, Unknown};

    const FREE: Budget = Budget {
        deadline: None,
        max_bytes: usize::MAX,
    };

    /// An operation by `client` from `invoke` to `complete`, on key `k` for kv calls.
    fn op(client: u64, call: Call, (invoke, complete): (u64, u64), outcome: Outcome) -> Operation {
        let key = matches!(call, Get(_) | Put(_) | Append(_)).then(|| "k".to_string());
        Operation {
            client,
            key,
            call,
            invoke,
            complete: (outcome != Unknown).then_some(complete),
            outcome,
        }
    }

    fn verdict(model: Model, ops: Vec<Operation>) -> Verdict {
        check(&History { operations: ops }, model, FREE).0
    }

    fn violation(model: Model, ops: Vec<Operation>) -> Violation {
        match verdict(model, ops) {
            Verdict::NotLinearizable(v) => v,
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    /// 40 unknown writes of distinct values nobody reads would make 2^40 subsets to explore
    /// if they were kept; an unknown write whose value is read still counts.
    #[test]
    fn unknown_writes_nothing_observes_are_left_out() {
        let mut ops: Vec<Operation> = (0..40)
            .map(|i| op(10 + i, Write(100 + i as i64), (2, 3), Unknown))
            .collect();
        ops.extend([
            op(0, Write(1), (0, 1), Done),
            op(1, Write(2), (4, 5), Done),
            op(2, Read(Some(1)), (6, 7), Done),
        ]);
        assert!(matches!(
            verdict(Model::Register, ops.clone()),
            Verdict::NotLinearizable(_)
        ));
        // Now something may have written 1 again after the overwrite.
        ops.push(op(3, Write(1), (5, 6), Unknown));
        assert_eq!(verdict(Model::Register, ops), Verdict::Linearizable);
    }

    #[test]
    fn a_stale_read_is_explained() {
        let v = violation(
            Model::Register,
            vec![
                op(0, Write(1), (0, 1), Done),
                op(1, Write(2), (2, 3), Done),
                op(2, Read(Some(1)), (4, 5), Done),
            ],
        );
        assert_eq!((v.prefix, v.blocked), (vec![0, 1], vec![2]));
        assert_eq!(
            (v.states, v.operations, v.key),
            (vec!["2".to_string()], 3, None)
        );
    }

    #[test]
    fn a_read_overlapping_a_write_may_see_either_value() {
        for seen in [Some(1), Some(2)] {
            let ops = vec![
                op(0, Write(1), (0, 1), Done),
                op(1, Write(2), (2, 6), Done),
                op(2, Read(seen), (3, 4), Done),
            ];
            assert_eq!(verdict(Model::Register, ops), Verdict::Linearizable);
        }
    }

    #[test]
    fn a_lost_append_is_found_on_its_key() {
        let mut ops = vec![
            op(0, Append("a".into()), (0, 1), Done),
            op(1, Append("b".into()), (2, 3), Done),
            op(2, Get("a".into()), (4, 5), Done),
        ];
        let mut other = op(3, Get("".into()), (0, 9), Done);
        other.key = Some("j".into());
        ops.push(other);
        let v = violation(Model::Kv, ops);
        assert_eq!((v.key.as_deref(), v.blocked), (Some("k"), vec![2]));
        assert_eq!(v.states, ["\"ab\""]);
    }

    #[test]
    fn a_cas_from_a_value_never_held_cannot_succeed_but_may_fail() {
        let cas = |outcome| {
            vec![
                op(0, Write(1), (0, 1), Done),
                op(1, Cas { from: 2, to: 3 }, (2, 3), outcome),
            ]
        };
        assert_eq!(violation(Model::Register, cas(Done)).blocked, [1]);
        assert_eq!(verdict(Model::Register, cas(Fail)), Verdict::Linearizable);
        assert_eq!(
            verdict(Model::Register, cas(Unknown)),
            Verdict::Linearizable
        );
    }

    /// Found by fuzzing: a key left with no operation once they are dropped crashed the search.
    #[test]
    fn a_key_of_unknown_writes_alone_is_linearizable() {
        let ops = vec![op(0, Write(3), (10, 0), Unknown)];
        assert_eq!(verdict(Model::Register, ops), Verdict::Linearizable);
        assert_eq!(verdict(Model::Kv, vec![]), Verdict::Linearizable);
    }

    #[test]
    fn unknown_operations_may_take_effect_late_or_never() {
        let history = |outcome, read| {
            vec![
                op(0, Write(1), (0, 1), Done),
                op(1, Write(2), (2, 0), outcome),
                op(2, Read(Some(read)), (5, 6), Done),
            ]
        };
        assert_eq!(
            verdict(Model::Register, history(Unknown, 2)),
            Verdict::Linearizable
        );
        assert_eq!(
            verdict(Model::Register, history(Unknown, 1)),
            Verdict::Linearizable
        );
        assert!(matches!(
            verdict(Model::Register, history(Fail, 2)),
            Verdict::NotLinearizable(_)
        ));
    }

    #[test]
    fn twin_unknown_operations_each_still_take_effect_once() {
        let history = |twins: usize| {
            let mut ops = vec![
                op(0, Write(1), (0, 1), Done),
                op(1, Read(Some(2)), (5, 6), Done),
                op(2, Write(1), (7, 8), Done),
                op(3, Read(Some(2)), (9, 10), Done),
            ];
            ops.extend((0..twins).map(|i| op(4 + i as u64, Write(2), (2 + i as u64, 0), Unknown)));
            ops
        };
        assert_eq!(verdict(Model::Register, history(2)), Verdict::Linearizable);
        assert_eq!(violation(Model::Register, history(1)).blocked, [3]);
    }

    #[test]
    fn an_exhausted_budget_is_unknown_never_a_pass() {
        let ops = vec![
            op(0, Write(1), (0, 1), Done),
            op(1, Read(Some(2)), (2, 3), Done),
        ];
        let history = History { operations: ops };
        let past = Budget {
            deadline: Some(Instant::now()),
            max_bytes: usize::MAX,
        };
        assert_eq!(
            check(&history, Model::Register, past).0,
            Verdict::Unknown(Exhausted::Time)
        );
        let tiny = Budget {
            deadline: None,
            max_bytes: 1,
        };
        // What ran out is what is reported as held.
        let (verdict, held) = check(&history, Model::Register, tiny);
        assert!(held > 1);
        assert_eq!(verdict, Verdict::Unknown(Exhausted::Memory(held)));
        let (verdict, held_to_the_end) = check(&history, Model::Register, FREE);
        assert!(matches!(verdict, Verdict::NotLinearizable(_)));
        assert!(held_to_the_end >= held, "{held_to_the_end} < {held}");
    }

    #[test]
    fn visited_pairs_are_told_apart_by_bits_and_state() {
        let mut visited = Visited::new(1);
        assert!(visited.insert(&[1], 0, 7));
        assert!(!visited.insert(&[1], 0, 7));
        assert!(visited.insert(&[1], 1, 7), "same hash, other state");
        assert!(visited.insert(&[3], 0, 7), "same hash, other bits");
        for i in 0..5000 {
            assert!(visited.insert(&[i + 10], 0, mix(i)));
        }
        assert!(
            !visited.insert(&[4999 + 10], 0, mix(4999)),
            "found after growing"
        );
    }
}
