//! The language of problem texts: English or Vietnamese, chosen per request from
//! `Accept-Language` (RFC 9110 §12.5.4, q-values honoured) with the service's default
//! (`GEREPORT_DEFAULT_LANGUAGE`) when the header names neither.

/// A language the service writes its messages in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Vi,
}

impl Lang {
    /// The tag sent in `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Vi => "vi",
        }
    }

    /// `en` or `vi` (any case, region ignored): the value of the setting.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim();
        if primary.eq_ignore_ascii_case("vi") {
            Some(Lang::Vi)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The best language for an `Accept-Language` value: the supported range with the
    /// highest q (the first of equals), `*` meaning the default; the default when no
    /// range fits or the header is absent or malformed.
    pub fn negotiate(header: Option<&str>, default: Lang) -> Lang {
        let Some(header) = header else {
            return default;
        };
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|v| v.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if !(q > 0.0 && q <= 1.0) {
                continue;
            }
            let lang = if range == "*" {
                Some(default)
            } else {
                Lang::from_tag(range)
            };
            if let Some(lang) = lang
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map_or(default, |(_, l)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::Lang::{self, En, Vi};

    #[test]
    fn q_values_decide() {
        let cases: &[(Option<&str>, Lang, Lang)] = &[
            (None, En, En),
            (None, Vi, Vi),
            (Some("vi"), En, Vi),
            (Some("vi-VN,vi;q=0.9,en;q=0.8"), En, Vi),
            (Some("en-US,en;q=0.9,vi;q=0.8"), Vi, En),
            (Some("en;q=0.5, vi;q=0.6"), En, Vi),
            (Some("fr, de"), Vi, Vi),
            (Some("*"), Vi, Vi),
            (Some("vi;q=0"), En, En),
            (Some("fr, *;q=0.1"), En, En),
            (Some(";;;,,"), Vi, Vi),
        ];
        for (header, default, want) in cases {
            assert_eq!(Lang::negotiate(*header, *default), *want, "{header:?}");
        }
    }
}
