//! The bank's service level objectives.

use std::time::Duration;

use cqrs_obs::handler::HandlerKind;
use cqrs_obs::slo::{CqrsSlos, GoodOutcomes, Handlers, Sli, Slo};

/// The bank's SLOs: command availability, query latency, and a deposit latency objective
/// that is deliberately too tight (99.99 % under 1 µs), so that it burns its budget and
/// fires a burn-rate alert during the workload.
pub fn objectives() -> Vec<Slo> {
    let mut deposit_latency = Slo::new(
        "deposit-latency",
        Sli::Latency {
            handlers: Handlers::Named("deposit"),
            threshold: Duration::from_micros(1),
        },
        99.99,
    );
    deposit_latency.name = "Deposit latency (too tight on purpose)";
    deposit_latency.description = "99.99 % of deposits complete within 1 µs";
    deposit_latency.owner = "payments";

    let mut transfer_availability = Slo::new(
        "transfer-availability",
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
    transfer_availability.name = "Event handling availability";
    transfer_availability.owner = "payments";

    vec![
        CqrsSlos::command_availability(),
        CqrsSlos::query_latency(),
        transfer_availability,
        deposit_latency,
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
