//! Clients of the systems a scenario acts on. Steps talk to these, never to raw APIs.

pub mod command;
pub mod compose;
pub mod docker;
pub mod etcd;
pub mod http;
pub mod limits;
pub mod netns;
pub mod pd;
