//! Harness shared by the integration tests: starts an example server on a free loopback port,
//! installs and runs the node clients of `tests/js/` (and, through [`run_child`] and
//! [`Installed`], the other interop clients), and speaks raw HTTP/1.1.
//!
//! `SOCKETIO_NS_TEST_SERVER="node /path/to/server.mjs"` (a command line split on whitespace)
//! replaces the example binary by another server implementing the same contract, for example a
//! reference server written with the official node packages. It gets `PORT` and
//! `SOCKETIO_NS_EXAMPLE` (the example's name) in its environment.
#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

pub mod ws;

/// How long a server may take to accept connections after it was started.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node script may run before it is killed (the scripts have their own, shorter,
/// timeouts; this one catches a script that hangs regardless).
const NODE_TIMEOUT: Duration = Duration::from_secs(20);
/// Read timeout of raw HTTP and WebSocket connections.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// `tests/` at the root of the workspace.
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests")
}

// ---------------------------------------------------------------------------------------------
// node_modules

/// Makes sure `tests/node_modules` holds the packages of `tests/package-lock.json`, running
/// `npm ci` when it does not, and returns its path (see [`npm_install_once`]).
pub fn node_modules() -> PathBuf {
    static INSTALL: Once = Once::new();
    npm_install_once(&INSTALL, &tests_dir())
}

/// Makes sure `<package_dir>/node_modules` holds the packages of
/// `<package_dir>/package-lock.json`, running `npm ci` when it does not, and returns its path.
///
/// The install goes to a staging directory that is then renamed into place (see
/// [`Installed::install`]); inside one process `once` makes the threads wait for the first
/// one. `node_modules/.socketio-ns-lock` keeps a copy of the lockfile it was installed from:
/// a changed lockfile triggers a new install.
pub fn npm_install_once(once: &Once, package_dir: &Path) -> PathBuf {
    let modules = package_dir.join("node_modules");
    let lockfile = package_dir.join("package-lock.json");
    let lock = fs::read(&lockfile).unwrap_or_else(|e| panic!("read {}: {e}", lockfile.display()));
    let installed = Installed {
        target: &modules,
        marker: INSTALLED_MARKER,
        stamp: &lock,
    };
    once.call_once(|| {
        if !installed.is_current() {
            installed.install("npm-ci", |target| npm_ci_into(package_dir, target));
        }
    });
    assert!(
        installed.is_current(),
        "{} is not installed",
        modules.display()
    );
    modules
}

/// The marker file of an npm install: a copy of the `package-lock.json` it was installed from.
const INSTALLED_MARKER: &str = ".socketio-ns-lock";

/// Runs `npm ci` for the package whose `package.json` and `package-lock.json` are in
/// `package_dir`, so that it creates `node_modules` (a directory named so): in `package_dir`
/// itself, or in another directory, which then gets a copy of the manifests.
fn npm_ci_into(package_dir: &Path, node_modules: &Path) {
    let dir = node_modules.parent().expect("the parent of node_modules");
    if dir != package_dir {
        fs::create_dir_all(dir).expect("create the npm staging directory");
        for file in ["package.json", "package-lock.json"] {
            fs::copy(package_dir.join(file), dir.join(file)).expect("copy the npm manifest");
        }
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run `npm ci` (is node installed?): {e}"));
    assert!(
        status.success(),
        "`npm ci` in {} failed: {status}",
        dir.display()
    );
}

/// A directory built once (a `node_modules`, a virtualenv) holding a marker file with a copy
/// of what it was built from (a lockfile, a requirements file): it is current while the marker
/// matches, and a changed source makes it stale.
#[derive(Debug)]
pub struct Installed<'a> {
    /// Where it lives.
    pub target: &'a Path,
    /// The name of the marker file inside `target`.
    pub marker: &'a str,
    /// What the marker must hold.
    pub stamp: &'a [u8],
}

impl Installed<'_> {
    /// Whether `target` holds a marker with [`Installed::stamp`].
    pub fn is_current(&self) -> bool {
        fs::read(self.target.join(self.marker)).is_ok_and(|marker| marker == self.stamp)
    }

    /// Builds the directory with `build` (which creates the directory it is given) in a
    /// staging directory (`<CARGO_TARGET_TMPDIR>/<prefix>-<pid>-<nanos>`), writes the marker,
    /// then renames it into place, so that test processes running at the same time (nextest
    /// runs one per test) never see a half-built one. A stale `target` is moved out of the way
    /// first; when the rename fails and no concurrent process installed it meanwhile (e.g. the
    /// target directory is on another filesystem), it is built in place.
    pub fn install(&self, prefix: &str, build: impl Fn(&Path)) {
        let unique = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let staging = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique);
        fs::create_dir_all(&staging).expect("create the staging directory");
        let staged = staging.join(self.target.file_name().expect("a directory name"));
        build(&staged);
        fs::write(staged.join(self.marker), self.stamp).unwrap();
        if self.target.exists() && !self.is_current() {
            // One built from another source, or broken: move it out of the way.
            let _ = fs::rename(self.target, staging.join("stale"));
        }
        if fs::rename(&staged, self.target).is_err() && !self.is_current() {
            // Neither installed by a concurrent process nor renamable: build in place.
            let _ = fs::remove_dir_all(self.target);
            build(self.target);
            fs::write(self.target.join(self.marker), self.stamp).unwrap();
        }
        let _ = fs::remove_dir_all(&staging);
    }
}

// ---------------------------------------------------------------------------------------------
// Servers

/// An example server (or the override of `SOCKETIO_NS_TEST_SERVER`) listening on 127.0.0.1,
/// killed when dropped. Its output goes to a log file, printed when the test fails.
#[derive(Debug)]
pub struct ExampleServer {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    log: PathBuf,
}

impl ExampleServer {
    /// Starts `examples/<example>.rs`, built by `cargo test` next to the test binary.
    pub fn spawn(example: &str) -> ExampleServer {
        Self::spawn_with_env(example, &[])
    }

    /// Like [`ExampleServer::spawn`], with more environment variables for the server.
    pub fn spawn_with_env(example: &str, env: &[(&str, &str)]) -> ExampleServer {
        let command = match std::env::var("SOCKETIO_NS_TEST_SERVER") {
            Ok(line) if !line.trim().is_empty() => {
                let mut words = line.split_whitespace();
                let mut command = Command::new(words.next().unwrap());
                command.args(words);
                command
            }
            _ => Command::new(example_path(example)),
        };
        Self::spawn_command(command, example, env)
    }

    /// A node server of `tests/js/` (`script`), with the official packages of `tests/`:
    /// a reference for the example `example` (its name in the log file's).
    pub fn spawn_node(script: &str, example: &str) -> ExampleServer {
        let dir = tests_dir();
        node_modules();
        let mut command = Command::new("node");
        command.arg(dir.join("js").join(script)).current_dir(&dir);
        Self::spawn_command(command, &format!("{example}-node"), &[])
    }

    fn spawn_command(mut command: Command, example: &str, env: &[(&str, &str)]) -> ExampleServer {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "socketio-ns-{example}-{}-{port}.log",
            std::process::id()
        ));
        let out = fs::File::create(&log).expect("create the server log");
        let err = out.try_clone().unwrap();
        command
            .env("PORT", port.to_string())
            .env("SOCKETIO_NS_EXAMPLE", example)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let mut server = ExampleServer { child, port, log };
        server.wait_listening();
        server
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `127.0.0.1:<port>`
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Sends SIGTERM, as a process manager stopping the server does, and waits up to
    /// `within` for it to exit; `None` when it did not (it is killed on drop).
    #[allow(dead_code)]
    pub fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        wait_with_timeout(&mut self.child, within)
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the server exited before listening ({status}):\n{}",
                    self.log_text()
                );
            }
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the server did not listen on port {} within {SERVER_START_TIMEOUT:?}:\n{}",
                    self.port,
                    self.log_text()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server printed so far (stdout and stderr).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "---- server log ({}) ----\n{}",
                self.log.display(),
                self.log_text()
            );
        }
        let _ = fs::remove_file(&self.log);
    }
}

/// A port that was free a moment ago (bound to 127.0.0.1:0, then released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `target/<profile>/examples/<name>`, found from this test binary at
/// `target/<profile>/deps/<test>-<hash>`.
fn example_path(example: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir
        .join("examples")
        .join(format!("{example}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} does not exist: `cargo test` builds examples, but `cargo test --test <name>` alone \
         does not; add `--example {example}`",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------------------------
// node

/// Runs `node tests/js/<script>` with `args` as JSON on its stdin (killed after
/// [`NODE_TIMEOUT`]) and returns the JSON objects it printed, one per line. Panics, with the
/// script's output, when it fails.
pub fn run_node(script: &str, args: Value) -> Vec<Value> {
    node_modules();
    let dir = tests_dir();
    let mut command = Command::new("node");
    command.arg(dir.join("js").join(script)).current_dir(&dir);
    run_child(&mut command, "node (is it installed?)", &args, NODE_TIMEOUT)
        .json_lines(|run| run.describe(&format!("node {script}"), "stderr", None))
}

/// What a program run by [`run_child`] did.
#[derive(Debug)]
pub struct ChildRun {
    /// What it got on stdin.
    pub input: String,
    /// How it exited: `None` when it was killed after [`ChildRun::timeout`].
    pub status: Option<ExitStatus>,
    /// How long it was given.
    pub timeout: Duration,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs `command` (`name` says what it is in the panic when it cannot be started) with `input`
/// as JSON on its stdin, closed after it, and collects its output; kills it after `timeout`.
pub fn run_child(command: &mut Command, name: &str, input: &Value, timeout: Duration) -> ChildRun {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    let input = input.to_string();
    let mut stdin = child.stdin.take().unwrap();
    let writer = {
        let input = input.clone();
        // Dropping stdin at the end of the thread closes it: the program reads to EOF.
        thread::spawn(move || stdin.write_all(input.as_bytes()))
    };
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let status = wait_with_timeout(&mut child, timeout);
    let _ = writer.join();
    ChildRun {
        input,
        status,
        timeout,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

impl ChildRun {
    /// `<program> <<< <input>` then stdout and stderr, for a failure message: at most 2000
    /// characters of the input, and the last `stderr_limit` characters of stderr if given.
    pub fn describe(
        &self,
        program: &str,
        stderr_heading: &str,
        stderr_limit: Option<usize>,
    ) -> String {
        let shown: String = self.input.chars().take(2000).collect();
        let stderr = match stderr_limit {
            Some(limit) => {
                let skip = self.stderr.chars().count().saturating_sub(limit);
                self.stderr.chars().skip(skip).collect()
            }
            None => self.stderr.clone(),
        };
        format!(
            "{program} <<< {shown}\n--- stdout\n{}--- {stderr_heading}\n{stderr}",
            self.stdout
        )
    }

    /// The JSON objects it printed, one per line. Panics with `context` when it was killed,
    /// failed or printed a line that is not JSON.
    pub fn json_lines(&self, context: impl Fn(&ChildRun) -> String) -> Vec<Value> {
        match self.status {
            None => panic!("killed after {:?}: {}", self.timeout, context(self)),
            Some(status) if !status.success() => {
                panic!("exited with {status}: {}", context(self))
            }
            Some(_) => {}
        }
        self.stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("line {line:?} is not JSON ({e}): {}", context(self))
                })
            })
            .collect()
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Waits for `child`; kills it and returns `None` after `timeout`.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// `{"$binary": "<base64>"}`: how the node scripts write binary values.
pub fn binary(bytes: &[u8]) -> Value {
    json!({ "$binary": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

/// `len` deterministic pseudo-random bytes.
pub fn pseudo_random_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// The transports a client is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// HTTP long-polling only.
    Polling,
    /// WebSocket only (no polling at all).
    WebSocket,
    /// Opens with polling, then upgrades to WebSocket.
    Upgrade,
}

impl Mode {
    /// The `transports` option of the clients.
    pub fn transports(self) -> Value {
        match self {
            Mode::Polling => json!(["polling"]),
            Mode::WebSocket => json!(["websocket"]),
            Mode::Upgrade => json!(["polling", "websocket"]),
        }
    }

    /// The transport a connection ends up on.
    pub fn final_transport(self) -> &'static str {
        match self {
            Mode::Polling => "polling",
            Mode::WebSocket | Mode::Upgrade => "websocket",
        }
    }
}

/// Generates `mod $name { fn polling(); fn websocket(); fn upgrade(); }`: three `#[test]`s
/// calling `$name(Mode::...)`. Needs `#[macro_use] mod common;` and `Mode` in scope.
#[allow(unused_macros)]
macro_rules! per_transport {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn polling() {
                super::$name(super::Mode::Polling)
            }
            #[test]
            fn websocket() {
                super::$name(super::Mode::WebSocket)
            }
            #[test]
            fn upgrade() {
                super::$name(super::Mode::Upgrade)
            }
        }
    )*};
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the body is not UTF-8")
    }
}

/// Sends one request (with `Connection: close`) without reading the answer: for requests that
/// stay pending, such as a long-polling GET. Read it later with [`read_response`].
pub fn send_request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> TcpStream {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
        .write_all(&request_head(port, method, target, headers, body.len()))
        .unwrap();
    stream.write_all(body).unwrap();
    stream
}

/// Sends one request and reads the answer.
pub fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    read_response(send_request(port, method, target, headers, body))
}

/// Opens an Engine.IO v4 long-polling session under `path` (`/socket.io/`) and returns its
/// sid.
pub fn polling_sid(port: u16, path: &str) -> String {
    let response = request(
        port,
        "GET",
        &format!("{path}?EIO=4&transport=polling"),
        &[],
        b"",
    );
    assert_eq!(response.status, 200, "{response:?}");
    let handshake: Value = serde_json::from_str(&response.text()[1..]).unwrap();
    handshake["sid"].as_str().unwrap().to_owned()
}

/// The request line and headers.
pub fn request_head(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body_len: usize,
) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if body_len > 0 || method == "POST" {
        head.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    head.into_bytes()
}

/// Reads one response from a connection whose request said `Connection: close`.
pub fn read_response(stream: TcpStream) -> Response {
    try_read_response(stream).unwrap_or_else(|e| panic!("cannot read the response: {e}"))
}

/// Like [`read_response`], but an error when the connection fails (for example is reset)
/// before a complete response arrived.
pub fn try_read_response(stream: TcpStream) -> io::Result<Response> {
    fn bad(what: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, what)
    }
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad(format!("bad chunk size {size:?}")))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            response.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = response.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("bad content-length {len:?}")))?;
        response.body = vec![0; len];
        reader.read_exact(&mut response.body)?;
    } else if status >= 200 && status != 204 && status != 304 {
        // A 1xx (a WebSocket's 101 among them), a 204 and a 304 have no body.
        reader.read_to_end(&mut response.body)?;
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Chromium

/// The Chromium binary: `$CHROMIUM`, else `chromium` on the `PATH`.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return path.into();
    }
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "chromium is not installed: `apt-get install -y chromium` (or set CHROMIUM to a \
             Chromium or Chrome binary); the browser tests fail rather than skip without it"
        )
    })
}
