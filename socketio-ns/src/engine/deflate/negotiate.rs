//! The `permessage-deflate` negotiation (RFC 7692 section 7.1): the client's offers in
//! `Sec-WebSocket-Extensions`, the first one we can honour, and our answer.
//!
//! The compressor always uses a 32 KB window (the only one miniz_oxide, flate2's pure-Rust
//! backend, offers), so an offer limiting it (`server_max_window_bits` below 15) is declined;
//! a limit on the client's window (`client_max_window_bits`) needs nothing of us, as we inflate
//! with the largest window. Context takeover is kept only where the configuration allows it
//! and the client did not ask us to drop it.

use crate::engine::config::WsCompression;

/// The extension's parameters agreed for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// The server keeps its deflate context between messages.
    pub(crate) server_takeover: bool,
    /// The client keeps its deflate context between messages.
    pub(crate) client_takeover: bool,
    /// `server_max_window_bits=15` was offered and must be echoed.
    echo_server_window: bool,
    /// The smallest message compressed.
    pub(crate) threshold: usize,
    /// The deflate level of what the server sends.
    pub(crate) level: u32,
}

impl Agreed {
    /// The `Sec-WebSocket-Extensions` value of the 101 response.
    pub(crate) fn response(&self) -> String {
        let mut s = String::from("permessage-deflate");
        if !self.server_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if !self.client_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.echo_server_window {
            s.push_str("; server_max_window_bits=15");
        }
        s
    }
}

/// The first `permessage-deflate` offer among the request's `Sec-WebSocket-Extensions`
/// header values that we can accept, or `None` (the connection then runs uncompressed).
pub(crate) fn negotiate<'a>(
    headers: impl IntoIterator<Item = &'a [u8]>,
    config: &WsCompression,
) -> Option<Agreed> {
    headers
        .into_iter()
        .filter_map(|h| std::str::from_utf8(h).ok())
        .flat_map(|h| h.split(','))
        .find_map(|offer| accept(offer, config))
}

/// One offer, `permessage-deflate; param[=value]; ...`, if it is ours and acceptable.
fn accept(offer: &str, config: &WsCompression) -> Option<Agreed> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let mut seen: Vec<&str> = Vec::new();
    let (mut server_no_takeover, mut client_no_takeover, mut echo_server_window) =
        (false, false, false);
    for part in parts {
        let (key, value) = match part.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
            None => (part, None),
        };
        // A parameter given twice makes the offer invalid (RFC 7692 section 7).
        if seen.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            return None;
        }
        seen.push(key);
        let bits = || {
            value
                .and_then(|v| v.parse::<u8>().ok())
                .filter(|b| (8..=15).contains(b))
        };
        match (key.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) => server_no_takeover = true,
            ("client_no_context_takeover", None) => client_no_takeover = true,
            ("server_max_window_bits", Some(_)) => match bits()? {
                15 => echo_server_window = true,
                // A smaller window than our compressor's: not for us.
                _ => return None,
            },
            ("client_max_window_bits", None) => {}
            ("client_max_window_bits", Some(_)) => {
                bits()?;
            }
            _ => return None,
        }
    }
    Some(Agreed {
        server_takeover: config.server_context_takeover && !server_no_takeover,
        client_takeover: config.client_context_takeover && !client_no_takeover,
        echo_server_window,
        threshold: config.threshold,
        level: config.level.min(9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agree(headers: &[&str], config: WsCompression) -> Option<String> {
        negotiate(headers.iter().map(|h| h.as_bytes()), &config).map(|a| a.response())
    }

    #[test]
    fn the_usual_offers_are_accepted_without_context_takeover_by_default() {
        let d = WsCompression::default();
        let none = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
        // Browsers and Node's ws.
        let offer = "permessage-deflate; client_max_window_bits";
        assert_eq!(agree(&[offer], d).as_deref(), Some(none));
        assert_eq!(agree(&["permessage-deflate"], d).as_deref(), Some(none));
        assert_eq!(
            agree(&["PerMessage-Deflate ;Client_Max_Window_Bits=10"], d).as_deref(),
            Some(none)
        );
    }

    #[test]
    fn context_takeover_is_kept_where_allowed_and_not_refused() {
        let both = WsCompression {
            server_context_takeover: true,
            client_context_takeover: true,
            ..WsCompression::default()
        };
        assert_eq!(
            agree(&["permessage-deflate; client_max_window_bits"], both).as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            agree(&["permessage-deflate; server_no_context_takeover"], both).as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
        assert_eq!(
            agree(&["permessage-deflate; client_no_context_takeover"], both).as_deref(),
            Some("permessage-deflate; client_no_context_takeover")
        );
        assert_eq!(
            agree(&["permessage-deflate; server_max_window_bits=\"15\""], both).as_deref(),
            Some("permessage-deflate; server_max_window_bits=15")
        );
    }

    #[test]
    fn offers_we_cannot_honour_fall_through_to_the_next() {
        let d = WsCompression::default();
        for bad in [
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=x",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; unknown",
            "x-webkit-deflate-frame",
            "",
        ] {
            assert_eq!(agree(&[bad], d), None, "{bad}");
        }
        assert!(
            agree(
                &["permessage-deflate; server_max_window_bits=10, permessage-deflate"],
                d
            )
            .is_some()
        );
        assert!(agree(&["foo", "permessage-deflate"], d).is_some());
    }
}
