//! Plugins: loading and checking a library (`load`), the worker process that runs one
//! (`worker`), the host side that supervises it (`supervisor`), the stream between them
//! (`events`), the worker's lifeline to the host (`lifeline`), the reason a dead worker's log
//! gives (`log_reason`), and the conformance check
//! (`check`).

pub mod check;
pub mod events;
mod lifeline;
pub mod load;
mod log_reason;
pub mod parity_worker;
pub mod supervisor;
pub mod worker;
