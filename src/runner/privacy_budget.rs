//! The differentially private part of a run: the noise key, the spending of its `noise`
//! columns (sequential composition), and the reservation in the budget ledger.

use crate::dp::ledger::{self, LedgerError, Request, Reservation};
use crate::dp::mechanism::Calibrated;
use crate::job::Job;
use crate::job::config::Mechanism;
use crate::plan::Plan;
use crate::transform::Kernel;

pub use crate::record::DpSummary;

/// The key of the run's noise generators: from the seed (reproducible, not private) or from
/// the operating system.
pub fn noise_master(seed: Option<u64>, job_blake3: &str) -> Result<[u8; 32], super::RunError> {
    match seed {
        Some(seed) => {
            let mut material = seed.to_le_bytes().to_vec();
            material.extend_from_slice(job_blake3.as_bytes());
            Ok(blake3::derive_key("anonymize noise seed v1", &material))
        }
        None => {
            use rand::TryRng;
            let mut bytes = [0u8; 32];
            rand::rngs::SysRng
                .try_fill_bytes(&mut bytes)
                .map_err(|_| super::RunError::Internal("the operating system's random generator failed".into()))?;
            Ok(bytes)
        }
    }
}

/// The noise columns of a plan.
pub fn noise_columns(plan: &Plan) -> Vec<Calibrated> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.output {
            Some((Kernel::Noise { calibrated, .. }, _)) => Some((**calibrated).clone()),
            _ => None,
        })
        .collect()
}

/// Composes the columns and reserves the spending (unless `dry_run`, which only reads what
/// is left). `None` without noise columns.
///
/// # Errors
/// [`LedgerError`] when the budget is exhausted or the ledger unusable.
pub fn reserve(
    job: &Job,
    plan: &Plan,
    run_id: &str,
    seeded: bool,
    dry_run: bool,
) -> Result<Option<(DpSummary, Option<Reservation>)>, LedgerError> {
    let columns = noise_columns(plan);
    let Some(budget) = job.privacy.budget.as_ref().filter(|_| !columns.is_empty() || !job.aggregates.is_empty()) else {
        return Ok(None);
    };
    // Sequential composition over the noise columns and the aggregate releases.
    let epsilon: f64 =
        columns.iter().map(|c| c.epsilon).sum::<f64>() + job.aggregates.iter().map(|a| a.epsilon.get()).sum::<f64>();
    let delta: f64 = columns.iter().map(|c| c.delta).sum::<f64>()
        + job.aggregates.iter().map(|a| a.delta.map_or(0.0, |d| d.get())).sum::<f64>();
    let gaussian: Vec<&Calibrated> = columns.iter().filter(|c| c.mechanism == Mechanism::Gaussian).collect();
    let (gaussian_rho, gaussian_epsilon_from_rho) = if gaussian.is_empty() {
        (None, None)
    } else {
        let rho: f64 = gaussian.iter().filter_map(|c| c.rho).sum();
        let d: f64 = gaussian.iter().map(|c| c.delta).sum();
        (Some(rho), Some(rho + 2.0 * (rho * (1.0 / d).ln()).sqrt()))
    };
    let request = Request {
        dataset: &budget.dataset,
        total_epsilon: budget.epsilon.get(),
        total_delta: budget.delta.get(),
        epsilon,
        delta,
        run_id,
        job: &job.name,
        seeded,
    };
    let (reservation, left) = if dry_run {
        let file = ledger::read(&budget.ledger)?;
        let left = file.datasets.get(&budget.dataset).map_or((budget.epsilon.get(), budget.delta.get()), |b| b.left());
        (None, ((left.0 - epsilon).max(0.0), (left.1 - delta).max(0.0)))
    } else {
        let reservation = ledger::reserve(&budget.ledger, &request)?;
        let left = reservation.left;
        (Some(reservation), left)
    };
    let summary = DpSummary {
        columns,
        epsilon,
        delta,
        gaussian_rho,
        gaussian_epsilon_from_rho,
        ledger: budget.ledger.display().to_string(),
        dataset: budget.dataset.clone(),
        epsilon_left: left.0,
        delta_left: left.1,
        epsilon_total: budget.epsilon.get(),
        delta_total: budget.delta.get(),
        seeded,
        releases: Vec::new(),
        planned: dry_run,
    };
    Ok(Some((summary, reservation)))
}
