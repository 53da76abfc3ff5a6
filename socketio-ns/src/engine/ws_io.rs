//! The byte stream under a WebSocket session.
//!
//! hyper hands an upgraded connection back as [`Upgraded`], a boxed `dyn Io` behind a rewind
//! buffer: every read and write of the session then goes through three layers of indirection.
//! When the connection is a plain TCP stream (this crate's listener, or axum's), the stream is
//! taken back out of it and used directly; any bytes hyper had read past the request go to
//! tungstenite as already read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A WebSocket's transport: the TCP stream itself, or hyper's upgraded IO for any other stream.
#[derive(Debug)]
pub(super) enum WsIo {
    /// The connection's own TCP stream.
    Tcp(TcpStream),
    /// Whatever else the HTTP server ran on.
    Upgraded(TokioIo<Upgraded>),
}

impl WsIo {
    /// The stream of `upgraded`, and the bytes already read from it past the HTTP request
    /// (a client may send its first frames right behind the upgrade request).
    pub(super) fn new(upgraded: Upgraded) -> (Self, Option<Vec<u8>>) {
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                let read = (!parts.read_buf.is_empty()).then(|| parts.read_buf.to_vec());
                (WsIo::Tcp(parts.io.into_inner()), read)
            }
            Err(upgraded) => (WsIo::Upgraded(TokioIo::new(upgraded)), None),
        }
    }
}

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            WsIo::Upgraded(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            WsIo::Upgraded(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            WsIo::Upgraded(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WsIo::Tcp(s) => s.is_write_vectored(),
            WsIo::Upgraded(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(s) => Pin::new(s).poll_flush(cx),
            WsIo::Upgraded(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            WsIo::Upgraded(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
