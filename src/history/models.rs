//! The sequential specifications a history is checked against, and their compiled form for
//! the search: each key's values interned to small integers, so a state is a `u32` that hashes
//! and compares in one instruction and the visited-state cache stays small.

use foldhash::HashMap;
use indexmap::IndexSet;
use std::fmt;

use super::{Call, History, Operation, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// One integer register per key, initially nil: read, write, compare-and-set.
    Register,
    /// One string per key, initially "": get, put, append.
    Kv,
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Model::Register => "register",
            Model::Kv => "kv",
        })
    }
}

impl Model {
    fn of(call: &Call) -> Model {
        match call {
            Call::Read(_) | Call::Write(_) | Call::Cas { .. } => Model::Register,
            Call::Get(_) | Call::Put(_) | Call::Append(_) => Model::Kv,
        }
    }

    pub fn fits(self, op: &Operation) -> bool {
        Model::of(&op.call) == self
    }

    /// The model of a history's operations, or the index of the first that does not share
    /// the first one's.
    pub fn infer(history: &History) -> Result<Model, usize> {
        let Some(first) = history.operations.first() else {
            return Ok(Model::Register);
        };
        let model = Model::of(&first.call);
        match history.operations.iter().position(|op| !model.fits(op)) {
            Some(at) => Err(at),
            None => Ok(model),
        }
    }
}

/// A model compiled for one key's operations: the search calls `step` with the index of an
/// operation among them. A step of an `Unknown` operation never fails (it may have failed or
/// not happened, leaving the state as it was), which lets the search stop once every `Ok`
/// operation is placed: the unknown ones left can go after them.
pub(super) trait Machine {
    fn init(&self) -> u32;
    fn step(&mut self, state: u32, op: usize) -> Option<u32>;
    fn describe(&self, state: u32) -> String;
    /// Memory it holds, for the budget: the key-value model's states are strings it builds.
    fn bytes(&self) -> usize;
}

/// Values to `u32` ids and back, one copy of each value; id 0 is the initial value.
#[derive(Debug)]
struct Interner<T>(IndexSet<T, foldhash::fast::RandomState>);

impl<T: Clone + Eq + std::hash::Hash> Interner<T> {
    fn new(initial: T) -> Self {
        let mut values = IndexSet::default();
        values.insert(initial);
        Interner(values)
    }

    fn id(&mut self, value: &T) -> u32 {
        let id = match self.0.get_index_of(value) {
            Some(id) => id,
            None => self.0.insert_full(value.clone()).0,
        };
        u32::try_from(id).expect("fewer than 2^32 distinct values")
    }

    /// Takes a value the caller built, without copying it.
    fn id_owned(&mut self, value: T) -> u32 {
        let id = self.0.insert_full(value).0;
        u32::try_from(id).expect("fewer than 2^32 distinct values")
    }

    fn value(&self, id: u32) -> &T {
        &self.0[id as usize]
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

enum RegisterOp {
    Read(u32),
    Write(u32),
    Cas { from: u32, to: u32, sure: bool },
}

pub(super) struct Register {
    values: Interner<Option<i64>>,
    ops: Vec<RegisterOp>,
}

impl Register {
    pub(super) fn new<'a>(ops: impl IntoIterator<Item = &'a Operation>) -> Self {
        let mut values = Interner::new(None);
        let ops = ops
            .into_iter()
            .map(|op| match op.call {
                Call::Read(v) => RegisterOp::Read(values.id(&v)),
                Call::Write(v) => RegisterOp::Write(values.id(&Some(v))),
                Call::Cas { from, to } => RegisterOp::Cas {
                    from: values.id(&Some(from)),
                    to: values.id(&Some(to)),
                    sure: op.outcome == Outcome::Ok,
                },
                _ => unreachable!("a register history holds register operations only"),
            })
            .collect();
        Register { values, ops }
    }
}

impl Machine for Register {
    fn init(&self) -> u32 {
        0
    }

    fn step(&mut self, state: u32, op: usize) -> Option<u32> {
        match self.ops[op] {
            RegisterOp::Read(v) => (state == v).then_some(state),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas { from, to, .. } if state == from => Some(to),
            RegisterOp::Cas { sure, .. } => (!sure).then_some(state),
        }
    }

    fn describe(&self, state: u32) -> String {
        match self.values.value(state) {
            Some(v) => v.to_string(),
            None => "nil".to_string(),
        }
    }

    fn bytes(&self) -> usize {
        self.values.len() * 32 + self.ops.len() * 12
    }
}

enum KvOp {
    Get(u32),
    Put(u32),
    Append(String),
}

pub(super) struct Kv {
    values: Interner<String>,
    ops: Vec<KvOp>,
    /// (state, op) → state for appends: the search takes the same step many times, and
    /// building the string each time would dominate it.
    appended: HashMap<(u32, usize), u32>,
    value_bytes: usize,
}

impl Kv {
    pub(super) fn new<'a>(ops: impl IntoIterator<Item = &'a Operation>) -> Self {
        let mut values = Interner::new(String::new());
        let ops = ops
            .into_iter()
            .map(|op| match &op.call {
                Call::Get(v) => KvOp::Get(values.id(v)),
                Call::Put(v) => KvOp::Put(values.id(v)),
                Call::Append(v) => KvOp::Append(v.clone()),
                _ => unreachable!("a key-value history holds key-value operations only"),
            })
            .collect();
        let value_bytes = values.0.iter().map(String::len).sum();
        Kv {
            values,
            ops,
            appended: HashMap::default(),
            value_bytes,
        }
    }
}

impl Machine for Kv {
    fn init(&self) -> u32 {
        0
    }

    fn step(&mut self, state: u32, op: usize) -> Option<u32> {
        match &self.ops[op] {
            KvOp::Get(v) => (state == *v).then_some(state),
            KvOp::Put(v) => Some(*v),
            KvOp::Append(suffix) => {
                if let Some(&next) = self.appended.get(&(state, op)) {
                    return Some(next);
                }
                let value = self.values.value(state).clone() + suffix;
                self.value_bytes += value.len();
                let next = self.values.id_owned(value);
                self.appended.insert((state, op), next);
                Some(next)
            }
        }
    }

    fn describe(&self, state: u32) -> String {
        format!("{:?}", self.values.value(state))
    }

    fn bytes(&self) -> usize {
        self.value_bytes * 2 + self.values.len() * 64 + self.appended.len() * 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call: Call, outcome: Outcome) -> Operation {
        Operation {
            client: 0,
            key: None,
            call,
            invoke: 0,
            complete: Some(1),
            outcome,
        }
    }

    #[test]
    fn a_cas_applies_only_from_its_value_and_an_unknown_one_may_fail() {
        let ops = [
            op(Call::Cas { from: 1, to: 2 }, Outcome::Ok),
            op(Call::Cas { from: 1, to: 2 }, Outcome::Unknown),
            op(Call::Write(1), Outcome::Ok),
        ];
        let mut m = Register::new(&ops);
        assert_eq!(m.step(m.init(), 0), None);
        assert_eq!(m.step(m.init(), 1), Some(m.init()));
        let one = m.step(m.init(), 2).unwrap();
        let two = m.step(one, 0).unwrap();
        assert_eq!((m.describe(one), m.describe(two)), ("1".into(), "2".into()));
        assert_eq!(m.step(one, 1), Some(two));
    }

    #[test]
    fn kv_appends_build_the_value_a_get_must_see() {
        let ops = [
            op(Call::Append("a".into()), Outcome::Ok),
            op(Call::Append("b".into()), Outcome::Ok),
            op(Call::Get("ab".into()), Outcome::Ok),
        ];
        let mut m = Kv::new(&ops);
        let a = m.step(m.init(), 0).unwrap();
        assert_eq!(m.step(a, 2), None);
        let ab = m.step(a, 1).unwrap();
        assert_eq!(m.step(ab, 2), Some(ab));
        assert_eq!(m.step(a, 1), Some(ab), "the second time from the cache");
        assert_eq!(m.describe(ab), "\"ab\"");
    }

    #[test]
    fn the_model_is_inferred_from_the_operations() {
        let mut history = History::default();
        assert_eq!(Model::infer(&history), Ok(Model::Register));
        history.push(op(Call::Get("x".into()), Outcome::Ok));
        assert_eq!(Model::infer(&history), Ok(Model::Kv));
        history.push(op(Call::Write(1), Outcome::Ok));
        assert_eq!(Model::infer(&history), Err(1));
    }
}
