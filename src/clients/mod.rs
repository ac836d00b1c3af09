//! Clients of the systems a scenario acts on. Steps talk to these, never to raw APIs.

pub mod blkio;
pub mod cgroup;
pub mod command;
pub mod disk;
pub mod docker;
pub mod etcd;
pub mod http;
pub mod limits;
pub mod netns;
pub mod pd;
pub mod project;
