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

pub(super) fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
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
