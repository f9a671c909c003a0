//! `dashboards export` (from the admin endpoint to files or stdout) and `dashboards deploy`
//! (to Grafana's `POST /api/dashboards/db`, retrying transient failures).

use std::time::Duration;

use serde_json::Value;

use super::{Ctx, Outcome};
use crate::cli::{DeployArgs, ExportArgs, Template};
use crate::client::Client;
use crate::error::{CliError, Exit};
use crate::output::{Record, Report, Tone};

fn template(t: Template) -> &'static str {
    match t {
        Template::Minimal => "minimal",
        Template::Development => "development",
        Template::Production => "production",
    }
}

fn fetch(ctx: &Ctx, t: Template) -> Result<Vec<Value>, CliError> {
    ctx.admin.get_json(&format!("/dashboards/{}", template(t)))
}

fn text(d: &Value, key: &str) -> String {
    d[key].as_str().unwrap_or("").to_owned()
}

/// A file name from a uid: letters, digits, `-` and `_` kept, the rest `_`.
fn file_name(uid: &str) -> String {
    let safe: String = uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}.json",
        if safe.is_empty() {
            "dashboard".to_owned()
        } else {
            safe
        }
    )
}

/// `dashboards export` without `--out`: the dashboards as one JSON array.
pub(crate) fn export_stdout(ctx: &Ctx, args: &ExportArgs) -> Result<String, CliError> {
    let all = fetch(ctx, args.template)?;
    let mut out = serde_json::to_string_pretty(&all).map_err(|e| CliError::Other(e.to_string()))?;
    out.push('\n');
    Ok(out)
}

/// `dashboards export --out DIR`.
pub(crate) fn export(ctx: &Ctx, args: &ExportArgs) -> Outcome {
    let all = fetch(ctx, args.template)?;
    let dir = args.out.as_deref().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::Other(format!("creating {}: {e}", dir.display())))?;
    let mut records = Vec::new();
    for d in &all {
        let uid = text(d, "uid");
        let path = dir.join(file_name(&uid));
        let json = serde_json::to_string_pretty(d).map_err(|e| CliError::Other(e.to_string()))?;
        std::fs::write(&path, json + "\n")
            .map_err(|e| CliError::Other(format!("writing {}: {e}", path.display())))?;
        records.push(
            Record::new()
                .with("uid", uid)
                .with("title", text(d, "title"))
                .with("panels", d["panels"].as_array().map_or(0, Vec::len))
                .with("file", path.display().to_string()),
        );
    }
    Ok((
        Report::new(vec!["uid", "title", "panels", "file"], records),
        Exit::Ok,
    ))
}

/// What one deployment came to.
enum Deployed {
    Done(Value),
    Failed(String),
}

fn deploy_one(grafana: &Client, body: &[u8], attempts: u32) -> Deployed {
    let mut last = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500 << (attempt - 1).min(4)));
        }
        match grafana.post_json("/api/dashboards/db", body) {
            Ok(a) if a.status == 200 => return Deployed::Done(a.json().unwrap_or(Value::Null)),
            Ok(a) if a.status == 429 || a.status >= 500 => {
                last = format!("{} {}", a.status, a.body.trim());
            }
            Ok(a) => {
                let message = serde_json::from_str::<Value>(&a.body)
                    .ok()
                    .and_then(|v| v["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| a.body.trim().to_owned());
                return Deployed::Failed(format!("{} {message}", a.status));
            }
            Err(e @ CliError::Unreachable { .. }) => last = e.to_string(),
            Err(e) => return Deployed::Failed(e.to_string()),
        }
    }
    Deployed::Failed(format!("gave up after {attempts} attempts: {last}"))
}

/// Creates the folder `uid` (titled with its uid) unless it exists, retrying transient
/// failures like the deployments.
fn ensure_folder(grafana: &Client, uid: &str, attempts: u32) -> Result<(), CliError> {
    let path = format!("/api/folders/{}", crate::client::encode(uid));
    let mut last = None;
    for attempt in 0..attempts {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500 << (attempt - 1).min(4)));
        }
        let found = match grafana.get(&path) {
            Ok(answer) => answer,
            Err(e @ CliError::Unreachable { .. }) => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        match found.status {
            200 => return Ok(()),
            404 => {}
            429 | 500.. => {
                last = Some(grafana_error(found));
                continue;
            }
            _ => return Err(grafana_error(found)),
        }
        let body = serde_json::json!({"uid": uid, "title": uid}).to_string();
        let created = grafana.post_json("/api/folders", body.as_bytes())?;
        match created.status {
            // 409: created by someone else meanwhile.
            200 | 409 => return Ok(()),
            429 | 500.. => last = Some(grafana_error(created)),
            _ => return Err(grafana_error(created)),
        }
    }
    Err(last.unwrap_or_else(|| CliError::Other("no attempt made".to_owned())))
}

/// A Grafana error answer (`{"message": ..}`) as an error naming the URL.
fn grafana_error(answer: crate::client::Answer) -> CliError {
    let message = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| answer.body.trim().to_owned());
    CliError::Status {
        url: answer.url,
        status: answer.status,
        code: None,
        message,
    }
}

/// `dashboards deploy`.
pub(crate) fn deploy(ctx: &Ctx, args: &DeployArgs) -> Outcome {
    let all = fetch(ctx, args.template)?;
    let mut grafana = Client::new(
        &args.grafana_url,
        args.grafana_token.as_deref(),
        ctx.settings.timeout,
        ctx.settings.progress,
        None,
    )?;
    if let (Some(user), Some(password)) = (&args.grafana_user, &args.grafana_password) {
        grafana = grafana.with_basic_auth(user, password);
    }
    if let Some(folder) = &args.folder_uid {
        ensure_folder(&grafana, folder, args.attempts)?;
    }
    let mut exit = Exit::Ok;
    let mut records = Vec::new();
    for d in all {
        let (uid, title) = (text(&d, "uid"), text(&d, "title"));
        let mut dashboard = d;
        dashboard["id"] = Value::Null;
        let mut body = serde_json::json!({
            "dashboard": dashboard,
            "overwrite": true,
            "message": concat!("deployed by cqrs-cli ", env!("CARGO_PKG_VERSION")),
        });
        if let Some(folder) = &args.folder_uid {
            body["folderUid"] = Value::from(folder.as_str());
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| CliError::Other(e.to_string()))?;
        let record = Record::new().with("uid", uid).with("title", title);
        records.push(match deploy_one(&grafana, &bytes, args.attempts) {
            Deployed::Done(answer) => record
                .with("status", "deployed")
                .with("version", answer["version"].clone())
                .with("url", answer["url"].clone())
                .tone("status", Tone::Good),
            Deployed::Failed(why) => {
                exit = Exit::Error;
                record
                    .with("status", format!("failed: {why}"))
                    .with("version", Value::Null)
                    .with("url", Value::Null)
                    .tone("status", Tone::Bad)
            }
        });
    }
    Ok((
        Report::new(vec!["uid", "title", "status", "version", "url"], records),
        exit,
    ))
}
