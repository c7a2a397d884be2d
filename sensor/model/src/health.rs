//! What a component says about itself once built from its validated configuration.
//!
//! Each configuration section's validated form lives beside the component it builds, and its
//! `build()` returns the component together with a [`Health`]: ready, or degraded with the
//! reason (it runs, but some of what farhand promises is off). `farhand --check-config`
//! prints one line per component; a run warns about each degraded one at start.

use std::fmt;

/// Whether a component can do all of its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Built and complete.
    Ready,
    /// Built, but part of its job is off (the detail says which and why).
    Degraded,
}

/// A built component's state, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The component (the config section it comes from): `flow`, `detect`, `verdict`, …
    pub component: &'static str,
    /// Ready or degraded.
    pub status: Status,
    /// What it was built with, or why it is degraded: one line.
    pub detail: String,
}

impl Health {
    /// A ready component.
    pub fn ready(component: &'static str, detail: impl Into<String>) -> Health {
        Health { component, status: Status::Ready, detail: detail.into() }
    }

    /// A degraded component.
    pub fn degraded(component: &'static str, detail: impl Into<String>) -> Health {
        Health { component, status: Status::Degraded, detail: detail.into() }
    }

    /// Whether the component is degraded.
    pub fn is_degraded(&self) -> bool {
        self.status == Status::Degraded
    }
}

impl fmt::Display for Health {
    /// `detect: ready: 18 fingerprints, ...` (one line).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            Status::Ready => "ready",
            Status::Degraded => "degraded",
        };
        write!(f, "{}: {status}: {}", self.component, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_component() {
        assert_eq!(Health::ready("flow", "up to 1024 flows").to_string(), "flow: ready: up to 1024 flows");
        let d = Health::degraded("verdict", "no inside networks");
        assert!(d.is_degraded());
        assert_eq!(d.to_string(), "verdict: degraded: no inside networks");
    }
}
