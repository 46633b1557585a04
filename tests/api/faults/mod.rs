//! Faults injected inside the tests, and what the service must still guarantee: no acknowledged
//! write lost, no revoked session revived, no valid session ended, no client left hanging.
//!
//! - `disk`: SQLite on a tmpfs the test fills up, and a read-only data directory (both need
//!   root for `mount`; without it they say so and check nothing, unless `TEST_REQUIRE_MOUNT`
//!   is set — CI sets it and runs as root).
//! - `commit`: a COMMIT refused by a deferred foreign key, on both backends (a regression guard:
//!   both drivers recover from this one; the full disk is what broke SQLite).
//! - `redis`: a private `redis-server` on a free port, killed (restarted empty) or paused.
//! - `postgres`: the database reached through a TCP proxy the test cuts (PostgreSQL runs only).
//! - `tokens`: expired and future-dated tokens are refused, never taken for anonymous.
//! - `keys`: an instance without the keys of the stored reports refuses to start.
//!
//! Each scenario prints what it measured (time to a clean error, time to recovery, writes
//! acknowledged and found) with `eprintln!`; `cargo test -- --nocapture` shows it.

mod commit;
mod disk;
mod keys;
mod postgres;
mod redis;
mod tokens;

use std::{
    net::{SocketAddr, TcpListener},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    task::JoinHandle,
};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `redis-server` of the test's own on a free port, keeping nothing on disk.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let mut redis = Self { port: free_port(), child: None };
        redis.spawn().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers().await {
            // Exited: it could not bind the port (another process took it in between).
            let exited = self.child.as_mut().is_some_and(|c| c.try_wait().is_ok_and(|s| s.is_some()));
            assert!(!exited, "the private redis-server exited (port {} taken?)", self.port);
            assert!(Instant::now() < deadline, "the private redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn answers(&self) -> bool {
        let Ok(mut conn) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let mut buf = [0u8; 7];
        conn.write_all(b"PING\r\n").await.is_ok()
            && conn.read_exact(&mut buf).await.is_ok()
            && &buf == b"+PONG\r\n"
    }

    /// How many clients subscribe to `channel` (0 when it does not answer).
    pub async fn subscribers(&self, channel: &str) -> i64 {
        let Ok(mut conn) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else { return 0 };
        if conn.write_all(format!("PUBSUB NUMSUB {channel}\r\n").as_bytes()).await.is_err() {
            return 0;
        }
        let mut reply = Vec::new();
        let mut buf = [0u8; 256];
        // The reply ends with the count, `:N\r\n`.
        while !(reply.ends_with(b"\r\n") && reply.iter().filter(|b| **b == b'\n').count() >= 4) {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return 0,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&reply);
        text.lines().last().and_then(|l| l.trim().strip_prefix(':')).and_then(|n| n.parse().ok()).unwrap_or(0)
    }

    /// SIGKILL: everything it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// A new, empty server on the same port (a Redis restarted without persistence).
    pub async fn restart_empty(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// SIGSTOP / SIGCONT: it stops answering but keeps its data (a network outage).
    pub fn pause(&self, paused: bool) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let signal = if paused { "-STOP" } else { "-CONT" };
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused server would ignore SIGKILL's siblings; resume it first.
            Command::new("kill").args(["-CONT", &child.id().to_string()]).status().ok();
        }
        self.kill();
    }
}

/// A TCP proxy to `target` that the test can cut (every connection closed, new ones refused)
/// and restore on the same port.
pub struct Proxy {
    pub port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// A proxy in front of the PostgreSQL server of `database_url`, and the same URL through it.
    pub fn in_front_of(database_url: &str) -> (Self, String) {
        use std::net::ToSocketAddrs;
        let rest = database_url.split_once("://").expect("a URL").1;
        let host_port = rest.split(['/', '?']).next().unwrap().rsplit('@').next().unwrap().to_owned();
        let proxy = Self::start(host_port.to_socket_addrs().unwrap().next().unwrap());
        let proxied = database_url.replacen(&host_port, &format!("127.0.0.1:{}", proxy.port), 1);
        (proxy, proxied)
    }

    pub fn start(target: SocketAddr) -> Self {
        let proxy = Self { port: free_port(), target, tasks: Arc::default() };
        proxy.listen();
        proxy
    }

    fn listen(&self) {
        let std_listener = TcpListener::bind(("127.0.0.1", self.port)).expect("proxy port free");
        std_listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        tokio::io::copy_bidirectional(&mut client, &mut server).await.ok();
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// The database becomes unreachable: open connections drop, new ones are refused.
    pub fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// The database is reachable again.
    pub async fn restore(&self) {
        // The aborted listener is closed once its task is dropped; give the runtime a moment.
        for _ in 0..50 {
            if TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.listen();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Whether this process may mount filesystems (the disk tests need it). CI sets
/// `TEST_REQUIRE_MOUNT=1`, so there a missing permission fails instead of checking nothing.
pub fn can_mount() -> bool {
    let ok = try_mount();
    assert!(
        ok || std::env::var("TEST_REQUIRE_MOUNT").is_err(),
        "TEST_REQUIRE_MOUNT is set but this process cannot mount a tmpfs (run as root)"
    );
    ok
}

fn try_mount() -> bool {
    let dir = std::env::temp_dir().join(format!("phunu-mount-probe-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Command::new("umount").arg(&dir).status().ok();
    }
    std::fs::remove_dir(&dir).ok();
    ok
}

/// A mount point of the test's own, unmounted (lazily: the app may still hold files) on drop.
pub struct Mount {
    pub path: std::path::PathBuf,
}

impl Mount {
    /// A tmpfs of `size` (e.g. `"16m"`).
    pub fn tmpfs(size: &str) -> Self {
        let path = std::env::temp_dir().join(format!("phunu-fault-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs");
        Self { path }
    }

    /// A read-only view of `source` (a bind mount remounted read-only: even root cannot write
    /// through it).
    pub fn read_only_view(source: &std::path::Path) -> Self {
        let path = std::env::temp_dir().join(format!("phunu-ro-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        assert!(Command::new("mount").arg("--bind").arg(source).arg(&path).status().unwrap().success());
        // Built before the remount is checked, so a failed remount is unmounted too.
        let view = Self { path };
        let ro = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&view.path).status().unwrap();
        assert!(ro.success(), "remount read-only");
        view
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        Command::new("umount").arg("-l").arg(&self.path).status().ok();
        std::fs::remove_dir_all(&self.path).ok();
    }
}

/// Milliseconds since `start`, for the figures the tests print.
pub fn ms(start: Instant) -> u128 {
    start.elapsed().as_millis()
}
