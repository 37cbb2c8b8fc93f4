//! `rapport import FILE`: uploads a CSV file to a running server's `POST /v1/imports/customers`
//! and follows the import (`GET /v1/imports/{id}`) until it ends. It speaks HTTP like any
//! client, so the server checks the token's rights and writes each row as the API does.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// The server's address: `http://127.0.0.1:8080`.
    pub base: String,
    /// An access token with `customers:write`.
    pub token: String,
    /// `HEADER=FIELD` pairs (`FIELD` empty: skip the column).
    pub mapping: Vec<String>,
    pub delimiter: Option<String>,
    pub upsert_on: Option<String>,
    pub allow_duplicate: bool,
}

/// How often the import is asked for its progress.
const POLL: Duration = Duration::from_millis(300);

/// The mapping as the API takes it: a JSON object of header → field (or `null`).
fn mapping_json(pairs: &[String]) -> anyhow::Result<Option<String>> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut mapping = serde_json::Map::new();
    for pair in pairs {
        let Some((header, field)) = pair.split_once('=') else {
            bail!("--map {pair}: write it HEADER=FIELD");
        };
        let field = field.trim();
        let value = if field.is_empty() {
            Value::Null
        } else {
            Value::from(field)
        };
        mapping.insert(header.trim().to_owned(), value);
    }
    Ok(Some(Value::Object(mapping).to_string()))
}

/// Reads an answer, turning a problem into an error that says what it is.
async fn json_of(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("reading the server's answer")?;
    if status.is_success() {
        return Ok(body);
    }
    let mut message = format!(
        "{status}: {}",
        body["detail"]
            .as_str()
            .or(body["title"].as_str())
            .unwrap_or("")
    );
    for error in body["errors"].as_array().into_iter().flatten() {
        message.push_str(&format!(
            "\n  {}: {}",
            error["field"].as_str().unwrap_or(""),
            error["message"].as_str().unwrap_or("")
        ));
    }
    bail!(message)
}

/// Uploads `file` and follows its import, telling `progress` each state it reads, until it
/// ends; answers the import as it ended.
///
/// # Errors
/// The file cannot be read, the server cannot be reached, or it refused the file.
pub async fn import(
    request: &ImportRequest,
    file: &Path,
    mut progress: impl FnMut(&Value),
) -> anyhow::Result<Value> {
    let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let client = reqwest::Client::new();
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(mapping) = mapping_json(&request.mapping)? {
        query.push(("mapping", mapping));
    }
    if let Some(delimiter) = &request.delimiter {
        query.push(("delimiter", delimiter.clone()));
    }
    if let Some(upsert_on) = &request.upsert_on {
        query.push(("upsert_on", upsert_on.clone()));
    }
    if request.allow_duplicate {
        query.push(("allow_duplicate", "true".into()));
    }
    if let Some(name) = file.file_name() {
        query.push(("file_name", name.to_string_lossy().into_owned()));
    }
    let base = request.base.trim_end_matches('/');
    let started = client
        .post(format!("{base}/v1/imports/customers"))
        .query(&query)
        .bearer_auth(&request.token)
        .header(reqwest::header::CONTENT_TYPE, "text/csv")
        .body(body)
        .send()
        .await
        .with_context(|| format!("sending the file to {base}"))?;
    let mut import = json_of(started).await?;
    let id = import["id"]
        .as_str()
        .context("the server's answer names no import")?
        .to_owned();
    loop {
        progress(&import);
        if matches!(import["status"].as_str(), Some("completed" | "failed")) {
            return Ok(import);
        }
        tokio::time::sleep(POLL).await;
        let answer = client
            .get(format!("{base}/v1/imports/{id}"))
            .bearer_auth(&request.token)
            .send()
            .await
            .context("asking for the import's progress")?;
        import = json_of(answer).await?;
    }
}

/// What an ended import says to a person: its counts, and its first refused rows.
pub fn summary(import: &Value) -> String {
    let count = |key: &str| import[key].as_i64().unwrap_or(0);
    let mut text = format!(
        "Import {} {}: {} rows, {} created, {} updated, {} refused.",
        import["id"].as_str().unwrap_or(""),
        import["status"].as_str().unwrap_or(""),
        count("total_rows"),
        count("created"),
        count("updated"),
        count("failed"),
    );
    if let Some(error) = import["error"].as_str() {
        text.push_str(&format!("\n{error}"));
    }
    for row in import["errors"].as_array().into_iter().flatten() {
        let problem = &row["error"];
        let fields: Vec<String> = problem["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{}: {}",
                    e["field"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        let why = if fields.is_empty() {
            problem["detail"]
                .as_str()
                .or(problem["title"].as_str())
                .unwrap_or("")
                .to_owned()
        } else {
            fields.join("; ")
        };
        text.push_str(&format!("\n  row {}: {why}", row["row"]));
    }
    if count("failed") > import["errors"].as_array().map_or(0, |e| e.len() as i64) {
        text.push_str(&format!(
            "\n  … every refused row: GET /v1/imports/{}/errors",
            import["id"].as_str().unwrap_or("")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_pairs_become_the_mapping_parameter() {
        let pairs = vec!["Firma=name".to_owned(), " Notes =".to_owned()];
        assert_eq!(
            mapping_json(&pairs).unwrap().unwrap(),
            r#"{"Firma":"name","Notes":null}"#
        );
        assert!(mapping_json(&["Firma".to_owned()]).is_err());
        assert_eq!(mapping_json(&[]).unwrap(), None);
    }
}
