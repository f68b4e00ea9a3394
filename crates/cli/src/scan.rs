//! `tessera scan PATH...`: finds tessera tokens (the prefix, then a token's shape with
//! a matching checksum) in files, and with `--git` in every commit of a repository's
//! history, and says where, never the whole token. With `--report URL`, sends what it
//! found to that tessera's `POST /v1/leaks`, which revokes the live ones. Exits 1
//! when it found tokens, 0 when none, 2 when a path could not be read or the report
//! could not be made.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;
use tessera_api::{LeakReport, LeakVerdict};
use tessera_core::scan::{Found, find_tokens};
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
    /// Send what was found to the tessera at this URL (`POST /v1/leaks`), which
    /// revokes every live token among them; acts with TESSERA_TOKEN (tokens:manage).
    #[arg(long, value_name = "URL")]
    report: Option<String>,
    /// The token to report with (tokens:manage).
    #[arg(
        long = "auth",
        env = "TESSERA_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    auth: Option<String>,
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
        found: Vec::new(),
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
        scan.found.len(),
        if scan.failed {
            "; some paths could not be read"
        } else {
            ""
        }
    );
    if let Some(url) = &args.report
        && !scan.found.is_empty()
        && let Err(error) = report(url, args.auth.as_deref(), &scan.found)
    {
        eprintln!("tessera: --report: {error}");
        return ExitCode::from(2);
    }
    match (scan.failed, scan.found.len()) {
        (true, _) => ExitCode::from(2),
        (false, 0) => ExitCode::SUCCESS,
        (false, _) => ExitCode::from(1),
    }
}

/// A token found, kept in memory for `--report` only.
struct Finding {
    token: String,
    start: String,
    place: String,
}

/// Sends the findings to `url`'s `POST /v1/leaks` and prints each label by the
/// token's start (the whole token is never printed).
fn report(url: &str, auth: Option<&str>, found: &[Finding]) -> Result<(), String> {
    let reports: Vec<LeakReport> = found
        .iter()
        .map(|finding| LeakReport {
            token: finding.token.clone(),
            kind: "tessera_token".into(),
            url: Some(finding.place.clone()),
            source: Some("tessera scan".into()),
        })
        .collect();
    let mut request = reqwest::blocking::Client::new()
        .post(format!("{}/v1/leaks", url.trim_end_matches('/')))
        .json(&reports);
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .map_err(|e| format!("{url} does not answer: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let problem: Option<tessera_api::Problem> = response.json().ok();
        return Err(problem.map_or_else(
            || format!("{url} answered {status}"),
            |problem| format!("{} ({})", problem.detail, problem.code),
        ));
    }
    let verdicts: Vec<LeakVerdict> = response
        .json()
        .map_err(|e| format!("{url} answered something that is not a leak verdict list: {e}"))?;
    for (finding, verdict) in found.iter().zip(&verdicts) {
        let meaning = match verdict.label.as_str() {
            "true_positive" => "a live token: reported",
            _ => "not a live token",
        };
        println!("{}: {}…: {meaning}", finding.place, finding.start);
    }
    Ok(())
}

struct Scan {
    prefix: TokenPrefix,
    found: Vec<Finding>,
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
                        let place = format!("{}:{}:{}", path.display(), hit.line, hit.column);
                        println!("{place}: {}…", hit.start);
                        self.note(&text, &hit, place);
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
                    let place = format!("{}: commit {short}: {file}", path.display());
                    println!("{place}: {}…", hit.start);
                    self.note(added, &hit, place);
                }
            }
        }
    }

    /// Keeps a token found in `text` for `--report`.
    fn note(&mut self, text: &str, hit: &Found, place: String) {
        let token = text
            .get(hit.offset..hit.offset + hit.length)
            .unwrap_or_default()
            .to_owned();
        self.found.push(Finding {
            token,
            start: hit.start.clone(),
            place,
        });
    }

    fn cannot(&mut self, path: &Path, why: &str) {
        eprintln!("tessera: cannot read {}: {why}", path.display());
        self.failed = true;
    }
}
