//! Idle mode: hold connections open and see which stay open.
//!
//! A connection reads (and discards) whatever the server sends, so a server
//! heartbeat does not fill its buffer; end of stream or an error before the
//! window ends means the server closed it.

use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::stats::{Plan, Totals};

pub(crate) async fn connection(mut stream: TcpStream, plan: Arc<Plan>) -> Totals {
    let mut totals = Totals {
        connected: 1,
        ..Totals::default()
    };
    let mut sink = [0u8; 256];
    let stop = tokio::time::sleep_until(plan.stop_at);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => {
                totals.open = 1;
                break;
            }
            read = stream.read(&mut sink) => match read {
                Ok(n) if n > 0 => continue,
                closed => {
                    if plan.clock.now_ns() >= plan.window_end_ns {
                        // Closed after the count was taken.
                        totals.open = 1;
                    } else {
                        plan.add_live(1);
                        totals.errors += u64::from(closed.is_err());
                    }
                    break;
                }
            },
        }
    }
    totals
}
