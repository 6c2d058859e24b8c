//! `netbench`: load generator for PacketN servers (see
//! `docs/bench-protocol.md`).
//!
//! ```text
//! netbench --addr 127.0.0.1:7000 --mode echo --conns 50 --payload 64 --pipeline 16 \
//!          --duration 10 --warmup 2 --header 4 --endian be --verify --json
//! ```
//!
//! Exit status: 0 when the run completed with no verification failure, 1 when
//! frames failed verification or the run could not take place, 2 for bad
//! flags.
// A command-line tool: its report goes to stdout, its errors to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use castnet_examples::netbench::{self, NetbenchArgs};
use clap::Parser;

fn main() -> ExitCode {
    let args = NetbenchArgs::parse();
    let progress = netbench::progress_wanted();
    match netbench::run(&args, progress) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string(&report) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("netbench: cannot encode the report: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!("{report}");
            }
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("netbench: {e}");
            ExitCode::FAILURE
        }
    }
}
