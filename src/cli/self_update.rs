//! `verun self-update`: the library replaces the binary (`verun::self_update`); this prints
//! what happened.

use crate::cli::SelfUpdateArgs;
use verun::error::Result;
use verun::term::sanitize;

pub(super) fn self_update(a: SelfUpdateArgs) -> Result<u8> {
    if a.allow_downgrade {
        eprintln!(
            "verun: warning: --allow-downgrade: older releases are accepted: rollback protection is off"
        );
    }
    let out = verun::self_update::run(&verun::self_update::Options {
        version: a.version,
        check: a.check,
        allow_downgrade: a.allow_downgrade,
        timeout: a.timeout,
        cacert: a.cacert,
    })?;
    for w in &out.warnings {
        eprintln!("verun: warning: {}", sanitize(w));
    }
    if !a.quiet {
        for n in &out.notes {
            eprintln!("verun: {}", sanitize(n));
        }
    }
    if let Some(line) = &out.stdout {
        println!("{line}");
    }
    Ok(0)
}
