//! Runnable castnet programs. The bench servers, `netbench` and the demo
//! arrive with the runtime crates; see the README's status table.
#![forbid(unsafe_code)]
