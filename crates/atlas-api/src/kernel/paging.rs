//! Atlas pagination: `pageNum`/`itemsPerPage`/`includeCount` and the `links` of a list page.
//!
//! Link rules (semantics §2.1, recorded traffic): `self` is the request URL with the request's
//! other query parameters in their original order and `pageNum=<n>&itemsPerPage=<m>` appended;
//! `next`/`previous` are the query string as sent with `pageNum` replaced (appended when absent).

use atlas_store::Page;
use serde_json::{Value, json};

use crate::kernel::call::Call;

pub const DEFAULT_ITEMS_PER_PAGE: u64 = 100;
pub const MAX_ITEMS_PER_PAGE: u64 = 500;

/// The page a list request asks for. Values were validated against the spec's ranges earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page_num: u64,
    pub items_per_page: u64,
    pub include_count: bool,
}

impl Paging {
    pub fn of(call: &Call) -> Paging {
        let number = |name: &str, default: u64| {
            call.query_param(name)
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|n| *n >= 1)
                .unwrap_or(default)
        };
        Paging {
            page_num: number("pageNum", 1),
            items_per_page: number("itemsPerPage", DEFAULT_ITEMS_PER_PAGE).min(MAX_ITEMS_PER_PAGE),
            include_count: call.flag("includeCount", true),
        }
    }

    pub fn window(&self) -> Page {
        Page {
            offset: (self.page_num - 1).saturating_mul(self.items_per_page),
            limit: self.items_per_page,
        }
    }

    /// This page of a list read in full (lists filtered in memory).
    pub fn slice<T>(&self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        let window = self.window();
        items
            .into_iter()
            .skip(usize::try_from(window.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(window.limit).unwrap_or(usize::MAX))
            .collect()
    }

    /// The `links`/`results`/`totalCount` body of one page (the results are moved, not copied).
    pub fn body(&self, call: &Call, results: Vec<Value>, total: u64) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("links".into(), Value::Array(self.links(call, total)));
        body.insert("results".into(), Value::Array(results));
        // Observed: includeCount=false gives totalCount 0, not an omitted field (§2.1).
        let count = if self.include_count { total } else { 0 };
        body.insert("totalCount".into(), Value::from(count));
        Value::Object(body)
    }

    pub fn links(&self, call: &Call, total: u64) -> Vec<Value> {
        let base = format!("{}{}", call.origin.base_url, call.origin.path);
        let raw: Vec<&str> = call
            .origin
            .query
            .split('&')
            .filter(|p| !p.is_empty())
            .collect();
        let name_of = |pair: &str| {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            percent_encoding::percent_decode_str(key)
                .decode_utf8_lossy()
                .into_owned()
        };
        let mut self_query: Vec<String> = raw
            .iter()
            .filter(|p| !matches!(name_of(p).as_str(), "pageNum" | "itemsPerPage"))
            .map(|p| (*p).to_owned())
            .collect();
        self_query.push(format!("pageNum={}", self.page_num));
        self_query.push(format!("itemsPerPage={}", self.items_per_page));
        let mut links = vec![link(&base, &self_query, "self")];
        let with_page = |n: u64| {
            let mut replaced = false;
            let mut q: Vec<String> = raw
                .iter()
                .map(|p| {
                    if name_of(p) == "pageNum" {
                        replaced = true;
                        format!("pageNum={n}")
                    } else {
                        (*p).to_owned()
                    }
                })
                .collect();
            if !replaced {
                q.push(format!("pageNum={n}"));
                if !raw.iter().any(|p| name_of(p) == "itemsPerPage") {
                    q.push(format!("itemsPerPage={}", self.items_per_page));
                }
            }
            q
        };
        if self.page_num > 1 {
            links.push(link(&base, &with_page(self.page_num - 1), "previous"));
        }
        if self.page_num.saturating_mul(self.items_per_page) < total {
            links.push(link(&base, &with_page(self.page_num + 1), "next"));
        }
        links
    }
}

fn link(base: &str, query: &[String], rel: &str) -> Value {
    json!({"href": format!("{base}?{}", query.join("&")), "rel": rel})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::call::Origin;
    use crate::kernel::principal::Principal;

    fn call(query: &str) -> Call {
        Call {
            op: atlas_model::OperationId::ListGroups.op(),
            version: "2023-01-01",
            format: atlas_model::Format::Json,
            path: vec![],
            query: url_pairs(query),
            body: None,
            principal: Principal::Anonymous,
            origin: Origin {
                base_url: "http://localhost:8080".into(),
                path: "/api/atlas/v2/groups".into(),
                query: query.into(),
                client_ip: "127.0.0.1".into(),
            },
        }
    }

    fn url_pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn hrefs(links: &[Value]) -> Vec<(String, String)> {
        links
            .iter()
            .map(|l| {
                (
                    l["rel"].as_str().unwrap().to_owned(),
                    l["href"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn self_appends_paging_and_next_replaces_page_number() {
        // Recorded: a Go client sending includeCount=true&itemsPerPage=100&pageNum=1 on a list of
        // 106 got self `...?includeCount=true&pageNum=1&itemsPerPage=100` and next
        // `...?includeCount=true&itemsPerPage=100&pageNum=2` (semantics §2.1).
        let c = call("includeCount=true&itemsPerPage=100&pageNum=1");
        let p = Paging::of(&c);
        assert_eq!(
            hrefs(&p.links(&c, 106)),
            vec![
                ("self".into(), "http://localhost:8080/api/atlas/v2/groups?includeCount=true&pageNum=1&itemsPerPage=100".into()),
                ("next".into(), "http://localhost:8080/api/atlas/v2/groups?includeCount=true&itemsPerPage=100&pageNum=2".into()),
            ]
        );
    }

    #[test]
    fn self_gets_paging_even_when_the_client_sent_none() {
        // Recorded: POST /groups/{id}/teams answered self `.../teams?pageNum=1&itemsPerPage=100`.
        let c = call("");
        let p = Paging::of(&c);
        assert_eq!(
            hrefs(&p.links(&c, 3)),
            vec![(
                "self".into(),
                "http://localhost:8080/api/atlas/v2/groups?pageNum=1&itemsPerPage=100".into()
            )]
        );
    }

    #[test]
    fn middle_pages_link_both_ways_and_empty_params_are_kept() {
        let c = call("name=&itemsPerPage=2&pageNum=2");
        let p = Paging::of(&c);
        assert_eq!(
            p.window(),
            Page {
                offset: 2,
                limit: 2
            }
        );
        let links = hrefs(&p.links(&c, 5));
        assert_eq!(
            links[0].1,
            "http://localhost:8080/api/atlas/v2/groups?name=&pageNum=2&itemsPerPage=2"
        );
        assert_eq!(
            links[1],
            (
                "previous".into(),
                "http://localhost:8080/api/atlas/v2/groups?name=&itemsPerPage=2&pageNum=1".into()
            )
        );
        assert_eq!(
            links[2],
            (
                "next".into(),
                "http://localhost:8080/api/atlas/v2/groups?name=&itemsPerPage=2&pageNum=3".into()
            )
        );
    }

    #[test]
    fn include_count_false_reports_zero() {
        let c = call("includeCount=false");
        let body = Paging::of(&c).body(&c, vec![json!({})], 1);
        assert_eq!(body["totalCount"], 0);
    }
}
