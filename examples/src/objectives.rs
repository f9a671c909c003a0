//! The bank's service level objectives.

use cqrs_obs::handler::HandlerKind;
use cqrs_obs::slo::{CqrsSlos, GoodOutcomes, Handlers, Sli, Slo};

/// The bank's SLOs declared in one place: command availability, query latency and event
/// handling availability. (The deposit handler declares its own, deliberately too tight,
/// latency objective with `#[slo]`.)
pub fn objectives() -> Vec<Slo> {
    let mut event_availability = Slo::new(
        "event-availability",
        Sli::Availability {
            handlers: Handlers::Kind(HandlerKind::Event),
            good: GoodOutcomes {
                rejected: true,
                conflict: true,
                count_cancelled: false,
            },
        },
        99.5,
    );
    event_availability.name = "Event handling availability";
    event_availability.owner = "payments";

    vec![
        CqrsSlos::command_availability(),
        CqrsSlos::query_latency(),
        event_availability,
    ]
}

/// Registers [`objectives`] with the process-wide SLO engine.
pub fn register_objectives() {
    for slo in objectives() {
        if let Err(e) = cqrs_obs::slo::register(slo) {
            eprintln!("bank: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn objectives_are_valid() {
        for slo in super::objectives() {
            slo.validate().unwrap();
        }
    }
}
