//! Engine.IO v4 long-polling client (`transport=polling`), hand-written over
//! HTTP/1.1 keep-alive connections: one for the long-polling GETs, one for the
//! POSTs, as a browser behind a proxy that blocks WebSocket does.
//!
//! A session is opened with `GET /socket.io/?EIO=4&transport=polling` (its
//! answer `0{"sid":..}`), then every request names `&sid=`. A GET returns one
//! or more packets separated by `\x1e` (record separator); a POST carries one
//! packet and is answered `ok`. The GET loop runs in its own task, answers the
//! server's pings (`2` -> POST `3`) and hands every other packet to
//! [`PollConn::recv`].

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One HTTP/1.1 keep-alive connection.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
    host: String,
}

impl Http {
    async fn connect(host: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(host).await.map_err(|e| format!("http connect {host}: {e}"))?;
        stream.set_nodelay(true).ok();
        Ok(Http { stream, buf: Vec::with_capacity(1024), host: host.to_string() })
    }

    /// Sends one request and reads its response: `(status, body)`.
    async fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, Vec<u8>), String> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(b) = body {
            req.push_str("Content-Type: text/plain;charset=UTF-8\r\n");
            req.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
            req.push_str(b);
        } else {
            req.push_str("\r\n");
        }
        self.stream.write_all(req.as_bytes()).await.map_err(|e| format!("http write: {e}"))?;
        self.read_response().await
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await.map_err(|e| format!("http read: {e}"))?;
        if n == 0 {
            return Err("http: connection closed".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn read_response(&mut self) -> Result<(u16, Vec<u8>), String> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| "http: non-UTF-8 head")?.to_string();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("http: bad status line in {head:?}"))?;
        let mut length = None;
        let mut chunked = false;
        for l in lines {
            let Some((k, v)) = l.split_once(':') else { continue };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
        if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    self.fill().await?;
                };
                let size_str = std::str::from_utf8(&self.buf[..line_end]).map_err(|_| "http: bad chunk size")?;
                let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| format!("http: bad chunk size {size_str:?}"))?;
                self.buf.drain(..line_end + 2);
                while self.buf.len() < size + 2 {
                    self.fill().await?;
                }
                body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
                if size == 0 {
                    return Ok((status, body));
                }
            }
        }
        let length = length.unwrap_or(0);
        while self.buf.len() < length {
            self.fill().await?;
        }
        let body = self.buf.drain(..length).collect();
        Ok((status, body))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `127.0.0.1:3000` of `ws://127.0.0.1:3000/...` (or `http://`).
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// A polling session: packets in through [`PollConn::recv`], out through
/// [`PollConn::send`].
pub struct PollConn {
    post: Arc<Mutex<Http>>,
    path: Arc<str>,
    rx: mpsc::UnboundedReceiver<Utf8Bytes>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for PollConn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn post(post: &Mutex<Http>, path: &str, packet: &str) -> Result<(), String> {
    let (status, body) = post.lock().await.request("POST", path, Some(packet)).await?;
    if status != 200 || body != b"ok" {
        return Err(format!("POST answered {status} {:?}", String::from_utf8_lossy(&body)));
    }
    Ok(())
}

impl PollConn {
    /// Opens an Engine.IO session over polling at `host` (`127.0.0.1:PORT`).
    pub async fn open(host: &str) -> Result<Self, String> {
        let mut get = Http::connect(host).await?;
        let (status, body) = get.request("GET", "/socket.io/?EIO=4&transport=polling", None).await?;
        let text = String::from_utf8(body).map_err(|_| "open: non-UTF-8 body")?;
        if status != 200 || !text.starts_with('0') {
            return Err(format!("expected engine.io open packet, got {status} {text:?}"));
        }
        let open: serde_json::Value =
            serde_json::from_str(text[1..].split('\x1e').next().unwrap_or("")).map_err(|e| format!("open packet: {e}"))?;
        let sid = open["sid"].as_str().ok_or("open packet without sid")?;
        let path: Arc<str> = format!("/socket.io/?EIO=4&transport=polling&sid={sid}").into();
        let post_conn = Arc::new(Mutex::new(Http::connect(host).await?));
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(get, path.clone(), post_conn.clone(), tx));
        Ok(PollConn { post: post_conn, path, rx, reader })
    }

    /// Sends one Engine.IO packet (e.g. `42/bench,["echo","x"]`).
    pub async fn send(&self, packet: &str) -> Result<(), String> {
        post(&self.post, &self.path, packet).await
    }

    /// The next packet from the server (pings are answered by the reader); `None` once the
    /// session is gone.
    pub async fn recv(&mut self) -> Option<Utf8Bytes> {
        self.rx.recv().await
    }
}

/// The long-polling GET loop.
async fn read_loop(mut get: Http, path: Arc<str>, post_conn: Arc<Mutex<Http>>, tx: mpsc::UnboundedSender<Utf8Bytes>) {
    loop {
        let Ok((200, body)) = get.request("GET", &path, None).await else { return };
        let Ok(text) = String::from_utf8(body) else { return };
        for p in text.split('\x1e') {
            match p {
                "2" => {
                    if post(&post_conn, &path, "3").await.is_err() {
                        return;
                    }
                }
                "6" | "" => {}
                "1" => return,
                _ => {
                    if tx.send(Utf8Bytes::from(p.to_string())).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("ws://127.0.0.1:3000"), "127.0.0.1:3000");
        assert_eq!(host_of("ws://127.0.0.1:3000/socket.io/?EIO=4"), "127.0.0.1:3000");
    }
}
