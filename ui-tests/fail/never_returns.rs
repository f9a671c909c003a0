use cqrs_obs::event_handler;

#[event_handler]
fn run_forever(event: u64) -> ! {
    loop {
        let _ = event;
    }
}

fn main() {}
