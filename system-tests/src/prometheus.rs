//! Reading single values out of a Prometheus text exposition (`GET /metrics`).

/// The value of the series `name` whose labels include every pair in `labels` (other labels
/// may be present), or `None` when there is no such series.
///
/// `value(text, "circuit_breaker_state", &[("target", "notifications")])`
pub fn value(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, number) = line.rsplit_once(' ')?;
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, parse_labels(rest.strip_suffix('}')?)?),
            None => (series, Vec::new()),
        };
        if series_name != name {
            return None;
        }
        let wanted = labels.iter().all(|(k, v)| series_labels.iter().any(|(sk, sv)| sk == k && sv == v));
        if wanted { number.parse().ok() } else { None }
    })
}

/// `a="x",b="y"` → pairs (values unescaped for `\"`, `\\` and `\n`).
fn parse_labels(raw: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = raw.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        pairs.push((key.trim().to_string(), value));
        rest = after[end + 1..].trim_start_matches(',').trim();
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP outbox_pending Jobs\n# TYPE outbox_pending gauge\noutbox_pending 3\n\
        circuit_breaker_state{target=\"notifications\"} 1\n\
        http_requests_total{method=\"POST\",route=\"/contacts/new\",status=\"403\"} 2\n\
        odd{v=\"a \\\"quoted\\\", value\"} 7\n";

    #[test]
    fn series_are_found_by_name_and_some_of_their_labels() {
        assert_eq!(value(TEXT, "outbox_pending", &[]), Some(3.0));
        assert_eq!(value(TEXT, "circuit_breaker_state", &[("target", "notifications")]), Some(1.0));
        assert_eq!(value(TEXT, "http_requests_total", &[("status", "403"), ("method", "POST")]), Some(2.0));
        assert_eq!(value(TEXT, "http_requests_total", &[("status", "500")]), None);
        assert_eq!(value(TEXT, "odd", &[("v", "a \"quoted\", value")]), Some(7.0));
        assert_eq!(value(TEXT, "outbox", &[]), None);
    }
}
