//! Plugins: loading and checking a library (`load`), the worker process that runs one
//! (`worker`), the host side that supervises it (`supervisor`), the stream between them
//! (`events`), and the conformance check (`check`).

pub mod check;
pub mod events;
pub mod load;
pub mod parity_worker;
pub mod supervisor;
pub mod worker;
