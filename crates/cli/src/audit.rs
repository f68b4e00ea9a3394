//! `tessera audit ...`: read the audit log, export it, and check its hash chain on
//! the server or, for an export, here.
//!
//! Exit codes are those of `tessera token` (see `client`), and 7 when the chain
//! is broken.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use tessera_api::{AuditEntryView, AuditList, AuditParams, AuditVerification};
use tessera_core::audit::{ChainWalk, Head};

use crate::client::{Call, Connection, Failure, Remote, exit_with, failure, print_json, text};

/// The exit code of a broken chain.
const BROKEN: u8 = 7;

#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Show entries, newest first (the admin token: all; a manager: its subtree's).
    List {
        #[command(flatten)]
        filters: Filters,
        /// At most this many (1 to 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// `more: --cursor N` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Write every entry that matches, oldest first, as JSON lines (to keep, or to
    /// check later with `verify --file`).
    Export {
        #[command(flatten)]
        filters: Filters,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check the hash chain: on the server (the admin token), or in an export
    /// (`--file`, no server needed). Names the first entry edited, deleted or moved;
    /// exits 7 when the chain is broken.
    Verify {
        /// A whole export (`tessera audit export`), checked here.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Filters {
    /// Entries by this token (its id).
    #[arg(long, value_name = "ID")]
    actor: Option<String>,
    /// Entries about this token (its id).
    #[arg(long, value_name = "ID")]
    target: Option<String>,
    /// One action, e.g. token.revoked.
    #[arg(long)]
    action: Option<String>,
    /// From this time, RFC 3339.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Until this time, RFC 3339.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
}

impl Filters {
    fn params(self) -> AuditParams {
        AuditParams {
            actor: self.actor,
            target: self.target,
            action: self.action,
            from: self.from,
            to: self.to,
            ..AuditParams::default()
        }
    }
}

pub fn run(args: AuditArgs) -> ExitCode {
    exit_with(execute(args))
}

fn execute(args: AuditArgs) -> Result<(), Failure> {
    if let AuditCommand::Verify { file: Some(path) } = &args.command {
        return verify_file(path);
    }
    let connection = Connection::open(&args.remote)?;
    let call = connection.call();
    match args.command {
        AuditCommand::List {
            filters,
            limit,
            cursor,
        } => {
            let query = AuditParams {
                limit: Some(limit),
                cursor,
                ..filters.params()
            };
            let page: AuditList = call.get_with_query("/v1/audit", &query)?;
            if args.remote.json {
                print_json(&page);
            } else {
                print_table(&page.entries);
                if let Some(next) = &page.next_cursor {
                    println!("\nmore: --cursor {next}");
                }
            }
        }
        AuditCommand::Export { filters, out } => export(&call, filters.params(), out)?,
        AuditCommand::Verify { file: _ } => {
            let report: AuditVerification =
                call.send(Method::GET, "/v1/audit/verify", None::<&()>)?;
            if args.remote.json {
                print_json(&report);
            }
            match &report.broken {
                None => {
                    if !args.remote.json {
                        println!(
                            "intact: {} entries; the newest is #{} with hash {}",
                            report.checked, report.head_seq, report.head_hash
                        );
                    }
                }
                Some(broken) => return Err(failure(BROKEN, broken.detail.clone())),
            }
        }
    }
    Ok(())
}

/// Every page, oldest first, one JSON line per entry.
fn export(call: &Call<'_>, filters: AuditParams, out: Option<PathBuf>) -> Result<(), Failure> {
    let cannot = |error: std::io::Error| failure(1, format!("cannot write the export: {error}"));
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(cannot)?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut cursor = None;
    loop {
        let query = AuditParams {
            order: Some("oldest".into()),
            limit: Some(500),
            cursor,
            ..filters.clone()
        };
        let page: AuditList = call.get_with_query("/v1/audit", &query)?;
        for entry in &page.entries {
            let line = serde_json::to_string(entry)
                .map_err(|e| failure(1, format!("cannot write an entry: {e}")))?;
            writeln!(sink, "{line}").map_err(cannot)?;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    sink.flush().map_err(cannot)
}

/// Checks an export's chain here: every entry's hash and its link to the one
/// before. An export may start anywhere in the chain (filtered by time); then the
/// first entry's link is taken as given.
fn verify_file(path: &PathBuf) -> Result<(), Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| failure(2, format!("--file {}: {e}", path.display())))?;
    let mut walk: Option<ChainWalk> = None;
    let mut checked = 0u64;
    let mut oldest = None;
    let mut newest = Head::default();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| failure(1, format!("cannot read {}: {e}", path.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        let unreadable = |why: String| {
            failure(
                BROKEN,
                format!(
                    "line {} of {} does not read: {why}",
                    number + 1,
                    path.display()
                ),
            )
        };
        let view: AuditEntryView =
            serde_json::from_str(&line).map_err(|e| unreadable(e.to_string()))?;
        let entry = view.to_entry().map_err(unreadable)?;
        oldest.get_or_insert(entry.seq);
        let walk = walk.get_or_insert_with(|| ChainWalk::starting_at(&entry));
        walk.step(&entry)
            .map_err(|broken| failure(BROKEN, broken.to_string()))?;
        checked += 1;
        newest = Head {
            seq: entry.seq,
            hash: entry.hash,
        };
    }
    let Some(oldest) = oldest else {
        return Err(failure(
            BROKEN,
            format!("{} holds no entry", path.display()),
        ));
    };
    println!(
        "intact: {checked} entries, #{oldest} to #{}; the newest has hash {} \
         (compare it with one kept elsewhere: an export can be rewritten whole)",
        newest.seq,
        hex::encode(newest.hash)
    );
    Ok(())
}

fn print_table(entries: &[AuditEntryView]) {
    println!(
        "{:>6}  {:<24}  {:<20}  {:<28}  {:<24}  FROM",
        "SEQ", "AT", "ACTION", "ACTOR", "TARGET"
    );
    for entry in entries {
        let actor = match (&entry.actor.id, &entry.actor.name) {
            (Some(id), Some(name)) => format!("{name} ({id})"),
            (None, name) => text(name.as_deref()),
            (Some(id), None) => id.clone(),
        };
        println!(
            "{:>6}  {:<24}  {:<20}  {:<28}  {:<24}  {}",
            entry.seq,
            entry.at,
            entry.action,
            actor,
            text(entry.target_id.as_deref()),
            text(entry.client_ip.as_deref()),
        );
    }
}
