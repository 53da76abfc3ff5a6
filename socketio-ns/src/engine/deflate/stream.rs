//! [`DeflateStream`]: a WebSocket connection that runs [`Codec`] over the upgraded socket, as a
//! `Stream` of messages and a `Sink` of messages with tungstenite's types and errors, so the
//! engine's connection loop drives it as it drives tungstenite's `WebSocketStream`.
//!
//! As tungstenite does, it answers a ping with a pong and a close with a close, writing what
//! is pending whenever it is polled to read.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{Error, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::codec::Codec;

/// How many bytes one read asks the socket for.
const READ_CHUNK: usize = 4096;
/// Above this many unwritten bytes, `poll_ready` writes before taking more.
const WRITE_HIGH: usize = 16 * 1024;

/// A server-side WebSocket connection with `permessage-deflate`.
#[derive(Debug)]
pub(crate) struct DeflateStream<S> {
    io: S,
    codec: Codec,
    read: BytesMut,
    write: Vec<u8>,
    /// How much of `write` is written.
    written: usize,
    /// The client's close arrived (nothing more is read).
    close_received: bool,
    /// Our close frame is queued (nothing more is sent).
    close_sent: bool,
    /// Nothing more is read: the socket reached its end or failed, or the client broke the
    /// protocol.
    done: bool,
    /// The code our close carries after an error of the client's.
    fault: Option<CloseCode>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> DeflateStream<S> {
    /// A connection on `io`, `read` the bytes already read from it past the upgrade request.
    pub(crate) fn new(io: S, codec: Codec, read: Option<Vec<u8>>) -> Self {
        DeflateStream {
            io,
            codec,
            read: read.map_or_else(BytesMut::new, |r| BytesMut::from(&r[..])),
            write: Vec::new(),
            written: 0,
            close_received: false,
            close_sent: false,
            done: false,
            fault: None,
        }
    }

    fn queue(&mut self, message: Message) {
        if let Message::Close(_) = message {
            self.close_sent = true;
        }
        self.codec.encode(message, &mut self.write);
    }

    /// Writes what is queued (not flushing the socket).
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while self.written < self.write.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.write[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(std::io::ErrorKind::WriteZero.into())));
            }
            self.written += n;
        }
        self.written = 0;
        // An idle connection keeps no write buffer.
        self.write = Vec::new();
        Poll::Ready(Ok(()))
    }

    fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx))?;
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for DeflateStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done || this.close_received {
            return Poll::Ready(None);
        }
        // Pongs and a close queued earlier go out as tungstenite's do: on the next read.
        if this.written < this.write.len()
            && let Poll::Ready(Err(e)) = this.poll_flush_all(cx)
        {
            this.done = true;
            return Poll::Ready(Some(Err(e)));
        }
        loop {
            match this.codec.decode(&mut this.read) {
                Ok(Some(message)) => {
                    match &message {
                        Message::Ping(p) if !this.close_sent => {
                            this.queue(Message::Pong(p.clone()));
                            let _ = this.poll_flush_all(cx);
                        }
                        Message::Close(c) => {
                            this.close_received = true;
                            if !this.close_sent {
                                // Echo the code (RFC 6455 section 5.5.1).
                                let reply = c.as_ref().map(|c| CloseFrame {
                                    code: c.code,
                                    reason: "".into(),
                                });
                                this.queue(Message::Close(reply));
                            }
                        }
                        _ => {}
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(e) => {
                    this.fault = Some(match &e {
                        Error::Capacity(_) => CloseCode::Size,
                        Error::Utf8(_) => CloseCode::Invalid,
                        _ => CloseCode::Protocol,
                    });
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            let len = this.read.len();
            this.read.resize(len + READ_CHUNK, 0);
            let mut buf = ReadBuf::new(&mut this.read[len..]);
            let polled = Pin::new(&mut this.io).poll_read(cx, &mut buf);
            let n = buf.filled().len();
            this.read.truncate(len + n);
            match polled {
                Poll::Pending => {
                    // An idle connection keeps no read buffer.
                    if this.read.is_empty() {
                        this.read = BytesMut::new();
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(Ok(())) if n == 0 => {
                    this.done = true;
                    return Poll::Ready(if this.read.is_empty() {
                        None
                    } else {
                        Some(Err(Error::Protocol(
                            ProtocolError::ResetWithoutClosingHandshake,
                        )))
                    });
                }
                Poll::Ready(Ok(())) => {}
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for DeflateStream<S> {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.write.len() - self.written >= WRITE_HIGH {
            ready!(self.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::Protocol(ProtocolError::SendAfterClosing));
        }
        self.queue(message);
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush_all(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // After a fault of the client's the close says which (1009 for a message too big).
        if !self.close_sent {
            let close = self.fault.map(|code| CloseFrame {
                code,
                reason: "".into(),
            });
            self.queue(Message::Close(close));
        }
        ready!(self.poll_flush_all(cx))?;
        ready!(Pin::new(&mut self.io).poll_shutdown(cx))?;
        Poll::Ready(Ok(()))
    }
}
