//! An axum app whose routes tessera guards: reading a repository's files needs
//! `repo:read` on `repo:<id>`, writing one `repo:write`. The token each request
//! presents is checked through tessera, with recent answers cached and dropped the
//! moment tessera's change stream names their token.
//!
//! ```sh
//! TESSERA_URL=http://127.0.0.1:8080 TESSERA_TOKEN=<a token with tokens:verify> \
//!     cargo run -p tessera-client --example guarded_app
//! curl -H "Authorization: Bearer <a repo token>" http://127.0.0.1:3000/repos/42/files
//! ```

use axum::extract::{Extension, Path};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use tessera_client::guard::{Guard, GuardSettings, Verified};
use tessera_client::{Client, Error};

/// The app's routes, each behind the guard's rule for it.
pub fn app(guard: &Guard) -> Result<Router, Error> {
    Ok(Router::new()
        .route(
            "/repos/{repo_id}/files",
            get(list_files).route_layer(guard.layer(&["repo:read"], Some("repo:{repo_id}"))?),
        )
        .route(
            "/repos/{repo_id}/files/{name}",
            put(write_file).route_layer(guard.layer(&["repo:write"], Some("repo:{repo_id}"))?),
        )
        .route("/health", get(|| async { "ok" })))
}

async fn list_files(
    Path(repo_id): Path<String>,
    Extension(Verified(token)): Extension<Verified>,
) -> Json<Value> {
    Json(json!({"repo": repo_id, "files": ["README.md"], "token_id": token.token_id}))
}

async fn write_file(
    Path((repo_id, name)): Path<(String, String)>,
    Extension(Verified(token)): Extension<Verified>,
) -> Json<Value> {
    Json(json!({"repo": repo_id, "written": name, "token_id": token.token_id}))
}

#[allow(dead_code, reason = "the tests use app() alone")]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("TESSERA_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("TESSERA_TOKEN")
        .map_err(|_| "set TESSERA_TOKEN to a token with tokens:verify")?;
    let guard = Guard::start(Client::new(&url, token)?, GuardSettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    // With each connection's address: the guard passes it on for tokens bound to
    // networks (`allowed_cidrs`).
    let app = app(&guard)?.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
