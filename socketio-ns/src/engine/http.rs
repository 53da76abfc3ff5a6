//! HTTP answers: the Engine.IO error codes and responses, CORS (preflight and the headers
//! added to every answer), and the request tests routing needs.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;

use super::config::Cors;

/// The response body type of the services in this crate.
pub type Body = Full<Bytes>;

/// Engine.IO error codes, as the protocol defines them.
#[derive(Clone, Copy)]
pub(super) enum ErrorCode {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    fn body(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => r#"{"code":0,"message":"Transport unknown"}"#,
            ErrorCode::UnknownSid => r#"{"code":1,"message":"Session ID unknown"}"#,
            ErrorCode::BadHandshakeMethod => r#"{"code":2,"message":"Bad handshake method"}"#,
            ErrorCode::BadRequest => r#"{"code":3,"message":"Bad request"}"#,
            ErrorCode::Forbidden => r#"{"code":4,"message":"Forbidden"}"#,
            ErrorCode::UnsupportedProtocolVersion => {
                r#"{"code":5,"message":"Unsupported protocol version"}"#
            }
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

pub(super) fn path_matches(path: &str, base: &str) -> bool {
    path == base || path == base.trim_end_matches('/')
}

/// An upgrade to WebSocket: `Upgrade: websocket` and the `upgrade` token in `Connection`
/// (without it, Node's HTTP server sees a plain request, which Engine.IO refuses for the
/// `websocket` transport).
pub(super) fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    let h = req.headers();
    let upgrade = h
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    let connection = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    upgrade && connection
}

/// What is wrong with a WebSocket opening handshake, as the `ws` server checks it (RFC 6455
/// section 4.2.1), with the answer it gives: `None` when it is well-formed.
pub(super) fn websocket_handshake_error<B>(req: &Request<B>) -> Option<Response<Body>> {
    let h = req.headers();
    if req.method() != http::Method::GET {
        return Some(handshake_refused(
            StatusCode::METHOD_NOT_ALLOWED,
            "Invalid HTTP method",
        ));
    }
    // A base64 16-byte nonce: 22 characters of the base64 alphabet and `==`.
    let key_ok = h.get(header::SEC_WEBSOCKET_KEY).is_some_and(|k| {
        let k = k.as_bytes();
        k.len() == 24
            && k.ends_with(b"==")
            && k[..22]
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
    });
    if !key_ok {
        return Some(handshake_refused(
            StatusCode::BAD_REQUEST,
            "Missing or invalid Sec-WebSocket-Key header",
        ));
    }
    let version = h
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if !matches!(version, Some("13" | "8")) {
        let mut res = handshake_refused(
            StatusCode::BAD_REQUEST,
            "Missing or invalid Sec-WebSocket-Version header",
        );
        res.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13, 8"),
        );
        return Some(res);
    }
    None
}

fn handshake_refused(status: StatusCode, message: &'static str) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(message.as_bytes())));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

pub(super) fn error(code: ErrorCode) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(code.body().as_bytes())));
    *res.status_mut() = code.status();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

pub(super) fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    res
}

pub(super) fn text_response(body: Bytes) -> Response<Body> {
    let mut res = Response::new(Full::new(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A content coding of a long-polling response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Gzip,
    /// HTTP's `deflate`: zlib-wrapped DEFLATE (RFC 1950), as Node's `zlib.createDeflate`.
    Deflate,
}

/// The coding to answer a request with, from its `Accept-Encoding`: gzip or deflate,
/// whichever has the higher quality (gzip on a tie; `*` stands for both), none when the header
/// is absent or allows neither, as the `accepts` package Node's engine.io asks.
pub(super) fn accepted_encoding(headers: &http::HeaderMap) -> Option<Encoding> {
    let mut gzip = None::<f32>;
    let mut deflate = None::<f32>;
    let mut star = None::<f32>;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match name.to_ascii_lowercase().as_str() {
                "gzip" => &mut gzip,
                "deflate" => &mut deflate,
                "*" => &mut star,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
        }
    }
    let gzip = gzip.or(star).unwrap_or(0.0);
    let deflate = deflate.or(star).unwrap_or(0.0);
    if gzip <= 0.0 && deflate <= 0.0 {
        None
    } else if gzip >= deflate {
        Some(Encoding::Gzip)
    } else {
        Some(Encoding::Deflate)
    }
}

thread_local! {
    /// Per thread, the compressors of long-polling responses (raw deflate for gzip, zlib for
    /// deflate), reset for each response: a new one would allocate and initialise zlib's
    /// state (a few hundred KB) every time.
    static BODY_DEFLATERS: std::cell::RefCell<[Option<flate2::Compress>; 2]> =
        const { std::cell::RefCell::new([None, None]) };
}

/// `body` gzip- or zlib-compressed at zlib's default level, as one complete stream.
fn compress_body(body: &[u8], encoding: Encoding) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    // A gzip member's fixed header: deflate, no flags, no time, unknown OS (RFC 1952).
    const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let gzip = matches!(encoding, Encoding::Gzip);
    let mut out = Vec::with_capacity(body.len() / 2 + 64);
    if gzip {
        out.extend_from_slice(&GZIP_HEADER);
    }
    BODY_DEFLATERS.with(|cell| {
        let mut cell = cell.borrow_mut();
        // zlib writes its own header and Adler-32 trailer; gzip's are written here.
        let c = cell[usize::from(!gzip)]
            .get_or_insert_with(|| Compress::new(Compression::default(), !gzip));
        c.reset();
        super::deflate::compress_into(c, body, FlushCompress::Finish, &mut out);
    });
    if gzip {
        let mut crc = flate2::Crc::new();
        crc.update(body);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    }
    out
}

/// [`text_response`] with `body` compressed, and its `Content-Encoding`.
pub(super) fn compressed_text_response(body: &[u8], encoding: Encoding) -> Response<Body> {
    let mut res = text_response(Bytes::from(compress_body(body, encoding)));
    res.headers_mut().insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(match encoding {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }),
    );
    res
}

pub(super) fn empty(status: StatusCode) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    res
}

pub(super) fn preflight<B>(req: &Request<B>) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if let Some(v) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    res
}

/// Adds the CORS headers to an answer when `cors` allows the request's `origin`.
pub(super) fn apply_cors(cors: &Cors, origin: Option<&str>, res: &mut Response<Body>) {
    if let Some(allow) = cors.allow_origin(origin) {
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(allow) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            h.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::{Encoding, compress_body};

    fn read_all(mut decoder: impl Read) -> Vec<u8> {
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).expect("a valid stream");
        out
    }

    /// The compressors are reused, reset, from one response to the next: every response is a
    /// whole stream of its own, empty and incompressible bodies included.
    #[test]
    fn each_compressed_body_is_a_complete_stream() {
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("4{{\"n\":{i},\"text\":\"hello\"}}\u{1e}").into_bytes())
            .collect();
        let noise: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for body in [&text[..], b"", &noise[..], b"40", &text[..100]] {
            let gz = compress_body(body, Encoding::Gzip);
            assert_eq!(&gz[..3], [0x1f, 0x8b, 8]);
            assert_eq!(read_all(flate2::read::GzDecoder::new(&gz[..])), body);
            let z = compress_body(body, Encoding::Deflate);
            assert_eq!(read_all(flate2::read::ZlibDecoder::new(&z[..])), body);
        }
        assert!(compress_body(&text, Encoding::Gzip).len() < text.len() / 5);
    }
}
