//! One bank transfer exported over OTLP grpc to a real receiver on 127.0.0.1 that decodes
//! it with the official protobuf types: command, load and append spans, every event
//! handler's span with a link to the command, user spans nested under handlers, and trace
//! ids in event metadata equal to the exported ones (see `common/trace_scenario.rs`).

#[path = "common/trace_scenario.rs"]
mod trace_scenario;

#[test]
fn a_bank_transfer_is_exported_over_grpc() {
    trace_scenario::check_bank_transfer(cqrs_obs::trace::Protocol::Grpc);
}
