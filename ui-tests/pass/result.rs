//! A `Result`-returning handler using `?` with `From` conversions: `Err` is recorded as
//! `error` (the error type does not implement `ClassifyError`).

#![deny(warnings)]

use std::num::ParseIntError;

use cqrs_obs::{command_handler, Outcome};

#[derive(Debug)]
pub enum ImportError {
    Parse(ParseIntError),
    Negative(i64),
}

impl From<ParseIntError> for ImportError {
    fn from(error: ParseIntError) -> Self {
        ImportError::Parse(error)
    }
}

pub struct Import<'a> {
    pub line: &'a str,
}

#[command_handler(aggregate = "Ledger")]
pub fn import(cmd: Import<'_>) -> Result<u64, ImportError> {
    let value: i64 = cmd.line.trim().parse()?;
    if value < 0 {
        return Err(ImportError::Negative(value));
    }
    Ok(value.unsigned_abs())
}

#[command_handler]
fn import_all(lines: &[&str]) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    let mut values = Vec::new();
    for line in lines {
        values.push(line.parse::<u64>()?);
    }
    Ok(values)
}

fn main() {
    cqrs_obs::handler::enable();
    assert_eq!(import(Import { line: " 12 " }).unwrap(), 12);
    assert!(matches!(
        import(Import { line: "x" }),
        Err(ImportError::Parse(_))
    ));
    assert!(matches!(
        import(Import { line: "-3" }),
        Err(ImportError::Negative(-3))
    ));
    assert_eq!(import_all(&["1", "2"]).unwrap(), [1, 2]);
    assert!(import_all(&["1", "two"]).is_err());

    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "import")
        .unwrap();
    assert_eq!(site.meta().message, "Import");
    assert_eq!(site.snapshot().count(Outcome::Ok), 1);
    assert_eq!(site.snapshot().count(Outcome::Error), 2);
    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "import_all")
        .unwrap();
    assert_eq!(
        site.meta().message,
        "import_all",
        "a slice is not a path type"
    );
    assert_eq!(site.snapshot().count(Outcome::Ok), 1);
    assert_eq!(site.snapshot().count(Outcome::Error), 1);
}
