//! `tessera serve` as a process: started on a free port, its log in a file, its admin
//! token (on a first start) in a file beside the data dir; stopped by SIGTERM as an
//! operator would, or killed by SIGKILL as a crash would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `tessera serve`.
pub struct Tessera {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Drop for Tessera {
    /// A test that fails half-way still leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tessera {
    /// Starts `binary serve` on `data_dir` (or with `--database-url` in `args`) and
    /// waits until it listens. On a first start the admin token goes to
    /// `admin_token_file(data_dir)`.
    pub fn start(binary: &str, data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let log = data_dir.with_extension(format!("{}.log", std::process::id()));
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TESSERA_DATA_DIR", data_dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--admin-token-file"])
            .arg(admin_token_file(data_dir))
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"));
        for (name, value) in envs {
            command.env(name, value);
        }
        let child = command.spawn().expect("tessera starts");
        let mut started = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&started.log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains("tessera is listening")) {
                let addr = line.rsplit("addr=").next().unwrap_or_default().trim();
                started.addr = addr.parse().expect("the address it listens on");
                return started;
            }
            if let Ok(Some(status)) = started.child.try_wait() {
                panic!("tessera exited with {status}:\n{text}");
            }
            assert!(Instant::now() < deadline, "tessera did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it at once (SIGKILL), as a crash or a power cut would end it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a first start on `data_dir` writes the admin token.
pub fn admin_token_file(data_dir: &Path) -> PathBuf {
    data_dir.with_extension("admin-token")
}

/// The admin token a first start on `data_dir` wrote.
pub fn admin_token(data_dir: &Path) -> String {
    let file = admin_token_file(data_dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let token = std::fs::read_to_string(&file).unwrap_or_default();
        if token.ends_with('\n') {
            return token.trim().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no admin token in {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
