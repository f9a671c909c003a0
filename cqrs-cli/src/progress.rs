//! A spinner on stderr for slow calls: shown only when stderr is a terminal and a call takes
//! longer than [`DELAY`], erased when it ends.

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a call runs before the spinner appears.
const DELAY: Duration = Duration::from_millis(300);
const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// A running indicator; dropping it stops and erases it.
#[derive(Debug)]
pub(crate) struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts an indicator for `what` when `enabled` (stderr is a terminal).
    pub(crate) fn start(enabled: bool, what: &str) -> Progress {
        if !enabled {
            return Progress {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let what = what.to_owned();
        let thread = std::thread::spawn(move || {
            if !matches!(stopped.recv_timeout(DELAY), Err(RecvTimeoutError::Timeout)) {
                return;
            }
            let mut stderr = std::io::stderr();
            let mut frame = 0;
            loop {
                let _ = write!(
                    stderr,
                    "\r{} waiting for {what}",
                    FRAMES[frame % FRAMES.len()]
                );
                let _ = stderr.flush();
                frame += 1;
                if !matches!(
                    stopped.recv_timeout(Duration::from_millis(80)),
                    Err(RecvTimeoutError::Timeout)
                ) {
                    break;
                }
            }
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        });
        Progress {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
