//! A running tessera for the tests, and the admin's client.

use std::sync::Arc;

use tessera_api::CreateTokenRequest;
use tessera_client::Client;
use tessera_server::{Config, Server};

pub struct Running {
    _server: Server,
    pub admin: Client,
    pub url: String,
    _dir: tempfile::TempDir,
}

pub async fn tessera() -> Running {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("an address"),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    let clock: Arc<dyn tessera_core::clock::Clock> = Arc::new(tessera_core::clock::SystemClock);
    let (server, admin) = Server::start(config, clock).await.expect("tessera starts");
    let admin = admin.expect("a first start makes the admin token");
    let url = format!("http://{}", server.addr);
    Running {
        admin: Client::new(&url, admin.expose()).expect("a client"),
        url,
        _server: server,
        _dir: dir,
    }
}

/// A token request with a name and scopes.
pub fn token(name: &str, scopes: &[&str]) -> CreateTokenRequest {
    CreateTokenRequest {
        name: Some(name.to_owned()),
        scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
        ..CreateTokenRequest::default()
    }
}
