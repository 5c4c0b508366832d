//! Request validation from the model: path and query parameters by their declared type, pattern,
//! range and enum; JSON bodies against the served version's request schema. Every failure is an
//! Atlas 400 with the code a client keys on (semantics §3.2).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use atlas_model::{Location, Method, Param, ParamKind, ScalarKind};
use atlas_schema::{Mode, Schemas, ViolationKind};
use regex::Regex;
use serde_json::Value;

use crate::api_error;
use crate::kernel::call::Call;
use crate::kernel::error::ApiError;
use crate::kernel::paths::segment;

/// Checks every declared path and query parameter of the call.
pub fn parameters(call: &Call) -> Result<(), ApiError> {
    for param in call.op.params {
        match param.location {
            Location::Path => {
                if let Some(value) = call.path_param(param.name)
                    && !pattern_exempt(call, param)
                {
                    path_param(param, value)?;
                }
            }
            Location::Query => {
                let mut values = call.query_values(param.name).peekable();
                if values.peek().is_none() {
                    if param.required {
                        return Err(api_error!(MISSING_QUERY_PARAMETER, param.name));
                    }
                    continue;
                }
                for value in values {
                    if !scalar_ok(param, value) {
                        return Err(api_error!(INVALID_QUERY_PARAMETER, param.name));
                    }
                }
            }
            // Header parameters (`Use-Effective-*`) only select rendering options.
            Location::Header => {}
        }
    }
    Ok(())
}

/// Path parameters whose declared pattern covers only some of the values Atlas takes: the
/// `endpointId` pattern has the AWS (`vpce-`) and Azure (resource id) forms, while a GCP
/// endpoint is named by its endpoint group (the parameter's description: "the format differs
/// for AWS and Azure"; GCP endpoint groups are user-named).
fn pattern_exempt(call: &Call, param: &Param) -> bool {
    param.name == "endpointId" && call.path_param("cloudProvider") == Some("GCP")
}

fn path_param(param: &Param, value: &str) -> Result<(), ApiError> {
    // Some patterns are written against the value as it travels in the URL (Azure private
    // endpoint ids: `^%2[fF]subscriptions%2[fF]...`), others against the decoded value.
    if scalar_ok(param, value) || scalar_ok(param, &segment(value)) {
        return Ok(());
    }
    Err(match param.name {
        "groupId" => api_error!(INVALID_GROUP_ID, value),
        "orgId" => api_error!(INVALID_ORG_ID, value),
        name => api_error!(INVALID_PATH_PARAMETER, name),
    })
}

/// Whether one textual value meets the parameter's declared constraints.
fn scalar_ok(param: &Param, value: &str) -> bool {
    let kind = match param.kind {
        ParamKind::String => ScalarKind::String,
        ParamKind::Integer => ScalarKind::Integer,
        ParamKind::Number => ScalarKind::Number,
        ParamKind::Boolean => ScalarKind::Boolean,
        ParamKind::Array(item) => item,
    };
    let number = match kind {
        ScalarKind::Boolean => return value == "true" || value == "false",
        ScalarKind::Integer => match value.parse::<i64>() {
            Ok(n) => Some(n as f64),
            Err(_) => return false,
        },
        ScalarKind::Number => match value.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => return false,
        },
        ScalarKind::String => None,
    };
    if let Some(n) = number
        && (param.minimum.is_some_and(|min| n < min) || param.maximum.is_some_and(|max| n > max))
    {
        return false;
    }
    if !param.enumeration.is_empty() && !param.enumeration.contains(&value) {
        return false;
    }
    let chars = value.chars().count() as u64;
    if param.min_length.is_some_and(|min| chars < min)
        || param.max_length.is_some_and(|max| chars > max)
    {
        return false;
    }
    // A pattern constrains strings only (JSON Schema): the spec gives a few integer parameters
    // a "pattern" that is really a bound (`startDate` of the streams log downloads).
    if kind != ScalarKind::String {
        return true;
    }
    match param.pattern.and_then(compiled) {
        Some(re) => re.is_match(value),
        None => true,
    }
}

/// Patterns compiled once each, for the life of the process (there are a few dozen, all from
/// the spec). A pattern the regex engine cannot compile (ECMA-only syntax) constrains nothing
/// rather than rejecting every value. References are handed out, never clones: cloning a
/// `Regex` builds a new matcher cache each time, which dominated request validation.
fn compiled(pattern: &'static str) -> Option<&'static Regex> {
    static CACHE: OnceLock<RwLock<HashMap<&'static str, Option<&'static Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.read().ok().and_then(|m| m.get(pattern).copied()) {
        return hit;
    }
    let re: Option<&'static Regex> = Regex::new(pattern).ok().map(|r| &*Box::leak(Box::new(r)));
    if let Ok(mut map) = cache.write() {
        // Another thread may have compiled it meanwhile: keep the first, so each leaks once.
        return *map.entry(pattern).or_insert(re);
    }
    re
}

/// Checks the JSON body against the request schema of the served version, and returns it
/// without the read-only attributes it carries (`None` when it has none, or no schema).
///
/// Atlas accepts read-only attributes in request bodies and ignores them: real clients send
/// back what they read (the Go SDK's `admin.Group` always carries `clusterCount` and `created`;
/// the Atlas CLI's cluster update sends a cluster's `groupId` and its replication specs'
/// `zoneId`, answered 200). What the server stores must not take a client's copy of a value it
/// owns, so the caller serves the call with the returned body when there is one. Unknown
/// attributes are still refused (400 `INVALID_ATTRIBUTE`).
///
/// A PATCH body is partial: the attributes its schema requires of a whole document are not
/// required of it (the CLI's database user and team role updates send only what changes,
/// answered 200). Attributes required inside a value the PATCH does send still are.
pub fn body(call: &Call) -> Result<Option<Value>, ApiError> {
    let Some(media) = request_media(call) else {
        return Ok(None);
    };
    let Some(body) = &call.body else {
        if call.op.request_required {
            return Err(api_error!(INVALID_JSON));
        }
        return Ok(None);
    };
    let Some(schema) = media.schema else {
        return Ok(None);
    };
    let schemas = Schemas::global();
    if let Err(violations) = schemas.validate(schema, Mode::Request, body) {
        let partial = call.op.method == Method::Patch;
        let refused = violations.iter().find(|v| {
            !(partial && v.kind == ViolationKind::MissingAttribute && v.pointer.is_empty())
        });
        if let Some(v) = refused {
            return Err(violation_error(v, body));
        }
    }
    Ok(schemas.without_read_only(schema, body))
}

/// The request media of the served version (or the newest one before it).
fn request_media(call: &Call) -> Option<&'static atlas_model::Media> {
    call.op.request_for(call.version).or_else(|| {
        call.op
            .request
            .iter()
            .filter(|m| m.version != "preview" && m.version <= call.version)
            .max_by_key(|m| m.version)
            .or_else(|| call.op.request.first())
    })
}

fn violation_error(v: &atlas_schema::Violation, body: &Value) -> ApiError {
    let attribute = v.attribute.clone().unwrap_or_default();
    match v.kind {
        ViolationKind::UnknownAttribute | ViolationKind::InvalidValue => {
            api_error!(INVALID_ATTRIBUTE, attribute)
        }
        ViolationKind::MissingAttribute => api_error!(MISSING_ATTRIBUTE, attribute),
        ViolationKind::InvalidEnumValue => {
            let value = match &v.value {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            // Atlas answers an empty value with "value  was specified" and no parameter (§3.2).
            if value.is_empty() {
                api_error!(INVALID_ENUM_VALUE)
            } else {
                api_error!(INVALID_ENUM_VALUE, value)
            }
        }
        ViolationKind::WrongType if v.pointer.is_empty() || !body.is_object() => {
            api_error!(INVALID_JSON)
        }
        ViolationKind::WrongType => api_error!(INVALID_JSON_ATTRIBUTE, attribute),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::OperationId;

    fn param(op: OperationId, name: &str) -> &'static Param {
        op.op().param(name).unwrap()
    }

    #[test]
    fn paging_parameters_keep_their_ranges() {
        let items = param(OperationId::ListGroups, "itemsPerPage");
        assert!(scalar_ok(items, "1"));
        assert!(scalar_ok(items, "500"));
        assert!(!scalar_ok(items, "0"));
        assert!(!scalar_ok(items, "501"));
        assert!(!scalar_ok(items, "abc"));
        let page = param(OperationId::ListGroups, "pageNum");
        assert!(!scalar_ok(page, "0"));
        let pretty = param(OperationId::ListGroups, "pretty");
        assert!(scalar_ok(pretty, "true"));
        assert!(!scalar_ok(pretty, "yes"));
    }

    #[test]
    fn ids_follow_their_pattern() {
        let group = param(OperationId::GetGroup, "groupId");
        assert!(scalar_ok(group, "6a793f362c88faeba59b8a26"));
        assert!(!scalar_ok(group, "zz793f362c88faeba59b8a26"));
        assert!(!scalar_ok(group, "6a793f"));
        let err = path_param(group, "nothex").unwrap_err();
        assert_eq!(err.code(), "INVALID_GROUP_ID");
    }

    #[test]
    fn encoded_patterns_accept_decoded_values() {
        // The endpointId pattern matches the URL-encoded Azure resource id (`%2F`); the router
        // hands the handler the decoded one.
        let endpoint = param(
            OperationId::GetGroupPrivateEndpointEndpointServiceEndpoint,
            "endpointId",
        );
        let azure = "/subscriptions/cba6d9c6-1d3f-3c11-03cb-c705d895e636/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe";
        assert!(path_param(endpoint, azure).is_ok());
        assert!(path_param(endpoint, "vpce-0123456789abcdef0").is_ok());
        assert!(path_param(endpoint, "not-an-endpoint").is_err());
    }

    #[test]
    fn integer_parameters_ignore_string_patterns() {
        let start = param(OperationId::DownloadGroupStreamAuditLogs, "startDate");
        assert!(scalar_ok(start, "1636466948"));
        assert!(!scalar_ok(start, "yesterday"));
    }
}
