//! Content negotiation by `Accept` (RFC 9110 §12.5.1): every media range with its
//! q-value, the most specific range deciding each offered type, the highest q winning
//! and the server's order breaking ties. `text/csv;q=0` means "not CSV", so
//! `Accept: application/json, text/csv;q=0` is JSON.

/// The offered type the client prefers, or `None` when it accepts none of them (406).
/// An absent or empty `Accept` takes the first offered.
pub fn choose<'a>(accept: Option<&str>, offered: &[&'a str]) -> Option<&'a str> {
    let accept = accept.map(str::trim).filter(|a| !a.is_empty());
    let Some(accept) = accept else {
        return offered.first().copied();
    };
    let ranges: Vec<(String, String, f32)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            let (ty, sub) = range.split_once('/')?;
            let q = parts
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    (k.trim().eq_ignore_ascii_case("q")).then(|| v.trim().parse::<f32>().ok())?
                })
                .next()
                .unwrap_or(1.0);
            Some((ty.trim().to_string(), sub.trim().to_string(), q))
        })
        .collect();
    let mut best: Option<(&'a str, f32)> = None;
    for &media in offered {
        let (ty, sub) = media.split_once('/').unwrap_or((media, ""));
        // Most specific range first: type/subtype (3), type/* (2), */* (1).
        let q = ranges
            .iter()
            .filter_map(|(rt, rs, q)| {
                let specificity = match (rt.as_str(), rs.as_str()) {
                    (t, s) if t == ty && s == sub => 3,
                    (t, "*") if t == ty => 2,
                    ("*", "*") => 1,
                    _ => return None,
                };
                Some((specificity, *q))
            })
            .max_by_key(|(s, _)| *s)
            .map(|(_, q)| q);
        if let Some(q) = q
            && q > 0.0
            && best.is_none_or(|(_, bq)| q > bq)
        {
            best = Some((media, q));
        }
    }
    best.map(|(m, _)| m)
}

#[cfg(test)]
mod tests {
    use super::choose;

    const OFFERED: &[&str] = &["application/json", "text/csv", "application/xml"];

    #[test]
    fn q_values_decide() {
        let cases: &[(Option<&str>, Option<&str>)] = &[
            (None, Some("application/json")),
            (Some(""), Some("application/json")),
            (Some("*/*"), Some("application/json")),
            (Some("text/csv"), Some("text/csv")),
            (
                Some("application/json, text/csv;q=0"),
                Some("application/json"),
            ),
            (
                Some("text/csv;q=0.5, application/json;q=0.4"),
                Some("text/csv"),
            ),
            (Some("text/*"), Some("text/csv")),
            (Some("*/*;q=0.1, text/csv"), Some("text/csv")),
            (Some("text/csv;q=0, */*"), Some("application/json")),
            (Some("image/png"), None),
            (Some("text/csv;q=0"), None),
            (Some("TEXT/CSV"), Some("text/csv")),
            (
                Some("application/json;q=0.9;charset=utf-8, text/csv;q=0.8"),
                Some("application/json"),
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(choose(*accept, OFFERED), *want, "{accept:?}");
        }
    }
}
