//! The types the generated operation table is written in.
//!
//! `generated/operations.rs` holds one [`Operation`] per operation of the Atlas Administration API
//! v2 spec. Everything here is structure taken from the spec (method, path, parameters, versions,
//! schemas by name, status codes, roles) plus the classification of the operation catalogue
//! (`shape`, `resource`, `key_fields`). No prose from the spec is carried over.

use std::fmt;

/// The HTTP methods the spec uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
}

/// The JSON type of a parameter value (arrays are repeated query parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    String,
    Integer,
    Number,
    Boolean,
    Array(ScalarKind),
}

/// The element type of an array parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    String,
    Integer,
    Number,
    Boolean,
}

/// One declared parameter with the constraints a request must meet.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub location: Location,
    pub required: bool,
    pub kind: ParamKind,
    pub pattern: Option<&'static str>,
    pub enumeration: &'static [&'static str],
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub format: Option<&'static str>,
    pub default: Option<&'static str>,
}

/// The representation a media type names after the `+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Gzip,
    Csv,
}

impl Format {
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Gzip => "gzip",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "json" => Some(Format::Json),
            "gzip" => Some(Format::Gzip),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// One `application/vnd.atlas.<version>+<format>` media type of a request or response.
#[derive(Debug, Clone, Copy)]
pub struct Media {
    /// `YYYY-MM-DD` or `preview`.
    pub version: &'static str,
    pub format: Format,
    /// Name of the schema in `schemas.json` (components keep their name; inline schemas are named
    /// `<operationId>/<status|request>/<version>`).
    pub schema: Option<&'static str>,
    /// `x-sunset` of this media type, `YYYY-MM-DD`.
    pub sunset: Option<&'static str>,
}

/// A declared success status with its media types.
#[derive(Debug, Clone, Copy)]
pub struct Success {
    pub status: u16,
    pub media: &'static [Media],
}

/// The structural role of an operation, from the operation catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    CollectionList,
    CollectionCreate,
    ItemGet,
    ItemUpdatePatch,
    ItemReplacePut,
    ItemDelete,
    SingletonGet,
    SingletonUpdate,
    SingletonDelete,
    CustomAction,
    BinaryDownload,
    Metrics,
    SearchAggregate,
}

/// Everything the server knows about one operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub id: crate::operation_ids::OperationId,
    /// The spec's `operationId`.
    pub name: &'static str,
    pub method: Method,
    /// Full path template, e.g. `/api/atlas/v2/groups/{groupId}`.
    pub path: &'static str,
    pub tag: &'static str,
    pub params: &'static [Param],
    pub request: &'static [Media],
    pub request_required: bool,
    pub success: &'static [Success],
    /// `x-rolesRequirements` (any one of them suffices).
    pub roles: &'static [&'static str],
    pub deprecated: bool,
    /// False only for the spec's one operation with `security: []`.
    pub authenticated: bool,
    pub shape: Shape,
    /// Canonical collection or singleton path template this operation acts on.
    pub resource: &'static str,
    /// `param->field` pairs naming which body field each trailing path key maps to.
    pub key_fields: &'static str,
    /// Finer hint from the catalogue (`create-at-key`, `body-keyed(username)`, `action:<verb>` ...).
    pub shape_detail: &'static str,
    /// Where the data comes from (`config`, `lifecycle`, `system`, `derived`, `static` ...).
    pub state_kind: &'static str,
}

impl Operation {
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// All versions the operation declares, oldest first, `preview` last.
    pub fn versions(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self
            .success
            .iter()
            .flat_map(|s| s.media.iter().map(|m| m.version))
            .chain(self.request.iter().map(|m| m.version))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The success responses declared for one version.
    pub fn success_for(&self, version: &str) -> impl Iterator<Item = (u16, &'static Media)> + '_ {
        let version = version.to_owned();
        self.success.iter().flat_map(move |s| {
            let version = version.clone();
            s.media
                .iter()
                .filter(move |m| m.version == version)
                .map(move |m| (s.status, m))
        })
    }

    pub fn request_for(&self, version: &str) -> Option<&'static Media> {
        self.request.iter().find(|m| m.version == version)
    }

    /// Whether the operation takes the paging parameters.
    pub fn is_paginated(&self) -> bool {
        self.param("pageNum").is_some()
    }
}
