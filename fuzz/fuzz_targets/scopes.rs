//! Scope grammars: the patterns a token is granted (`category:*`, `*`), the scopes
//! a check requires, and a catalogue a config may declare. Whatever compiles must
//! read back as the same set from its own names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::scope::{Level, ScopeCatalogue};

fuzz_target!(|input: (Vec<String>, Vec<(String, u8)>)| {
    let (patterns, declared) = input;
    let levels = [Level::Read, Level::Write, Level::Admin];
    let custom = ScopeCatalogue::new(
        declared
            .into_iter()
            .map(|(name, level)| (name, levels[usize::from(level) % 3])),
    );
    for catalogue in [Ok(ScopeCatalogue::default_catalogue()), custom] {
        let Ok(catalogue) = catalogue else { continue };
        if let Ok(granted) = catalogue.compile(&patterns) {
            let names: Vec<String> = catalogue
                .names_in(&granted)
                .into_iter()
                .map(str::to_owned)
                .collect();
            assert!(catalogue.compile(&names).unwrap() == granted);
        }
        if let Ok(required) = catalogue.compile_required(&patterns) {
            assert!(catalogue.everything().contains_all(&required));
        }
    }
});
