//! `tessera backup` and `tessera restore`, for the embedded SQLite store.
//!
//! A backup is the database alone, copied with SQLite's online backup while the server
//! runs (it takes no lock: the copy is consistent as of one moment). The pepper is
//! not in it, on purpose: the database holds only keyed hashes of the tokens, and
//! without the pepper they verify nothing, so a backup that leaks without the
//! pepper gives no token away. Keep the pepper (the data dir's `pepper` file, or
//! the configured `pepper`) apart, in a secret store; a restore needs both.

use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use tessera_core::token::Pepper;
use tessera_store::{SqliteStore, TokenStore};

use crate::app::{DataDir, StartError};

/// What a restore brought back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restored {
    pub tokens: usize,
    pub revoked: usize,
}

/// Copies the store of `data_dir` to `to`, a new file (mode 0600), while the server
/// may run.
pub fn backup(data_dir: &Path, to: &Path) -> Result<(), StartError> {
    let database = DataDir::database_in(data_dir);
    if !database.exists() {
        return Err(StartError::Refused(format!(
            "{} holds no tessera database: give the data dir of a deployment (--data-dir)",
            data_dir.display()
        )));
    }
    // Made here first, so the copy is private from its first byte, and never
    // written over an existing file.
    OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(to)
        .map_err(|source| StartError::Io {
            context: format!("cannot create {} (it must not exist yet)", to.display()),
            source,
        })?;
    tessera_store::copy_database(&database, to).map_err(|error| {
        let _ = std::fs::remove_file(to);
        StartError::Refused(format!(
            "the backup failed: {}",
            tessera_store::with_causes(&error)
        ))
    })
}

/// Where a restore takes the deployment's pepper from.
pub enum PepperSource {
    /// A file given to the restore: kept in the data dir, as a first start keeps its own.
    File(Pepper),
    /// The configuration (`pepper`, `TESSERA_PEPPER`): the data dir gets no copy.
    Configured(Pepper),
}

/// Makes the data dir `data_dir` from the backup `from`, with the deployment's pepper.
/// Refuses a data dir that holds a database already, and a pepper the backup was not
/// made with; a refused restore leaves the data dir without a database.
pub async fn restore(
    from: &Path,
    data_dir: &Path,
    pepper: &PepperSource,
) -> Result<Restored, StartError> {
    let dir = DataDir::open(data_dir)?;
    let database = dir.database();
    let occupied = std::fs::metadata(&database).is_ok_and(|meta| meta.len() > 0);
    if occupied {
        return Err(StartError::Refused(format!(
            "{} holds a database already: restore into a new, empty data dir",
            data_dir.display()
        )));
    }
    let restored = restore_into(&dir, from, pepper).await;
    if restored.is_err() {
        // The pepper file is written last, on success only: nothing else to undo.
        let _ = std::fs::remove_file(dir.database());
    }
    restored
}

async fn restore_into(
    dir: &DataDir,
    from: &Path,
    source: &PepperSource,
) -> Result<Restored, StartError> {
    let (PepperSource::File(pepper) | PepperSource::Configured(pepper)) = source;
    let failed = |what: &str| {
        let what = what.to_owned();
        move |error: tessera_store::StoreError| {
            StartError::Refused(format!("{what}: {}", tessera_store::with_causes(&error)))
        }
    };
    tessera_store::copy_database(from, &dir.database())
        .map_err(failed("cannot read the backup"))?;
    std::fs::set_permissions(dir.database(), std::fs::Permissions::from_mode(0o600)).map_err(
        |source| StartError::Io {
            context: "cannot make the restored database private".into(),
            source,
        },
    )?;
    let store =
        SqliteStore::open(&dir.database()).map_err(failed("cannot open the restored database"))?;
    store
        .check_pepper(&pepper.fingerprint())
        .await
        .map_err(|_| {
            StartError::Refused(
                "the pepper given is not the one the backup was made with: without that pepper, \
             no token in it can be verified; give the deployment's pepper (--pepper-file)"
                    .into(),
            )
        })?;
    let snapshot = store
        .load_all()
        .await
        .map_err(failed("cannot read the restored tokens"))?;
    let revoked = snapshot
        .changes
        .iter()
        .filter(|change| change.record.revoked_at.is_some())
        .count();
    if let PepperSource::File(pepper) = source {
        dir.keep_pepper(pepper)?;
    }
    Ok(Restored {
        tokens: snapshot.changes.len(),
        revoked,
    })
}
