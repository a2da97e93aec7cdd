//! `verun verify FILE`: verify a local file; runs nothing.

use crate::cli::VerifyArgs;
use verun::error::{Error, Result};
use verun::plan::{Plan, Subject};
use verun::verify::{self, Limits};

use super::shared::*;

pub(super) fn verify_file(a: VerifyArgs) -> Result<u8> {
    let plan = Plan::new(Subject::File(a.file.clone()), &a.verify.plan_options())?;
    verun::lock::LockCheck::open(&plan)?; // --lock is for URLs: a usage error here
    let session = Session::open(&plan)?;
    let ring = session.ring(&plan)?;
    let evidence = verify::gather(&plan, &ring, &session.net, Vec::new())?;
    let mut f = std::fs::File::open(&a.file)
        .map_err(|e| Error::io_at(format!("cannot open {}", a.file.display()), &e))?;
    let verified = verify::stream(
        &evidence,
        &mut f,
        std::io::sink(),
        Limits {
            max_size: plan.max_size,
            declared: None,
            url: None,
            origins: &[],
        },
        &mut |_| {},
    )?;
    session.record_use(verified.report());
    report_notes(plan.quiet, verified.report());
    if a.json {
        print_json(verified.report(), None);
    }
    Ok(0)
}
