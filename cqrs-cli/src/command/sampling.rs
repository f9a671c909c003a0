//! `sampling`: the trace sampler (`GET /sampling`), or a new one for every call from now on
//! (`PUT /sampling`, an operator action).

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, Outcome};
use crate::cli::SamplingArgs;
use crate::error::Exit;
use crate::output::{Record, Report};

/// The sampler as the service describes it.
#[derive(Debug, Deserialize)]
struct Sampler {
    sampler: String,
    #[serde(default)]
    arg: Option<String>,
}

/// Runs `sampling`. A sampler the service does not accept is its 400 (exit 2) with its
/// reason.
pub(crate) fn run(ctx: &Ctx, args: &SamplingArgs) -> Outcome {
    let now: Sampler = match &args.sampler {
        None => ctx.admin.get_json("/sampling")?,
        Some(name) => {
            let mut body = serde_json::Map::new();
            body.insert("sampler".into(), Value::from(name.as_str()));
            if let Some(arg) = &args.arg {
                body.insert("arg".into(), Value::from(arg.as_str()));
            }
            ctx.admin
                .put_json("/sampling", Value::Object(body).to_string().as_bytes())?
                .expect(&[200])?
                .json()?
        }
    };
    let record = Record::new()
        .with("sampler", now.sampler.as_str())
        .with("arg", now.arg.map_or(Value::Null, Value::from));
    Ok((Report::new(vec!["sampler", "arg"], vec![record]), Exit::Ok))
}
