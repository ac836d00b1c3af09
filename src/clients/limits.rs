//! A container's resource limits (CPU, memory and swap, process count) through the Engine
//! API's container update, and what Docker's special values mean, so that `docker.limit` can
//! set them and its undo can put back exactly what was there.
//!
//! Docker's update reads `0` as "leave it as it is", never as "no limit" (`docker update
//! --cpus 0` changes nothing), so lifting a limit takes other values. Measured on Docker 20.10
//! (API 1.41, cgroup v1, cgroupfs) and following Docker's and runc's code for cgroup v2:
//!
//! - CPU: `NanoCpus` cannot be lifted at all (`0` is "no change", below `0.01` is refused), so a
//!   limit is set as a CFS quota (`CpuQuota` over `CpuPeriod`) and lifted with `CpuQuota = -1`,
//!   which the kernel takes as unlimited and which, in the container's configuration, also
//!   overrides `NanoCpus` when it restarts. Only a container that already has `NanoCpus` (set
//!   with `--cpus` or compose's `cpus`) is limited through `NanoCpus`, since Docker refuses to
//!   mix the two; its undo puts its own `NanoCpus` back.
//! - Memory: `-1` is refused ("Minimum memory limit allowed is 6MB"), so no limit is written as
//!   the kernel's own "no limit", [`UNLIMITED_BYTES`]. With cgroup v1 the swap limit
//!   (memory + swap) must be that too: runc refuses `MemorySwap = -1` with a memory value
//!   above the current swap limit. With cgroup v2 swap is its own limit, and `-1` lifts it
//!   (the kernel's value there would mean "no swap").
//! - Process count: `PidsLimit = 0` lifts it.

use bollard::models::ContainerUpdateBody;
use serde::{Deserialize, Serialize};

/// The kernel's "no limit" for memory, as cgroup v1 reports it: the largest page count times
/// the 4 KiB page. Writing it lifts a memory limit where Docker refuses `-1`.
pub const UNLIMITED_BYTES: i64 = 9_223_372_036_854_771_712;

/// The CFS period Docker uses for `--cpus`, in microseconds.
const DEFAULT_PERIOD_US: i64 = 100_000;

/// A container's limits as its configuration (`HostConfig`) holds them, Docker's special
/// values included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub nano_cpus: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub memory: i64,
    pub memory_swap: i64,
    pub pids: i64,
}

/// What a container may use, as the kernel applies it; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// CPUs, in billionths.
    pub nano_cpus: Option<i64>,
    pub memory: Option<i64>,
    /// Memory plus swap.
    pub memory_swap: Option<i64>,
    pub pids: Option<i64>,
}

/// Which limits a fault changes (and its undo restores).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kinds {
    pub cpu: bool,
    pub memory: bool,
    pub pids: bool,
}

/// The limits a fault asks for; `None` leaves that limit alone.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Wanted {
    pub cpus: Option<f64>,
    /// Memory, and memory plus swap, in bytes.
    pub memory: Option<(i64, i64)>,
    pub pids: Option<i64>,
}

/// The control group version of the engine's host, which decides how swap is lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroup {
    V1,
    V2,
}

impl Limits {
    pub fn effective(&self) -> Effective {
        let limited = |v: i64| (v > 0 && v < UNLIMITED_BYTES).then_some(v);
        let period = if self.cpu_period > 0 {
            self.cpu_period
        } else {
            DEFAULT_PERIOD_US
        };
        // As the container's runtime configuration is built: a quota, when set, overrides
        // `NanoCpus`, and a negative one is no limit.
        let nano_cpus = match self.cpu_quota {
            q if q > 0 => Some(q * 1_000_000_000 / period),
            q if q < 0 => None,
            _ => limited(self.nano_cpus),
        };
        let memory = limited(self.memory);
        Effective {
            nano_cpus,
            memory,
            memory_swap: memory.and(limited(self.memory_swap)),
            pids: limited(self.pids),
        }
    }

    /// The update that sets `wanted` on a container whose limits are `self`.
    pub fn apply(&self, wanted: &Wanted) -> ContainerUpdateBody {
        let mut update = ContainerUpdateBody::default();
        if let Some(cpus) = wanted.cpus {
            let nanos = (cpus * 1e9).round() as i64;
            if self.nano_cpus > 0 {
                update.nano_cpus = Some(nanos);
            } else {
                let period = self.period();
                update.cpu_period = Some(period);
                update.cpu_quota = Some(nanos * period / 1_000_000_000);
            }
        }
        if let Some((memory, memory_swap)) = wanted.memory {
            update.memory = Some(memory);
            update.memory_swap = Some(memory_swap);
        }
        update.pids_limit = wanted.pids;
        update
    }

    /// The update that puts `self`, read before a fault, back for the `kinds` it changed.
    pub fn restore(&self, kinds: Kinds, cgroup: Cgroup) -> ContainerUpdateBody {
        let mut update = ContainerUpdateBody::default();
        if kinds.cpu {
            if self.nano_cpus > 0 {
                update.nano_cpus = Some(self.nano_cpus);
            } else {
                update.cpu_period = Some(self.period());
                update.cpu_quota = Some(if self.cpu_quota == 0 {
                    -1
                } else {
                    self.cpu_quota
                });
            }
        }
        if kinds.memory {
            let effective = self.effective();
            let (memory, memory_swap) = match (effective.memory, cgroup) {
                (None, Cgroup::V1) => (UNLIMITED_BYTES, UNLIMITED_BYTES),
                (None, Cgroup::V2) => (UNLIMITED_BYTES, -1),
                (Some(memory), _) => (memory, effective.memory_swap.unwrap_or(-1)),
            };
            update.memory = Some(memory);
            update.memory_swap = Some(memory_swap);
        }
        if kinds.pids {
            update.pids_limit = Some(self.effective().pids.unwrap_or(0));
        }
        update
    }

    /// What differs, in the `kinds` given, between the limits `self` had and those `now` has,
    /// as the kernel applies them; `None` if nothing.
    pub fn differs(&self, now: &Limits, kinds: Kinds) -> Option<String> {
        let (was, is) = (self.effective(), now.effective());
        let show = |v: Option<i64>| v.map_or("no limit".to_string(), |v| v.to_string());
        let mut left = Vec::new();
        let mut check = |on: bool, name: &str, was: Option<i64>, is: Option<i64>| {
            if on && was != is {
                left.push(format!("{name} is {}, not {}", show(is), show(was)));
            }
        };
        check(kinds.cpu, "nano_cpus", was.nano_cpus, is.nano_cpus);
        check(kinds.memory, "memory", was.memory, is.memory);
        check(kinds.memory, "memory_swap", was.memory_swap, is.memory_swap);
        check(kinds.pids, "pids", was.pids, is.pids);
        (!left.is_empty()).then(|| left.join(", "))
    }

    /// The CFS period to set a quota over: the container's own, else Docker's.
    fn period(&self) -> i64 {
        if self.cpu_period > 0 {
            self.cpu_period
        } else {
            DEFAULT_PERIOD_US
        }
    }
}

impl Wanted {
    pub fn kinds(&self) -> Kinds {
        Kinds {
            cpu: self.cpus.is_some(),
            memory: self.memory.is_some(),
            pids: self.pids.is_some(),
        }
    }

    /// The limits a container has once `self` is applied to `before`, for checking that
    /// Docker applied them rather than ignoring them.
    pub fn expected(&self, before: &Limits) -> Limits {
        let mut after = *before;
        if let Some(cpus) = self.cpus {
            after.cpu_quota = 0;
            after.nano_cpus = (cpus * 1e9).round() as i64;
        }
        if let Some((memory, memory_swap)) = self.memory {
            after.memory = memory;
            after.memory_swap = memory_swap;
        }
        if let Some(pids) = self.pids {
            after.pids = pids;
        }
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Limits = Limits {
        nano_cpus: 0,
        cpu_quota: 0,
        cpu_period: 0,
        memory: 0,
        memory_swap: 0,
        pids: 0,
    };

    #[test]
    fn zeros_and_the_kernels_maximum_are_no_limit() {
        let e = NONE.effective();
        assert_eq!(
            (e.nano_cpus, e.memory, e.memory_swap, e.pids),
            (None, None, None, None)
        );
        let lifted = Limits {
            nano_cpus: 500_000_000,
            cpu_quota: -1,
            memory: UNLIMITED_BYTES,
            memory_swap: UNLIMITED_BYTES,
            pids: -1,
            ..NONE
        };
        assert_eq!(
            lifted.effective(),
            NONE.effective(),
            "quota -1 overrides NanoCpus"
        );
        let quota = Limits {
            cpu_quota: 50_000,
            cpu_period: 100_000,
            ..NONE
        };
        assert_eq!(quota.effective().nano_cpus, Some(500_000_000));
    }

    #[test]
    fn a_limit_is_set_as_a_quota_unless_the_container_has_nano_cpus() {
        let wanted = Wanted {
            cpus: Some(0.5),
            ..Wanted::default()
        };
        let update = NONE.apply(&wanted);
        assert_eq!(
            (update.cpu_quota, update.cpu_period, update.nano_cpus),
            (Some(50_000), Some(100_000), None)
        );
        let own = Limits {
            nano_cpus: 2_000_000_000,
            ..NONE
        };
        assert_eq!(own.apply(&wanted).nano_cpus, Some(500_000_000));
        assert_eq!(
            own.restore(wanted.kinds(), Cgroup::V1).nano_cpus,
            Some(2_000_000_000)
        );
    }

    #[test]
    fn no_limit_is_restored_with_values_docker_does_not_ignore() {
        let all = Kinds {
            cpu: true,
            memory: true,
            pids: true,
        };
        let v1 = NONE.restore(all, Cgroup::V1);
        assert_eq!(v1.cpu_quota, Some(-1));
        assert_eq!(v1.memory, Some(UNLIMITED_BYTES));
        assert_eq!(v1.memory_swap, Some(UNLIMITED_BYTES));
        assert_eq!(v1.pids_limit, Some(0));
        assert_eq!(NONE.restore(all, Cgroup::V2).memory_swap, Some(-1));
        let only_pids = NONE.restore(
            Kinds {
                pids: true,
                ..Kinds::default()
            },
            Cgroup::V1,
        );
        assert_eq!((only_pids.memory, only_pids.cpu_quota), (None, None));
    }

    #[test]
    fn differences_are_named_only_for_the_kinds_changed() {
        let limited = Limits {
            memory: 64 << 20,
            memory_swap: 64 << 20,
            pids: 10,
            ..NONE
        };
        let memory = Kinds {
            memory: true,
            ..Kinds::default()
        };
        assert_eq!(
            NONE.differs(&limited, memory).unwrap(),
            "memory is 67108864, not no limit, memory_swap is 67108864, not no limit"
        );
        let cpu = Kinds {
            cpu: true,
            ..Kinds::default()
        };
        assert_eq!(NONE.differs(&limited, cpu), None);
    }
}
