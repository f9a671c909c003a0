use cqrs_obs::event_handler;

pub struct Envelope {
    pub metadata: Vec<String>,
}

#[event_handler(metadata = envelope.metadata)]
fn on_deposited(envelope: &Envelope) -> usize {
    envelope.metadata.len()
}

fn main() {}
