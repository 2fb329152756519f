//! Plugins: loading and checking a library (`load`), the worker process that runs one
//! (`worker`), the host side that supervises it (`supervisor`), the stream between them
//! (`events`), the worker's lifeline to the host (`lifeline`), and the conformance check
//! (`check`).

pub mod check;
pub mod events;
mod lifeline;
pub mod load;
pub mod supervisor;
pub mod worker;
