//! What the Redis adapter tests (`redis_cluster.rs`, `redis_sharded.rs`) share: a
//! `redis-server` on a free loopback port, and a Node.js cluster member driven line by line
//! (`tests/js/redis_cluster.mjs` or `tests/js/redis_sharded.mjs`).
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common;

/// A port nobody listens on (yet), on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// redis-server

/// A `redis-server` on 127.0.0.1, killed (by PID) when dropped.
pub struct Redis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut r = Redis {
            port: free_port(),
            child: None,
        };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on the same port and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server (7 or later) must be installed (apt-get install redis-server); \
                 .ci/run does it",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command(&[b"PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends one command in RESP and returns the reply's text (None when unreachable).
    pub fn command(&self, args: &[&[u8]]) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        s.write_all(&req).ok()?;
        let mut buf = [0u8; 65536];
        let n = s.read(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).trim_end().to_owned())
    }

    /// `PUBSUB NUMSUB` of the request channel of `/`: how many servers are subscribed.
    pub fn servers(&self) -> usize {
        self.servers_of("/")
    }

    /// `PUBSUB NUMSUB` of the request channel of the namespace `nsp`.
    pub fn servers_of(&self, nsp: &str) -> usize {
        let channel = format!("socket.io-request#{nsp}#");
        self.command(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()])
            .and_then(|r| r.rsplit(':').next().and_then(|n| n.trim().parse().ok()))
            .unwrap_or(0)
    }

    pub fn wait_servers(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.servers() != n {
            assert!(
                Instant::now() < deadline,
                "{} servers subscribed, expected {n}",
                self.servers()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `PUBSUB SHARDNUMSUB` of a channel: how many connections subscribe to it.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.command(&[b"PUBSUB", b"SHARDNUMSUB", channel.as_bytes()])
            .and_then(|r| r.rsplit(':').next().and_then(|n| n.trim().parse().ok()))
            .unwrap_or(0)
    }

    /// Waits until `n` connections subscribe to the shard channel `channel`.
    pub fn wait_subscribers(&self, channel: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.subscribers(channel) != n {
            assert!(
                Instant::now() < deadline,
                "{} subscribers of {channel}, expected {n}",
                self.subscribers(channel)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every shard channel of the default prefix someone subscribes to.
    pub fn shard_channels(&self) -> Vec<String> {
        let reply = self
            .command(&[b"PUBSUB", b"SHARDCHANNELS"])
            .unwrap_or_default();
        reply
            .split("\r\n")
            .filter(|l| l.starts_with("socket.io"))
            .map(str::to_owned)
            .collect()
    }

    pub fn spublish(&self, channel: &str, payload: &[u8]) {
        self.command(&[b"SPUBLISH", channel.as_bytes(), payload])
            .expect("spublish");
    }

    pub fn publish(&self, channel: &str, payload: &[u8]) {
        self.command(&[b"PUBLISH", channel.as_bytes(), payload])
            .expect("publish");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// the Node member (server and clients)

/// A Node.js script of `tests/js/` driven by commands on its stdin (one JSON line each, one
/// JSON answer line); killed (by PID) when dropped.
pub struct Node {
    /// The node process.
    pub child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Node {
    /// Starts `tests/js/<script>` with `config` as its argument and waits for its
    /// `{"ready":true}`.
    pub fn spawn(script: &str, config: Value) -> Node {
        let modules = common::node_modules();
        let mut child = Command::new("node")
            .arg(common::tests_dir().join("js").join(script))
            .arg(config.to_string())
            .env("NODE_PATH", &modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node must be installed");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut node = Node {
            child,
            stdin,
            stdout,
            next: 0,
        };
        assert_eq!(node.line()["ready"], true);
        node
    }

    pub fn line(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read node");
        assert!(!line.is_empty(), "the node script exited");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Runs one command (blocking this worker thread only) and returns its answer.
    pub fn call(&mut self, mut cmd: Value) -> Value {
        self.next += 1;
        cmd["id"] = json!(self.next);
        tokio::task::block_in_place(|| {
            writeln!(self.stdin, "{cmd}").unwrap();
            let answer = self.line();
            assert_eq!(answer["id"], json!(self.next));
            assert!(answer.get("error").is_none(), "{cmd} -> {answer}");
            answer
        })
    }

    /// The events client `name` received (waiting until `count` arrived or `wait_ms` passed).
    pub fn events(&mut self, name: &str, count: usize, wait_ms: u64) -> Vec<Value> {
        let r =
            self.call(json!({"cmd": "events", "name": name, "count": count, "wait_ms": wait_ms}));
        r["events"].as_array().unwrap().clone()
    }

    pub fn client(&mut self, name: &str, port: u16) -> String {
        let url = format!("http://127.0.0.1:{port}");
        self.client_at(name, &url, Value::Null)
    }

    pub fn client_at(&mut self, name: &str, url: &str, auth: Value) -> String {
        let r = self.call(json!({"cmd": "client", "name": name, "url": url, "auth": auth}));
        r["sid"].as_str().unwrap().to_owned()
    }

    pub fn join(&mut self, name: &str, room: &str) {
        self.call(json!({"cmd": "join", "name": name, "room": room}));
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
