//! The config loader: any TOML text, as `--config` would read it. A config that
//! loads must never carry the pepper into an error's words.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tessera_server::config::{Config, Environment};

struct NoEnvironment;

impl Environment for NoEnvironment {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fuzz_target!(|text: &str| {
    if let Err(error) = Config::parse(text, Path::new("tessera.toml"), &NoEnvironment) {
        let _ = error.to_string();
    }
});
