//! `localatlas coverage`: reads `GET /__localatlas/coverage` from a running server (HTTP or
//! HTTPS) and prints the report a team reads after a test run — which operations its Atlas
//! integration touched, how often and how often they failed, and how many it never touched.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio_rustls::rustls;

#[derive(clap::Args)]
pub struct Args {
    /// The server's base URL.
    #[arg(long, env = "LOCALATLAS_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// CA certificate (PEM) to trust for an https URL, e.g. the file `serve --tls-ca-out` wrote.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// The server's control token (needed from anywhere but loopback, or under `--control token`).
    #[arg(long, env = "LOCALATLAS_CONTROL_TOKEN", value_name = "TOKEN")]
    control_token: Option<String>,
    /// Print the server's JSON report unchanged.
    #[arg(long)]
    json: bool,
    /// Also list every operation that was never touched.
    #[arg(long)]
    untouched: bool,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let body = runtime.block_on(fetch(args))?;
    if args.json {
        println!("{body}");
        return Ok(());
    }
    let report: Value = serde_json::from_str(&body).context("the coverage report is not JSON")?;
    print!("{}", render(&report, args.untouched));
    Ok(())
}

/// `GET <url>/__localatlas/coverage` with one HTTP/1.1 connection.
async fn fetch(args: &Args) -> anyhow::Result<String> {
    let url = url::Url::parse(&args.url).with_context(|| format!("invalid --url {}", args.url))?;
    let host = url.host_str().context("--url has no host")?.to_owned();
    let port = url.port_or_known_default().context("--url has no port")?;
    let target = url.join("/__localatlas/coverage")?;
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .with_context(|| format!("connecting to {host}:{port}"))?;
    let mut request = hyper::Request::get(target.path())
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::ACCEPT, "application/json");
    if let Some(token) = &args.control_token {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Empty::<Bytes>::new())?;
    let (status, bytes) = match url.scheme() {
        "http" => exchange(tcp, request).await?,
        "https" => {
            let connector = tokio_rustls::TlsConnector::from(client_config(args.cacert.as_ref())?);
            let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                .context("--url host is not a valid TLS server name")?;
            let tls = connector
                .connect(name, tcp)
                .await
                .context("TLS handshake")?;
            exchange(tls, request).await?
        }
        other => bail!("--url scheme must be http or https, not {other}"),
    };
    if !status.is_success() {
        // The control API says why (a missing control token, a host it does not serve ...).
        let why = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .map_or_else(String::new, |d| format!(": {d}"));
        bail!("{target} answered {status}{why}");
    }
    String::from_utf8(bytes).context("the report is not UTF-8")
}

async fn exchange<IO>(
    io: IO,
    request: hyper::Request<Empty<Bytes>>,
) -> anyhow::Result<(hyper::StatusCode, Vec<u8>)>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, bytes))
}

fn client_config(cacert: Option<&PathBuf>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let Some(path) = cacert else {
        bail!("an https --url needs --cacert FILE (the CA `serve --tls-ca-out` wrote)");
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
    {
        roots.add(cert.with_context(|| format!("parsing {}", path.display()))?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The text report: a summary line, the touched operations by calls, and the untouched ones.
fn render(report: &Value, list_untouched: bool) -> String {
    let summary = &report["summary"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let pct = |v: &Value| v.as_f64().unwrap_or(0.0) * 100.0;
    let total = n(&summary["total"]);
    let touched = n(&summary["touched"]);
    let mut out = format!(
        "{touched} of {total} operations touched ({:.1} %), {} calls, {} errors ({:.1} %)\n",
        if total == 0 {
            0.0
        } else {
            touched as f64 * 100.0 / total as f64
        },
        n(&summary["calls"]),
        n(&summary["errors"]),
        pct(&summary["errorRate"]),
    );
    let empty = Vec::new();
    let operations = report["operations"].as_array().unwrap_or(&empty);
    let mut hit: Vec<&Value> = operations.iter().filter(|o| n(&o["calls"]) > 0).collect();
    hit.sort_by_key(|o| std::cmp::Reverse(n(&o["calls"])));
    if !hit.is_empty() {
        out.push_str(&format!(
            "\n{:>7} {:>7} {:>6}  {:<44} {:<6} {}\n",
            "calls", "errors", "rate", "operation", "method", "path"
        ));
        for o in hit {
            out.push_str(&format!(
                "{:>7} {:>7} {:>5.1}%  {:<44} {:<6} {}\n",
                n(&o["calls"]),
                n(&o["clientErrors"]) + n(&o["serverErrors"]),
                pct(&o["errorRate"]),
                o["operationId"].as_str().unwrap_or_default(),
                o["method"].as_str().unwrap_or_default(),
                o["path"].as_str().unwrap_or_default(),
            ));
        }
    }
    let untouched: Vec<&str> = operations
        .iter()
        .filter(|o| n(&o["calls"]) == 0)
        .filter_map(|o| o["operationId"].as_str())
        .collect();
    if list_untouched {
        out.push_str(&format!("\nnever touched ({}):\n", untouched.len()));
        for name in &untouched {
            out.push_str(&format!("  {name}\n"));
        }
    } else {
        out.push_str(&format!(
            "\n{} operations never touched (--untouched lists them)\n",
            untouched.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_report_lists_touched_operations_by_calls_and_counts_the_rest() {
        let report = json!({
            "summary": {"total": 3, "touched": 2, "calls": 5, "errors": 2, "errorRate": 0.4},
            "operations": [
                {"operationId": "listGroups", "method": "GET", "path": "/api/atlas/v2/groups", "calls": 1, "clientErrors": 0, "serverErrors": 0, "errorRate": 0.0},
                {"operationId": "createCluster", "method": "POST", "path": "/api/atlas/v2/groups/{groupId}/clusters", "calls": 4, "clientErrors": 0, "serverErrors": 2, "errorRate": 0.5},
                {"operationId": "deleteCluster", "method": "DELETE", "path": "/x", "calls": 0},
            ]
        });
        let text = render(&report, true);
        assert!(text.starts_with("2 of 3 operations touched (66.7 %), 5 calls, 2 errors (40.0 %)"));
        let create = text.find("createCluster").unwrap();
        assert!(create < text.find("listGroups").unwrap(), "{text}");
        assert!(
            text.contains("      4       2  50.0%  createCluster"),
            "{text}"
        );
        assert!(
            text.contains("never touched (1):\n  deleteCluster\n"),
            "{text}"
        );
    }
}
