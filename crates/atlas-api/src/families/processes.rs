//! Processes and their measurements (`/groups/{groupId}/processes…`): the hosts a project's
//! clusters imply (from their topology) and plausible, deterministic time series over the
//! requested window and granularity.

use atlas_model::OperationId;
use atlas_store::Page;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::clusters::topology::{self, Process};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::paging::Paging;
use atlas_model::API_PREFIX;

/// Most data points one measurement may return (a window/granularity pair asking for more is
/// refused rather than answered with megabytes).
const MAX_POINTS: i64 = 2880;

/// Databases every mongod reports.
const DATABASES: &[&str] = &["admin", "config", "local"];

pub struct Processes;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupProcesses,
    OperationId::GetGroupProcess,
    OperationId::GetGroupProcessMeasurements,
    OperationId::ListGroupProcessDisks,
    OperationId::GetGroupProcessDisk,
    OperationId::GetGroupProcessDiskMeasurements,
    OperationId::ListGroupProcessDatabases,
    OperationId::GetGroupProcessDatabase,
    OperationId::GetGroupProcessDatabaseMeasurements,
];

impl Behaviour for Processes {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let processes = project_processes(cx)?;
        if cx.call.op.id == OperationId::ListGroupProcesses {
            let paging = Paging::of(cx.call);
            let total = processes.len() as u64;
            let items: Vec<Value> = paging
                .slice(&processes)
                .into_iter()
                .map(|(p, created)| host_view(cx, p, created))
                .collect();
            return Ok(Reply::json(
                200,
                cx.render.fit_owned(paging.body(cx.call, items, total)),
            ));
        }
        let wanted = cx
            .call
            .path_param("processId")
            .unwrap_or_default()
            .to_owned();
        let Some((process, created)) = processes.iter().find(|(p, _)| p.id() == wanted) else {
            return Err(api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()));
        };
        let base = format!("/groups/{}/processes/{wanted}", group(cx));
        let body = match cx.call.op.id {
            OperationId::GetGroupProcess => host_view(cx, process, created),
            OperationId::ListGroupProcessDisks => {
                list_of(cx, &[("partitionName", "data")], &format!("{base}/disks"))
            }
            OperationId::GetGroupProcessDisk => {
                named(cx, "partitionName", &["data"], &format!("{base}/disks"))?
            }
            OperationId::ListGroupProcessDatabases => {
                let pairs: Vec<(&str, &str)> =
                    DATABASES.iter().map(|d| ("databaseName", *d)).collect();
                list_of(cx, &pairs, &format!("{base}/databases"))
            }
            OperationId::GetGroupProcessDatabase => {
                named(cx, "databaseName", DATABASES, &format!("{base}/databases"))?
            }
            _ => measurements(cx, process, created)?,
        };
        Ok(Reply::json(200, cx.render.fit_owned(body)))
    }
}

fn group(cx: &Ctx<'_>) -> String {
    cx.scope.group_id.clone().unwrap_or_default()
}

/// Every process of the project's clusters, with its cluster's creation time.
fn project_processes(cx: &mut Ctx<'_>) -> Result<Vec<(Process, String)>, ApiError> {
    let group = group(cx);
    let (clusters, _) = cx
        .tx
        .list(&format!("/groups/{group}/clusters"), Page::ALL)?;
    Ok(clusters
        .iter()
        .flat_map(|c| {
            let created = c
                .doc
                .get("createDate")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            topology::processes(&c.doc, &group)
                .into_iter()
                .map(move |p| (p, created.clone()))
        })
        .collect())
}

fn host_view(cx: &Ctx<'_>, p: &Process, created: &str) -> Value {
    let group = group(cx);
    let mut doc = json!({
        "created": created,
        "groupId": group,
        "hostname": p.hostname,
        "id": p.id(),
        "lastPing": atlas_timestamp(cx.now.get()),
        "port": p.port,
        "typeName": p.type_name,
        "userAlias": p.hostname,
        "version": super::clusters::full_version("8.0"),
        "links": [{"href": format!("{}{API_PREFIX}/groups/{group}/processes/{}", cx.call.origin.base_url, p.id()), "rel": "self"}],
    });
    if let Some(rs) = &p.replica_set {
        doc["replicaSetName"] = json!(rs);
    }
    if let Some(shard) = &p.shard {
        doc["shardName"] = json!(shard);
    }
    doc
}

fn list_of(cx: &Ctx<'_>, items: &[(&str, &str)], base: &str) -> Value {
    let paging = Paging::of(cx.call);
    let results: Vec<Value> = items
        .iter()
        .map(|(field, name)| {
            json!({*field: name, "links": [{"href": format!("{}{API_PREFIX}{base}/{name}", cx.call.origin.base_url), "rel": "self"}]})
        })
        .collect();
    paging.body(cx.call, paging.slice(results), items.len() as u64)
}

fn named(cx: &Ctx<'_>, param: &str, known: &[&str], base: &str) -> Result<Value, ApiError> {
    let name = cx.call.path_param(param).unwrap_or_default();
    if !known.contains(&name) {
        return Err(api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()));
    }
    Ok(
        json!({param: name, "links": [{"href": format!("{}{API_PREFIX}{base}/{name}", cx.call.origin.base_url), "rel": "self"}]}),
    )
}

/// `PT1M` -> 60 s. Only the granularities Atlas offers.
fn granularity_seconds(g: &str) -> Option<i64> {
    match g {
        "PT10S" => Some(10),
        "PT1M" => Some(60),
        "PT5M" => Some(300),
        "PT1H" => Some(3600),
        "P1D" => Some(86_400),
        _ => None,
    }
}

/// A simple ISO-8601 duration (`PT10H`, `P2D`, `PT30M`, `P1DT12H`) in seconds.
pub fn iso_duration_seconds(text: &str) -> Option<i64> {
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = 0i64;
    let mut number = String::new();
    for (part, in_time) in [(days, false), (time, true)] {
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let n: i64 = number.parse().ok()?;
            number.clear();
            total += n * match (c, in_time) {
                ('D', false) => 86_400,
                ('W', false) => 604_800,
                ('H', true) => 3600,
                ('M', true) => 60,
                ('S', true) => 1,
                _ => return None,
            };
        }
    }
    (number.is_empty() && total > 0).then_some(total)
}

/// Units Atlas reports for a metric, by its name.
fn units(metric: &str) -> &'static str {
    if metric.contains("PERCENT")
        || metric.contains("CPU")
        || metric.contains("UTILIZATION")
        || metric.contains("RATIO")
    {
        "PERCENT"
    } else if metric.contains("LATENCY")
        || metric.contains("EXECUTION_TIME")
        || metric.contains("LAG")
    {
        "MILLISECONDS"
    } else if metric.contains("NETWORK_BYTES") || metric.contains("_BYTES_") {
        "BYTES_PER_SECOND"
    } else if metric.contains("SIZE")
        || metric.contains("MEMORY")
        || metric.contains("SPACE")
        || metric.contains("BYTES")
        || metric.contains("DATA")
    {
        "BYTES"
    } else if metric.contains("OPCOUNTER")
        || metric.contains("IOPS")
        || metric.contains("NUM_REQUESTS")
        || metric.contains("DOCUMENT_")
    {
        "SCALAR_PER_SECOND"
    } else {
        "SCALAR"
    }
}

/// A deterministic value for one metric of one host at one time: a daily wave around a base
/// that suits the units.
fn value(host: &str, metric: &str, at: i64, units: &str) -> f64 {
    let seed = host
        .bytes()
        .chain(metric.bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let phase = (seed % 1000) as f64 / 1000.0 * std::f64::consts::TAU;
    let wave = ((at as f64) / 86_400.0 * std::f64::consts::TAU + phase).sin();
    let jitter = ((seed.wrapping_mul(at as u64 | 1) >> 40) % 100) as f64 / 1000.0;
    let (base, amplitude) = match units {
        "PERCENT" => (35.0, 20.0),
        "MILLISECONDS" => (2.0, 1.5),
        "BYTES" => (2.0e9, 5.0e8),
        "BYTES_PER_SECOND" => (3.0e5, 2.0e5),
        "SCALAR_PER_SECOND" => (40.0, 30.0),
        _ => (50.0, 25.0),
    };
    ((base + amplitude * wave) * (1.0 + jitter) * 1000.0).round() / 1000.0
}

fn parse_time(value: &str, name: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|_| api_error!(INVALID_QUERY_PARAMETER, name))
}

fn measurements(cx: &Ctx<'_>, process: &Process, created: &str) -> Result<Value, ApiError> {
    let granularity = cx.call.query_param("granularity").unwrap_or_default();
    let step = granularity_seconds(granularity)
        .ok_or_else(|| api_error!(INVALID_QUERY_PARAMETER, "granularity"))?;
    let (start, end) = match (
        cx.call.query_param("start"),
        cx.call.query_param("end"),
        cx.call.query_param("period"),
    ) {
        (Some(s), Some(e), _) => (parse_time(s, "start")?, parse_time(e, "end")?),
        (_, _, Some(p)) => {
            let seconds = iso_duration_seconds(p)
                .ok_or_else(|| api_error!(INVALID_QUERY_PARAMETER, "period"))?;
            (cx.now.get() - Duration::seconds(seconds), cx.now.get())
        }
        _ => return Err(api_error!(MISSING_QUERY_PARAMETER, "period")),
    };
    if end <= start || (end - start).whole_seconds() / step > MAX_POINTS {
        return Err(api_error!(INVALID_QUERY_PARAMETER, "granularity"));
    }
    // No data exists before the cluster did.
    let born = OffsetDateTime::parse(created, &Rfc3339).unwrap_or(start);
    let first = (start.unix_timestamp().max(born.unix_timestamp()) + step - 1) / step * step;
    let requested: Vec<String> = cx.call.query_values("m").map(str::to_owned).collect();
    let metrics: Vec<String> = if requested.is_empty() {
        cx.call
            .op
            .param("m")
            .map(|p| p.enumeration.iter().map(|m| (*m).to_owned()).collect())
            .unwrap_or_default()
    } else {
        requested
    };
    let host = process.id();
    let series: Vec<Value> = metrics
        .iter()
        .map(|metric| {
            let units = units(metric);
            let points: Vec<Value> = (0..)
                .map(|i| first + i * step)
                .take_while(|t| *t <= end.unix_timestamp())
                .map(|t| {
                    let at = OffsetDateTime::from_unix_timestamp(t).unwrap_or(start);
                    json!({"timestamp": atlas_timestamp(at), "value": value(&host, metric, t, units)})
                })
                .collect();
            json!({"name": metric, "units": units, "dataPoints": points})
        })
        .collect();
    let group = group(cx);
    let mut body = json!({
        "groupId": group, "hostId": host, "processId": host,
        "granularity": granularity, "start": atlas_timestamp(start), "end": atlas_timestamp(end),
        "measurements": series,
        "links": [{"href": format!("{}{}", cx.call.origin.base_url, cx.call.origin.path), "rel": "self"}],
    });
    if let Some(partition) = cx.call.path_param("partitionName") {
        body["partitionName"] = json!(partition);
    }
    if let Some(db) = cx.call.path_param("databaseName") {
        body["databaseName"] = json!(db);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(iso_duration_seconds("PT10H"), Some(36_000));
        assert_eq!(iso_duration_seconds("P2D"), Some(172_800));
        assert_eq!(iso_duration_seconds("P1DT12H30M"), Some(131_400));
        assert_eq!(iso_duration_seconds("PT"), None);
        assert_eq!(iso_duration_seconds("10H"), None);
        assert_eq!(iso_duration_seconds("PT5X"), None);
    }

    #[test]
    fn values_are_deterministic_and_in_range() {
        let a = value("h:27017", "SYSTEM_CPU_PERCENT", 1_800_000_000, "PERCENT");
        assert_eq!(
            a,
            value("h:27017", "SYSTEM_CPU_PERCENT", 1_800_000_000, "PERCENT")
        );
        assert!((0.0..=100.0).contains(&a));
        assert_eq!(units("OPCOUNTER_QUERY"), "SCALAR_PER_SECOND");
        assert_eq!(units("CONNECTIONS"), "SCALAR");
    }
}
