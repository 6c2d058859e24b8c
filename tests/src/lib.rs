//! castnet's conformance suite: one set of scenarios run against every
//! runtime crate, and every pair of runtimes talking to each other. It fills
//! in as the runtime crates land; see the README's status table.
#![forbid(unsafe_code)]
