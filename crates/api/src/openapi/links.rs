//! OpenAPI `links` from each create operation to the operations on what it created, so that
//! clients (and stateful test generators such as schemathesis) can chain `POST` → `GET`,
//! `PATCH`, `DELETE` and the actions under the new record without reading prose.
//!
//! Derived from the paths, not listed by hand, so that a new resource gets its links: a
//! `201` from `POST <collection>` whose body has an `id` created the record at
//! `<collection>/{param}` or, for records nested on create only (a customer's contacts), at
//! `/v1/<last segment>/{param}`.

use serde_json::{Map, Value, json};

/// Adds `links` to the `201` response of every create operation that has a target.
pub(super) fn add(doc: &mut Value) {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return;
    };
    let mut found = Vec::new();
    for (path, item) in paths {
        let Some(created) = item.pointer("/post/responses/201") else {
            continue;
        };
        if !has_id(doc, created) {
            continue;
        }
        let Some(record) = record_path(paths, path) else {
            continue;
        };
        let links = targets(paths, path, &record);
        if !links.is_empty() {
            found.push((path.clone(), links));
        }
    }
    for (path, links) in found {
        if let Some(created) = doc
            .get_mut("paths")
            .and_then(|paths| paths.get_mut(&path))
            .and_then(|item| item.pointer_mut("/post/responses/201"))
            .and_then(Value::as_object_mut)
        {
            created.insert("links".into(), Value::Object(links));
        }
    }
}

/// The path of one created record: `<collection>/{param}`, else `/v1/<last segment>/{param}`.
fn record_path(paths: &Map<String, Value>, collection: &str) -> Option<String> {
    let last = collection.rsplit('/').next()?;
    let flat = format!("/v1/{last}/");
    let nested = format!("{collection}/");
    [nested, flat].into_iter().find_map(|prefix| {
        paths.keys().find_map(|p| {
            let rest = p.strip_prefix(&prefix)?;
            (rest.starts_with('{') && rest.ends_with('}') && !rest.contains('/')).then(|| p.clone())
        })
    })
}

/// One link per operation at the record's path or under it whose path parameters can all be
/// filled: the record's own from the response's `id`, the others from the create request's
/// path.
fn targets(paths: &Map<String, Value>, collection: &str, record: &str) -> Map<String, Value> {
    let own = params(record).pop().unwrap_or_default();
    let known = params(collection);
    let mut links = Map::new();
    for (path, item) in paths {
        if path != record && !path.starts_with(&format!("{record}/")) {
            continue;
        }
        let mut values = Map::new();
        let fillable = params(path).into_iter().all(|name| {
            let value = if name == own {
                "$response.body#/id".to_owned()
            } else if known.contains(&name) {
                format!("$request.path.{name}")
            } else {
                return false;
            };
            values.insert(name, value.into());
            true
        });
        if !fillable {
            continue;
        }
        let Some(item) = item.as_object() else {
            continue;
        };
        for op in item.values() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                links.insert(
                    id.to_owned(),
                    json!({"operationId": id, "parameters": values.clone()}),
                );
            }
        }
    }
    links
}

/// The names of a path's `{parameters}`, in order.
fn params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// Whether a response's JSON body has an `id` property (following `$ref` and `allOf`).
fn has_id(doc: &Value, response: &Value) -> bool {
    let schema = response.pointer("/content/application~1json/schema");
    schema.is_some_and(|s| schema_has_id(doc, s, 0))
}

fn schema_has_id(doc: &Value, schema: &Value, depth: u8) -> bool {
    if depth > 4 {
        return false;
    }
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = target.trim_start_matches('#');
        return doc
            .pointer(pointer)
            .is_some_and(|s| schema_has_id(doc, s, depth + 1));
    }
    schema.pointer("/properties/id").is_some()
        || schema
            .get("allOf")
            .and_then(Value::as_array)
            .is_some_and(|parts| parts.iter().any(|p| schema_has_id(doc, p, depth + 1)))
}

#[cfg(test)]
mod tests {

    #[test]
    fn links_a_create_to_the_operations_on_its_record() {
        let doc = crate::openapi::document();
        let links = &doc["paths"]["/v1/customers"]["post"]["responses"]["201"]["links"];
        for id in [
            "get_customer",
            "update_customer",
            "delete_customer",
            "customer_timeline",
        ] {
            assert_eq!(links[id]["operationId"], id, "{links}");
            assert_eq!(links[id]["parameters"]["id"], "$response.body#/id");
        }
    }

    #[test]
    fn nested_creates_link_to_flat_and_nested_records() {
        let doc = crate::openapi::document();
        let contact = &doc["paths"]["/v1/customers/{id}/contacts"]["post"]["responses"]["201"];
        assert_eq!(
            contact["links"]["get_contact"]["parameters"]["id"],
            "$response.body#/id"
        );
        let invitation = &doc["paths"]["/v1/surveys/{id}/invitations"]["post"]["responses"]["201"];
        let params = &invitation["links"]["get_invitation"]["parameters"];
        assert_eq!(params["id"], "$request.path.id");
        assert_eq!(params["invitation_id"], "$response.body#/id");
    }
}
