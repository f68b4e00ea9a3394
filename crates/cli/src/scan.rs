//! `tessera scan PATH...`: finds tessera tokens (the prefix, then a token's shape with
//! a matching checksum) in files, and with `--git` in every commit of a repository's
//! history, and says where, never the whole token. Exits 1 when it found tokens, 0
//! when none, 2 when a path could not be read.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;
use tessera_core::scan::find_tokens;
use tessera_core::token::TokenPrefix;

#[derive(Args)]
pub struct ScanArgs {
    /// Files and folders to read (folders all the way down; `.git` folders are read
    /// only with --git, as history).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Read the git history of each PATH (a repository): every line any commit added,
    /// on every branch, including tokens a later commit removed.
    #[arg(long)]
    git: bool,
    /// The deployment's token prefix.
    #[arg(long, env = "TESSERA_TOKEN_PREFIX", default_value = "tsr")]
    prefix: String,
}

/// Files larger than this are not read: tokens live in config and source files.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

pub fn run(args: ScanArgs) -> ExitCode {
    let prefix = match TokenPrefix::new(&args.prefix) {
        Ok(prefix) => prefix,
        Err(error) => {
            eprintln!("tessera: --prefix: {error}");
            return ExitCode::from(2);
        }
    };
    let mut scan = Scan {
        prefix,
        found: 0,
        failed: false,
    };
    for path in &args.paths {
        if args.git {
            scan.history(path);
        } else {
            scan.path(path);
        }
    }
    eprintln!(
        "tessera: {} token(s) found{}",
        scan.found,
        if scan.failed {
            "; some paths could not be read"
        } else {
            ""
        }
    );
    match (scan.failed, scan.found) {
        (true, _) => ExitCode::from(2),
        (false, 0) => ExitCode::SUCCESS,
        (false, _) => ExitCode::from(1),
    }
}

struct Scan {
    prefix: TokenPrefix,
    found: usize,
    failed: bool,
}

impl Scan {
    fn path(&mut self, path: &Path) {
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) => return self.cannot(path, &error.to_string()),
        };
        if metadata.is_dir() {
            let entries = match std::fs::read_dir(path) {
                Ok(entries) => entries,
                Err(error) => return self.cannot(path, &error.to_string()),
            };
            let mut children: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
            children.sort();
            for child in children {
                if child.file_name().is_some_and(|name| name == ".git") {
                    continue;
                }
                self.path(&child);
            }
        } else if metadata.is_file() && metadata.len() <= MAX_FILE_BYTES {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    for hit in find_tokens(&self.prefix, &text) {
                        println!(
                            "{}:{}:{}: {}…",
                            path.display(),
                            hit.line,
                            hit.column,
                            hit.start
                        );
                        self.found += 1;
                    }
                }
                Err(error) => self.cannot(path, &error.to_string()),
            }
        }
    }

    /// Every line added by any commit of the repository at `path`.
    fn history(&mut self, path: &Path) {
        let output = Command::new("git")
            .arg("-C")
            .arg(path)
            .args([
                "log",
                "--all",
                "-p",
                "--no-color",
                "--no-ext-diff",
                "--format=commit %H",
            ])
            .output();
        let output = match output {
            Ok(output) if output.status.success() => output,
            Ok(output) => {
                let said = String::from_utf8_lossy(&output.stderr);
                return self.cannot(path, said.trim());
            }
            Err(error) => return self.cannot(path, &format!("cannot run git: {error}")),
        };
        let log = String::from_utf8_lossy(&output.stdout);
        let (mut commit, mut file) = ("", "");
        for line in log.lines() {
            if let Some(hash) = line.strip_prefix("commit ") {
                commit = hash;
            } else if let Some(name) = line.strip_prefix("+++ b/") {
                file = name;
            } else if let Some(added) = line.strip_prefix('+')
                && !line.starts_with("+++")
            {
                for hit in find_tokens(&self.prefix, added) {
                    let short = commit.get(..12).unwrap_or(commit);
                    println!("{}: commit {short}: {file}: {}…", path.display(), hit.start);
                    self.found += 1;
                }
            }
        }
    }

    fn cannot(&mut self, path: &Path, why: &str) {
        eprintln!("tessera: cannot read {}: {why}", path.display());
        self.failed = true;
    }
}
