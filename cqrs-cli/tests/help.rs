//! Snapshots of the command line that need no service: `--help` of every command, the
//! version, usage errors (exit 2, naming the flag and what it accepts) and an unreachable
//! endpoint (exit 3, one line naming it). The cases are `tests/cmd/*.toml` with their
//! expected `.stdout` / `.stderr`; `TRYCMD=overwrite` rewrites them.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "cqrs-cli",
            std::path::Path::new(env!("CARGO_BIN_EXE_cqrs-cli")),
        )
        .case("tests/cmd/*.toml");
}
