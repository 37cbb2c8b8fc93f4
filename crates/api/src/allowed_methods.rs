//! Which methods each documented path takes, read from the OpenAPI document: a request for a
//! path that exists with a method it does not take answers 405 with `Allow` (RFC 9110
//! §15.5.6), not 404. The document is the list of routes, so the two cannot drift.

use serde_json::Value;

/// The documented paths, each with its methods.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods {
    paths: Vec<Template>,
}

#[derive(Debug, Clone)]
struct Template {
    /// `None` for a `{parameter}` segment, which takes any one segment.
    segments: Vec<Option<String>>,
    /// Upper case, in the document's order.
    methods: Vec<String>,
}

impl Template {
    fn matches(&self, path: &[&str]) -> bool {
        self.segments.len() == path.len()
            && self
                .segments
                .iter()
                .zip(path)
                .all(|(template, given)| template.as_deref().is_none_or(|t| t == *given))
    }

    fn parameters(&self) -> usize {
        self.segments.iter().filter(|s| s.is_none()).count()
    }
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

impl AllowedMethods {
    /// Reads the paths and methods of an OpenAPI document (JSON); nothing when it is not one.
    pub fn from_document(json: &str) -> AllowedMethods {
        let doc: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
            return AllowedMethods::default();
        };
        let paths = paths
            .iter()
            .map(|(path, item)| Template {
                segments: split(path)
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect(),
                methods: METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect(),
            })
            .collect();
        AllowedMethods { paths }
    }

    /// The `Allow` value of `path` when it is a documented one (`GET, POST`); `None` when no
    /// documented path is like it. Of several templates that fit (`/customers/batch` and
    /// `/customers/{id}`), the most literal ones answer, as routing would pick them.
    pub fn of(&self, path: &str) -> Option<String> {
        let given: Vec<&str> = split(path).collect();
        let fitting: Vec<&Template> = self.paths.iter().filter(|t| t.matches(&given)).collect();
        let fewest = fitting.iter().map(|t| t.parameters()).min()?;
        let mut methods: Vec<&str> = Vec::new();
        for t in fitting.iter().filter(|t| t.parameters() == fewest) {
            for m in &t.methods {
                if !methods.contains(&m.as_str()) {
                    methods.push(m);
                }
            }
        }
        Some(methods.join(", "))
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedMethods {
        AllowedMethods::from_document(
            r#"{"paths": {
                "/health/live": {"get": {}},
                "/v1/customers": {"get": {}, "post": {}},
                "/v1/customers/batch": {"post": {}},
                "/v1/customers/{id}": {"get": {}, "patch": {}, "delete": {}, "parameters": []}
            }}"#,
        )
    }

    #[test]
    fn a_documented_path_answers_its_methods() {
        let allowed = allowed();
        assert_eq!(allowed.of("/health/live").as_deref(), Some("GET"));
        assert_eq!(allowed.of("/v1/customers").as_deref(), Some("GET, POST"));
        assert_eq!(allowed.of("/v1/customers/").as_deref(), Some("GET, POST"));
        assert_eq!(
            allowed.of("/v1/customers/0190").as_deref(),
            Some("GET, DELETE, PATCH")
        );
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        assert_eq!(allowed().of("/v1/customers/batch").as_deref(), Some("POST"));
    }

    #[test]
    fn an_unknown_path_has_none() {
        let allowed = allowed();
        assert_eq!(allowed.of("/v1/nothing"), None);
        assert_eq!(allowed.of("/v1/customers/1/2"), None);
        assert_eq!(AllowedMethods::from_document("not json").of("/"), None);
    }
}
