//! Minimal hand-written Engine.IO v4 / Socket.IO v5 client over WebSocket or
//! long-polling ([`crate::poll`]); text packets only, no binary attachments.
//!
//! Engine.IO packets: `0{..}` open, `2` ping (server -> client), `3` pong.
//! Socket.IO packets ride in Engine.IO `4` messages:
//! `40/nsp,` connect, `40/nsp,{"sid":..}` connect ok, `44/nsp,{..}` connect error,
//! `42/nsp,<id>["ev",..]` event, `43/nsp,<id>[..]` ack.
//! For the main namespace `/` the `/nsp,` part is absent.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, Utf8Bytes, protocol::WebSocketConfig},
};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One client connection, over either transport.
pub enum Conn {
    Ws(Ws),
    Poll(crate::poll::PollConn),
}

impl Conn {
    /// The next text packet from the server; Engine.IO pings (`2`) are answered here and not
    /// returned. `None`: the connection is gone. Cancel-safe between packets.
    pub async fn recv(&mut self) -> Option<Utf8Bytes> {
        match self {
            Conn::Ws(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                        ws.send(Message::text("3")).await.ok()?;
                    }
                    Some(Ok(Message::Text(t))) => return Some(t),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                    Some(Ok(_)) => {}
                }
            },
            Conn::Poll(p) => p.recv().await,
        }
    }

    /// Sends one text packet (a raw WebSocket frame for the raw echo server).
    pub async fn send(&mut self, text: Utf8Bytes) -> bool {
        match self {
            Conn::Ws(ws) => ws.send(Message::Text(text)).await.is_ok(),
            Conn::Poll(p) => p.send(text.as_str()).await.is_ok(),
        }
    }

    /// Closes the connection (a WebSocket close frame; a polling session just drops).
    pub async fn close(&mut self) {
        if let Conn::Ws(ws) = self {
            let _ = ws.close(None).await;
        }
    }
}

/// Connect + handshake timeout, per connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// `"/bench,"` for `/bench`, `""` for `/`.
pub fn nsp_prefix(nsp: &str) -> String {
    if nsp == "/" || nsp.is_empty() {
        String::new()
    } else if nsp.starts_with('/') {
        format!("{nsp},")
    } else {
        format!("/{nsp},")
    }
}

/// The Engine.IO WebSocket URL for a base `ws://host:port` URL (a URL that
/// already names a path is used as given).
pub fn engine_url(base: &str) -> String {
    let b = base.trim_end_matches('/');
    let has_path = b
        .split_once("://")
        .map(|(_, rest)| rest.contains('/'))
        .unwrap_or(false);
    if has_path {
        b.to_string()
    } else {
        format!("{b}/socket.io/?EIO=4&transport=websocket")
    }
}

fn ws_config() -> WebSocketConfig {
    // tungstenite zero-fills up to `read_buffer_size` bytes before every read
    // (128 KiB by default), and the connect scenario holds thousands of
    // connections: keep it small (4 KiB, as engineioxide does).
    WebSocketConfig::default().read_buffer_size(4096)
}

/// Plain WebSocket connection with TCP_NODELAY.
pub async fn ws_connect(url: &str) -> Result<Ws, String> {
    let fut = tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Ok(Ok((ws, _resp))) => Ok(ws),
        Ok(Err(e)) => Err(format!("ws connect: {e}")),
        Err(_) => Err("ws connect: timeout".into()),
    }
}

/// Open an Engine.IO WebSocket session and connect the Socket.IO namespace
/// whose prefix is `prefix` (see [`nsp_prefix`]). Returns once the server
/// acknowledged the namespace connection with `40<prefix>{"sid":..}`.
pub async fn sio_connect(engine_url: &str, prefix: &str) -> Result<Ws, String> {
    let mut ws = ws_connect(engine_url).await?;
    let fut = async {
        // Engine.IO open packet.
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with('0') => {}
            other => return Err(format!("expected engine.io open packet, got {other:?}")),
        }
        ws.send(Message::text(format!("40{prefix}")))
            .await
            .map_err(|e| format!("send connect: {e}"))?;
        let ok = format!("40{prefix}");
        let err = format!("44{prefix}");
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str() == "2" {
                        ws.send(Message::text("3")).await.map_err(|e| e.to_string())?;
                    } else if let Some(rest) = t.strip_prefix(ok.as_str()) {
                        if rest.starts_with('{') {
                            return Ok(());
                        }
                    } else if t.starts_with(err.as_str()) {
                        return Err(format!("namespace connect error: {}", t.as_str()));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("handshake read: {e}")),
                None => return Err("closed during handshake".into()),
            }
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Ok(Ok(())) => Ok(ws),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("socket.io handshake: timeout".into()),
    }
}

/// [`sio_connect`] over long-polling, at `host` (`127.0.0.1:PORT`).
pub async fn sio_connect_poll(host: &str, prefix: &str) -> Result<crate::poll::PollConn, String> {
    let fut = async {
        let mut p = crate::poll::PollConn::open(host).await?;
        p.send(&format!("40{prefix}")).await?;
        let ok = format!("40{prefix}");
        let err = format!("44{prefix}");
        loop {
            let Some(t) = p.recv().await else { return Err("closed during handshake".to_string()) };
            if let Some(rest) = t.strip_prefix(ok.as_str()) {
                if rest.starts_with('{') {
                    return Ok(p);
                }
            } else if t.starts_with(err.as_str()) {
                return Err(format!("namespace connect error: {}", t.as_str()));
            }
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err("socket.io handshake (polling): timeout".into()),
    }
}

/// Which transport the clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Polling,
}

/// Parse an ack `43<prefix><id><rest>`: returns `(id, rest)`.
pub fn parse_ack<'a>(text: &'a str, ack_prefix: &str) -> Option<(u64, &'a str)> {
    let body = text.strip_prefix(ack_prefix)?;
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let id = body[..digits].parse().ok()?;
    Some((id, &body[digits..]))
}

/// Parse the leading decimal number of `s`: returns `(n, rest after the digits)`.
pub fn leading_u64(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    Some((s[..digits].parse().ok()?, &s[digits..]))
}

/// A JSON-safe padding string of `n` bytes.
pub fn padding(n: usize) -> String {
    "x".repeat(n)
}

/// Open `n` connections (Socket.IO namespace-connected, or plain WebSocket when
/// `raw`), at most `concurrency` handshakes at a time. Returns the connections
/// in completion order, per-connection handshake latencies and the errors.
pub async fn connect_many(
    url: &str,
    prefix: &str,
    raw: bool,
    n: usize,
    concurrency: usize,
    transport: Transport,
) -> (Vec<Conn>, hdrhistogram::Histogram<u64>, Vec<String>) {
    use std::sync::Arc;
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..n {
        let sem = sem.clone();
        let tx = tx.clone();
        let url = url.to_string();
        let prefix = prefix.to_string();
        tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            let t = std::time::Instant::now();
            let r = match transport {
                _ if raw => ws_connect(&url).await.map(Conn::Ws),
                Transport::WebSocket => sio_connect(&url, &prefix).await.map(Conn::Ws),
                Transport::Polling => {
                    sio_connect_poll(&crate::poll::host_of(&url), &prefix).await.map(Conn::Poll)
                }
            };
            let _ = tx.send((r, t.elapsed()));
        });
    }
    drop(tx);
    let mut conns = Vec::with_capacity(n);
    let mut hist = crate::new_hist();
    let mut errors = Vec::new();
    while let Some((r, d)) = rx.recv().await {
        match r {
            Ok(ws) => {
                crate::record(&mut hist, d);
                conns.push(ws);
            }
            Err(e) => errors.push(e),
        }
    }
    (conns, hist, errors)
}

/// Keep an idle connection alive: answer Engine.IO pings until `stop` fires
/// or the server closes. Returns false when the connection died first.
pub async fn idle(mut conn: Conn, mut stop: tokio::sync::watch::Receiver<bool>) -> bool {
    loop {
        tokio::select! {
            _ = stop.changed() => {
                conn.close().await;
                return true;
            }
            m = conn.recv() => if m.is_none() { return false },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_urls() {
        assert_eq!(nsp_prefix("/"), "");
        assert_eq!(nsp_prefix("/bench"), "/bench,");
        assert_eq!(nsp_prefix("bench"), "/bench,");
        assert_eq!(
            engine_url("ws://127.0.0.1:3000"),
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            engine_url("ws://127.0.0.1:3000/"),
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(engine_url("ws://h:1/custom/?EIO=4"), "ws://h:1/custom/?EIO=4");
    }

    #[test]
    fn acks() {
        assert_eq!(parse_ack("43/bench,17[\"x\"]", "43/bench,"), Some((17, "[\"x\"]")));
        assert_eq!(parse_ack("4317[\"x\"]", "43"), Some((17, "[\"x\"]")));
        assert_eq!(parse_ack("43/bench,[\"x\"]", "43/bench,"), None);
        assert_eq!(parse_ack("42/bench,1[\"x\"]", "43/bench,"), None);
        assert_eq!(leading_u64("12,3"), Some((12, ",3")));
        assert_eq!(leading_u64(",3"), None);
    }
}
